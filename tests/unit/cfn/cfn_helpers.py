"""Small templates for the translator's unit tests."""

from __future__ import annotations

from typing import Any

import yaml

from hyperplane_emu import cfn

NET = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1a}
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.2.0/24, AvailabilityZone: us-east-1b}
"""


def load(text: str, **kw: Any) -> cfn.Loaded:
    return cfn.loads(text, "t.yaml", stack_name="t", **kw)


def topology(text: str, **kw: Any) -> dict[str, Any]:
    got = load(text, **kw)
    assert got.ok, [str(i) for i in got.issues]
    return got.translation.topology


def errors(text: str, **kw: Any) -> list[str]:
    got = load(text, **kw)
    assert not got.ok, "expected errors"
    return [str(i) for i in got.issues]


def net(extra: str) -> str:
    """NET plus more resources (indented as under Resources)."""
    return NET + extra


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)
