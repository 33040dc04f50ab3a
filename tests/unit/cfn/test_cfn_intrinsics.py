"""Intrinsic functions, parameters, pseudo parameters, conditions, mappings, cycles."""

from __future__ import annotations

from typing import Any

import pytest
from cfn_helpers import NET, errors, load, topology

from hyperplane_emu.cfn.intrinsics import CfnError, Stack, find_cycle, references
from hyperplane_emu.cfn.tokens import Tokens


def stack(**kw: Any) -> Stack:
    defaults: dict[str, Any] = dict(
        tokens=Tokens("s", "eu-west-1", "111122223333"),
        region="eu-west-1",
        account="111122223333",
        stack_name="s",
        parameters={"P": "x", "L": ["a", "b"]},
        resources={},
        excluded={},
        mappings={"M": {"k": {"v": "found"}}},
        condition_defs={
            "Yes": {"Fn::Equals": ["a", "a"]},
            "No": {"Fn::Not": [{"Condition": "Yes"}]},
            "Both": {"Fn::And": [{"Condition": "Yes"}, {"Condition": "No"}]},
            "Either": {"Fn::Or": [{"Condition": "Yes"}, {"Condition": "No"}]},
            "Loop": {"Condition": "Loop"},
        },
    )
    defaults.update(kw)
    return Stack(**defaults)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "P"}, "x"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::AccountId"}, "111122223333"),
        ({"Ref": "AWS::StackName"}, "s"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Fn::Sub": "${AWS::Region}-${P}-${!Literal}"}, "eu-west-1-x-${Literal}"),
        ({"Fn::Sub": ["${A}/${P}", {"A": {"Ref": "AWS::AccountId"}}]}, "111122223333/x"),
        ({"Fn::Join": ["-", ["a", {"Ref": "P"}, 3]]}, "a-x-3"),
        ({"Fn::Join": [",", {"Ref": "L"}]}, "a,b"),
        ({"Fn::Select": ["1", {"Ref": "L"}]}, "b"),
        ({"Fn::Split": [",", "a,b,c"]}, ["a", "b", "c"]),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::Select": [5, {"Fn::GetAZs": "us-east-1"}]}, "us-east-1f"),
        ({"Fn::If": ["Yes", "then", "else"]}, "then"),
        ({"Fn::If": ["No", "then", "else"]}, "else"),
        ({"Fn::If": ["Both", 1, 2]}, 2),
        ({"Fn::If": ["Either", 1, 2]}, 1),
        ({"Fn::FindInMap": ["M", "k", "v"]}, "found"),
        ({"Fn::FindInMap": ["M", {"Ref": "P"} if False else "k", "v"]}, "found"),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
        ({"Fn::Length": [1, 2, 3]}, 3),
        ({"Fn::ToJsonString": {"a": [1]}}, '{"a":[1]}'),
        ({"k": {"Ref": "AWS::NoValue"}, "j": 1}, {"j": 1}),
        ([1, {"Fn::If": ["No", 2, {"Ref": "AWS::NoValue"}]}, 3], [1, 3]),
    ],
)
def test_values(value: Any, expected: Any) -> None:
    assert stack().eval(value, "X") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nope"}, "X: Ref to unknown resource 'Nope'"),
        ({"Fn::GetAtt": ["Nope", "Arn"]}, "X.Fn::GetAtt: Fn::GetAtt of unknown resource 'Nope'"),
        ({"Fn::Select": [3, ["a"]]}, "X.Fn::Select[0]: Fn::Select index 3 is out of range"),
        ({"Fn::Select": ["x", ["a"]]}, "index must be a number"),
        ({"Fn::FindInMap": ["M", "k", "w"]}, "X.Fn::FindInMap[2]: Mappings.M.k has no key 'w'"),
        ({"Fn::ImportValue": "shared"}, "needs another stack's export"),
        ({"Fn::If": ["Unknown", 1, 2]}, "unknown condition 'Unknown'"),
        ({"Fn::If": ["Loop", 1, 2]}, "refers to itself"),
        ({"Fn::Join": [",", [{"a": 1}]]}, "Fn::Join joins strings"),
        ({"Fn::Nope": 1}, "unknown intrinsic function Fn::Nope"),
        ({"Fn::Cidr": ["10.0.0.0/30", 4, 8]}, "Fn::Cidr cannot cut"),
        ({"Ref": "AWS::Nope"}, "unknown pseudo parameter"),
        ({"Fn::Sub": "${Nope.Attr}"}, "Fn::GetAtt of unknown resource 'Nope'"),
    ],
)
def test_errors_name_the_path(value: Any, message: str) -> None:
    with pytest.raises(CfnError) as e:
        stack().eval(value, "X")
    assert message in str(e.value)


def test_the_branch_not_taken_is_not_evaluated() -> None:
    # As on AWS: a Ref to a resource that is not created is fine in the other branch.
    assert stack().eval({"Fn::If": ["Yes", "ok", {"Ref": "Gone"}]}, "X") == "ok"


def test_references_are_found_without_evaluating() -> None:
    value = {
        "a": [{"Ref": "A"}, {"Fn::GetAtt": "B.Arn"}, {"Fn::GetAtt": ["C", "X"]}],
        "s": {"Fn::Sub": ["${D}-${E.Attr}-${!F}-${V}-${AWS::Region}", {"V": {"Ref": "G"}}]},
    }
    assert references(value) == {"A", "B", "C", "D", "E", "G", "AWS::Region"}


def test_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_parameters_defaults_and_overrides() -> None:
    text = """
Parameters:
  Cidr: {Type: String, Default: 10.0.0.0/16}
  Azs: {Type: "List<AWS::EC2::AvailabilityZone::Name>", Default: "us-east-1a,us-east-1b"}
  Env: {Type: String, Default: prod, AllowedValues: [prod, test]}
  Ami: {Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /aws/ami}
Conditions:
  IsTest: !Equals [!Ref Env, test]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref Cidr}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 2, 8]]
      AvailabilityZone: !If [IsTest, !Select [1, !Ref Azs], !Select [0, !Ref Azs]]
"""
    t = topology(text)
    assert t["vpcs"]["vpc"]["cidr"] == "10.0.0.0/16"
    assert t["vpcs"]["vpc"]["subnets"]["subnet"] == {"cidr": "10.0.0.0/24", "az": "us-east-1a"}
    t = topology(text, parameters={"Cidr": "10.9.0.0/16", "Env": "test"})
    assert t["vpcs"]["vpc"]["subnets"]["subnet"] == {"cidr": "10.9.0.0/24", "az": "us-east-1b"}
    assert any("not one of AllowedValues" in e for e in errors(text, parameters={"Env": "staging"}))
    assert any("declares no parameter 'Nope'" in e for e in errors(text, parameters={"Nope": "1"}))


def test_pseudo_parameters_can_be_overridden() -> None:
    text = NET.replace("us-east-1a", "${AWS::Region}a").replace(
        "AvailabilityZone: ${AWS::Region}a", "AvailabilityZone: !Sub '${AWS::Region}a'"
    )
    text = text.replace("AvailabilityZone: us-east-1b", "AvailabilityZone: !Sub '${AWS::Region}b'")
    got = load(text, parameters={"AWS::Region": "ap-south-1", "AWS::StackName": "My_Stack"})
    assert got.ok, got.issues
    t = got.translation.topology
    assert t["region"] == "ap-south-1" and t["name"] == "my-stack"
    assert t["vpcs"]["vpc"]["subnets"]["subnet-a"]["az"] == "ap-south-1a"


def test_resources_with_a_false_condition_are_left_out() -> None:
    t = topology(
        NET
        + """
  Extra:
    Type: AWS::EC2::Subnet
    Condition: Never
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.3.0/24}
Conditions:
  Never: !Equals [1, 2]
"""
    )
    assert set(t["vpcs"]["vpc"]["subnets"]) == {"subnet-a", "subnet-b"}


def test_outputs_are_resolved_and_rewritten_with_plan_ids() -> None:
    from hyperplane_emu import cfn, plan

    got = load(
        NET
        + """
Outputs:
  VpcId: {Value: !Ref Vpc}
  Subnets: {Value: !Join [",", [!Ref SubnetA, !Ref SubnetB]]}
  Cidr: {Value: !GetAtt Vpc.CidrBlock}
"""
    )
    assert got.ok and got.topology is not None
    p = plan.build(got.topology)
    out = cfn.outputs_for(got.translation, p)
    assert out["VpcId"] == p.vpcs["vpc"].id
    subnets = p.vpcs["vpc"].subnets
    assert out["Subnets"] == f"{subnets['subnet-a'].id},{subnets['subnet-b'].id}"
    assert out["Cidr"] == "10.0.0.0/16"


def test_template_sections_and_resource_attributes_are_checked() -> None:
    text = "\n".join(
        errors("""
AWSTemplateFormatVersion: "2010-09-09"
Outputz: {}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Propertiez: {CidrBlock: 10.0.0.0/16}
  Sub-net:
    Type: AWS::EC2::Subnet
  NoType:
    Properties: {}
  Late:
    Type: AWS::EC2::VPC
    DependsOn: Nowhere
    Properties: {CidrBlock: 10.1.0.0/16}
""")
    )
    assert "Outputz (line 3): unknown top-level section 'Outputz'" in text
    assert "Resources.Vpc.Propertiez" in text
    assert "logical id 'Sub-net' must be alphanumeric" in text
    assert "Resources.NoType.Type" in text
    assert "Resources.Late.DependsOn (line 14): DependsOn unknown resource 'Nowhere'" in text
    assert errors("Resources: {}\n") == [
        "Resources (line 1): a template needs a Resources mapping with at least one resource"
    ]


def test_transforms() -> None:
    got = load(
        NET.replace(
            'AWSTemplateFormatVersion: "2010-09-09"',
            'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::LanguageExtensions',
        )
    )
    assert got.ok
    assert (
        "transform 'Acme::Macro' is not emulated"
        in errors(
            NET.replace(
                'AWSTemplateFormatVersion: "2010-09-09"',
                'AWSTemplateFormatVersion: "2010-09-09"\nTransform: Acme::Macro',
            )
        )[0]
    )
