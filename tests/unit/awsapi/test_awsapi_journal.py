"""`serve` restarts from its journal with the same ids (no root: the reconciler only plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

from hyperplane_emu.awsapi.journal import Journal, ReplayMismatch, ids_of  # noqa: E402
from hyperplane_emu.awsapi.service import Service  # noqa: E402


def _serve(journal: Path) -> Service:
    svc = Service("aws", "us-east-1", quiet=0.05, journal=journal)
    svc.reset()
    svc.start(warm=False)
    return svc


def _c(svc: Service, name: str) -> Any:
    return boto3.client(name, endpoint_url=svc.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def _build(svc: Service) -> None:
    ec2, elb, apigw = _c(svc, "ec2"), _c(svc, "elbv2"), _c(svc, "apigateway")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.describe_vpcs()  # reads between writes draw from moto's random too
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ec2.describe_subnets()
    sg = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=sub,
                      SecurityGroupIds=[sg])  # fmt: skip
    ec2.describe_instances()
    elb.create_load_balancer(Name="nlb", Type="network", Scheme="internal", Subnets=[sub])
    api = apigw.create_rest_api(name="api", endpointConfiguration={"types": ["PRIVATE"]})
    apigw.get_rest_apis()
    apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="x")
    _c(svc, "apigatewayv2").create_api(Name="h", ProtocolType="HTTP")


def _state(svc: Service) -> dict[str, Any]:
    ec2, elb, apigw = _c(svc, "ec2"), _c(svc, "elbv2"), _c(svc, "apigateway")
    inst = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sorted((s["SubnetId"], s["VpcId"]) for s in ec2.describe_subnets()["Subnets"]),
        "sgs": sorted(g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]),
        "instances": sorted((i["InstanceId"], i["PrivateIpAddress"]) for i in inst),
        "enis": sorted((n["NetworkInterfaceId"], n["PrivateIpAddress"])
                       for n in ec2.describe_network_interfaces()["NetworkInterfaces"]),
        "lbs": sorted(b["LoadBalancerArn"] for b in elb.describe_load_balancers()["LoadBalancers"]),
        "apis": sorted(a["id"] for a in apigw.get_rest_apis()["items"]),
        "resources": sorted(r["id"] for a in apigw.get_rest_apis()["items"]
                            for r in apigw.get_resources(restApiId=a["id"])["items"]),
        "http": sorted(a["ApiId"] for a in _c(svc, "apigatewayv2").get_apis()["Items"]),
    }  # fmt: skip


def test_restart_from_the_journal_gives_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    svc = _serve(path)
    try:
        _build(svc)
        before = _state(svc)
    finally:
        svc.stop()
    assert len(Journal.open(path).entries) == 8  # the mutations only, reads are not kept
    again = _serve(path)
    try:
        assert again.replayed == 8
        assert _state(again) == before
        assert any(lb.split("/")[1] == "net" for lb in before["lbs"])
        # New calls after a restart continue the journal; a third start replays them too.
        _c(again, "ec2").create_vpc(CidrBlock="10.9.0.0/16")
        after = _state(again)
    finally:
        again.stop()
    third = _serve(path)
    try:
        assert third.replayed == 9
        assert _state(third) == after
    finally:
        third.stop()


def test_a_journal_that_no_longer_replays_refuses_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    svc = _serve(path)
    try:
        vpc = _c(svc, "ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    finally:
        svc.stop()
    path.write_text(path.read_text().replace(vpc, "vpc-0000000000000000f"))
    again = Service("aws", "us-east-1", quiet=0.05, journal=path)
    again.reset()
    try:
        with pytest.raises(
            ReplayMismatch, match=r"entry 0 \(ec2:CreateVpc\).*vpc-0000000000000000f"
        ):
            again.start(warm=False)
    finally:
        again.stop()


def test_a_torn_journal_line_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"seq": 0\n')
    with pytest.raises(ReplayMismatch, match=r"journal.jsonl:1: not a journal entry"):
        Journal.open(path)


def test_ids_of_takes_ids_arns_and_addresses_not_request_ids() -> None:
    xml = (b"<r><requestId>abc</requestId><vpcId>vpc-1</vpcId>"
           b"<privateIpAddress>10.0.0.5</privateIpAddress></r>")  # fmt: skip
    assert ids_of(xml) == ["vpcId=vpc-1", "privateIpAddress=10.0.0.5"]
    assert ids_of(b'{"id": "a1", "LoadBalancerArn": "arn:x", "name": "n"}') == [
        "id=a1",
        "LoadBalancerArn=arn:x",
    ]
