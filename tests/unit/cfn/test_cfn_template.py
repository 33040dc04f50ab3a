"""Reading templates: short tags, JSON, detection, lines."""

from __future__ import annotations

import json

import pytest

from hyperplane_emu.cfn.template import TemplateError, is_template, read


def test_short_tags_become_the_long_form() -> None:
    t = read(
        b"""
Resources:
  X:
    Type: AWS::EC2::VPC
    Properties:
      A: !Ref P
      B: !GetAtt Vpc.CidrBlock
      C: !Sub "${AWS::Region}a"
      D: !Join [",", [a, b]]
      E: !Select [0, !GetAZs ""]
      F: !If [Cond, !Ref AWS::NoValue, x]
      G: !FindInMap [M, a, b]
      H: !Split [",", "a,b"]
      I: !ImportValue shared
      J: !GetAtt [Vpc, CidrBlock]
      K: !GetAZs
""",
        "t",
    )
    p = t.body["Resources"]["X"]["Properties"]
    assert p["A"] == {"Ref": "P"}
    assert p["B"] == {"Fn::GetAtt": ["Vpc", "CidrBlock"]}
    assert p["C"] == {"Fn::Sub": "${AWS::Region}a"}
    assert p["D"] == {"Fn::Join": [",", ["a", "b"]]}
    assert p["E"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert p["F"] == {"Fn::If": ["Cond", {"Ref": "AWS::NoValue"}, "x"]}
    assert p["G"] == {"Fn::FindInMap": ["M", "a", "b"]}
    assert p["H"] == {"Fn::Split": [",", "a,b"]}
    assert p["I"] == {"Fn::ImportValue": "shared"}
    assert p["J"] == {"Fn::GetAtt": ["Vpc", "CidrBlock"]}
    assert p["K"] == {"Fn::GetAZs": ""}


def test_lines_are_kept_per_path() -> None:
    t = read(b"Resources:\n  X:\n    Type: AWS::EC2::VPC\n    Properties:\n      L: [a, b]\n", "t")
    assert t.line("Resources.X.Type") == 3
    assert t.line("Resources.X.Properties.L[1]") == 5
    assert t.line("Resources.X.Properties.L[1].Nope") == 5


def test_unquoted_format_version_stays_a_string() -> None:
    t = read(b"AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n", "t")
    assert t.body["AWSTemplateFormatVersion"] == "2010-09-09"


def test_json_templates_read_like_yaml() -> None:
    vpc = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
    body = {"Resources": {"V": vpc}}
    t = read(json.dumps(body, indent=1).encode(), "t.json")
    assert t.body == body
    # JSON that YAML refuses (a tab before a value) goes through the JSON reader.
    tabbed = b'{"Resources":\t{"V": {"Type": "AWS::EC2::VPC"}}}'
    assert read(tabbed, "t").body == {"Resources": {"V": {"Type": "AWS::EC2::VPC"}}}


def test_unknown_tags_and_aliases_are_refused() -> None:
    with pytest.raises(TemplateError, match="unknown tag !Foo"):
        read(b"Resources:\n  X: !Foo bar\n", "t")
    with pytest.raises(TemplateError, match="alias"):
        read(b"a: &x 1\nResources:\n  X: *x\n", "t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'AWSTemplateFormatVersion: "2010-09-09"\nResources: {}\n', True),
        (b"Resources:\n  V: {Type: AWS::EC2::VPC}\n", True),
        (b'{"Resources": {"V": {"Type": "AWS::EC2::VPC"}}}', True),
        (b"name: shop\nregion: us-east-1\nvpcs: {}\n", False),
        (b"Resources:\n  V: {Type: AWS::EC2::VPC}\n  V: {Type: AWS::EC2::VPC}\n", True),
        (b"just: text\n", False),
    ],
)
def test_detection_by_content(text: bytes, expected: bool) -> None:
    assert is_template(text) is expected
