"""Accounts from access keys: cross-account PrivateLink through the API (no root)."""

from __future__ import annotations

from typing import Any

import boto3
import yaml

from hyperplane_emu import plan as planlib
from hyperplane_emu import spec
from hyperplane_emu.awsapi.accounts import DEFAULT_ACCOUNT, account_of
from hyperplane_emu.plan import ids

PROVIDER, CONSUMER = "111111111111", "222222222222"


def _as(service: Any, account: str, name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=service.url,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="test",
    )


def _vpc(ec2: Any, name: str, cidr: str) -> tuple[str, str]:
    vpc = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"), AvailabilityZone="us-east-1a"
    )["Subnet"]["SubnetId"]
    return vpc, subnet


def _cross_account(service: Any, allow: bool = True, accept: bool = False) -> dict[str, str]:
    """The provider's NLB behind an endpoint service; the consumer's endpoint to it."""
    p_ec2, p_elb = _as(service, PROVIDER, "ec2"), _as(service, PROVIDER, "elbv2")
    c_ec2 = _as(service, CONSUMER, "ec2")
    pvpc, psub = _vpc(p_ec2, "provider", "10.1.0.0/16")
    app = p_ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        SubnetId=psub,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "app"}]}],
    )["Instances"][0]
    nlb = p_elb.create_load_balancer(
        Name="orders-nlb", Type="network", Scheme="internal", Subnets=[psub]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = p_elb.create_target_group(
        Name="orders", Protocol="TCP", Port=8080, VpcId=pvpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    p_elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": app["InstanceId"]}])
    p_elb.create_listener(
        LoadBalancerArn=nlb,
        Protocol="TCP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    svc = p_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=accept
    )["ServiceConfiguration"]
    if allow:
        p_ec2.modify_vpc_endpoint_service_permissions(
            ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER}:root"]
        )
    cvpc, csub = _vpc(c_ec2, "consumer", "10.2.0.0/16")
    vpce = c_ec2.create_vpc_endpoint(
        VpcId=cvpc, ServiceName=svc["ServiceName"], VpcEndpointType="Interface", SubnetIds=[csub]
    )["VpcEndpoint"]
    return {
        "provider_vpc": pvpc,
        "consumer_vpc": cvpc,
        "service": svc["ServiceId"],
        "vpce": vpce["VpcEndpointId"],
    }


def test_the_account_is_moto_s_header_else_a_12_digit_access_key_else_the_default() -> None:
    assert account_of({"HTTP_X_MOTO_ACCOUNT_ID": "333333333333"}, PROVIDER) == "333333333333"
    assert account_of({}, PROVIDER) == PROVIDER
    assert account_of({}, "AKIAEXAMPLE") == DEFAULT_ACCOUNT
    assert account_of({}, "12345") == DEFAULT_ACCOUNT


def test_two_access_keys_are_two_accounts_and_privatelink_crosses_them(service: Any) -> None:
    out = _cross_account(service)
    # Each account sees only its own VPCs (moto keeps them apart).
    mine = {v["VpcId"] for v in _as(service, CONSUMER, "ec2").describe_vpcs()["Vpcs"]}
    assert out["consumer_vpc"] in mine and out["provider_vpc"] not in mine
    ex = service.export()
    doc = ex.doc
    assert doc["accounts"] == {"customer": PROVIDER, f"a{CONSUMER}": CONSUMER}
    assert "account" not in doc["vpcs"]["provider"]  # customer, the default
    assert doc["vpcs"]["consumer"]["account"] == f"a{CONSUMER}"
    [(svc_name, svc)] = doc["vpcs"]["provider"]["endpoint_services"].items()
    assert svc["allowed_principals"] == [f"arn:aws:iam::{CONSUMER}:root"]
    assert svc["acceptance_required"] is False
    [endpoint] = doc["vpcs"]["consumer"]["endpoints"].values()
    assert endpoint["service"] == f"provider/{svc_name}"
    checked = spec.validate_text(yaml.safe_dump(doc, sort_keys=False))
    assert checked.ok, [f"{i.path}: {i.message}" for i in checked.issues]
    with ids.overrides(ex.overrides):
        p = planlib.build(checked.topology)
    assert any(e.id == out["vpce"] for e in p.endpoints.values())
    # The provider's view of the connection names the consumer as the endpoint's owner.
    conns = _as(service, PROVIDER, "ec2").describe_vpc_endpoint_connections()
    [conn] = conns["VpcEndpointConnections"]
    assert conn["VpcEndpointOwner"] == CONSUMER and conn["VpcEndpointState"] == "available"
    # ... and only the provider's: the consumer owns no service.
    mine = _as(service, CONSUMER, "ec2").describe_vpc_endpoint_connections()
    assert mine["VpcEndpointConnections"] == []


def test_an_endpoint_the_provider_did_not_allow_is_refused_naming_the_account(
    service: Any,
) -> None:
    import botocore.exceptions
    import pytest

    with pytest.raises(botocore.exceptions.ClientError) as e:
        _cross_account(service, allow=False)
    assert CONSUMER in str(e.value)
    # The refused endpoint is undone (moto keeps it as deleted) and not exported.
    left = _as(service, CONSUMER, "ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert [e["State"].lower() for e in left] == ["deleted"]
    assert "endpoints" not in service.export().doc["vpcs"]["consumer"]


def test_a_restart_replays_every_account_with_the_same_ids_and_names(tmp_path: Any) -> None:
    from hyperplane_emu.awsapi.service import Service

    def serve() -> Service:
        svc = Service("aws", "us-east-1", quiet=0.05, journal=tmp_path / "journal.jsonl")
        svc.reset()
        svc.start(warm=False)
        return svc

    svc = serve()
    try:
        # A read first in an account: moto builds its backends then (drawing ids), which
        # a replay, holding only the mutations, must give the same ids for.
        _as(svc, CONSUMER, "ec2").describe_vpcs()
        _cross_account(svc)
        before = svc.export()
    finally:
        svc.stop()
    again = serve()
    try:
        after = again.export()
        assert after.doc == before.doc and after.overrides == before.overrides
        assert after.doc["accounts"] == {"customer": PROVIDER, f"a{CONSUMER}": CONSUMER}
    finally:
        again.stop()


def test_the_provider_accepts_the_consumer_s_pending_endpoint_the_consumer_cannot(
    service: Any,
) -> None:
    out = _cross_account(service, accept=True)
    c_ec2, p_ec2 = _as(service, CONSUMER, "ec2"), _as(service, PROVIDER, "ec2")

    def state() -> str:
        found = c_ec2.describe_vpc_endpoints(VpcEndpointIds=[out["vpce"]])["VpcEndpoints"]
        return str(found[0]["State"])

    assert state() == "pendingAcceptance"
    own = c_ec2.accept_vpc_endpoint_connections(
        ServiceId=out["service"], VpcEndpointIds=[out["vpce"]]
    )
    assert own["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"
    assert state() == "pendingAcceptance"
    ok = p_ec2.accept_vpc_endpoint_connections(
        ServiceId=out["service"], VpcEndpointIds=[out["vpce"]]
    )
    assert ok["Unsuccessful"] == []
    assert state() == "available"
