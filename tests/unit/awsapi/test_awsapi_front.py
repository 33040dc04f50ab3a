"""The front through real boto3 calls: kept fields, local operations, rewrites, errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def _vpc(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")[
        "Subnet"
    ]["SubnetId"]
    return vpc, sub


def _nlb(client: Any, sub: str) -> str:
    return str(
        client("elbv2").create_load_balancer(
            Name="orders-nlb", Type="network", Scheme="internal", Subnets=[sub]
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )


def test_put_integration_keeps_connection_id_and_integration_target(client: Any) -> None:
    ag = client("apigateway")
    api = ag.create_rest_api(name="orders")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    target = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/x/0123"
    put = ag.put_integration(
        restApiId=api,
        resourceId=root,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri="http://x/",
        connectionType="VPC_LINK",
        connectionId="abc123",
        integrationTarget=target,
    )
    got = ag.get_integration(restApiId=api, resourceId=root, httpMethod="GET")
    for answer in (put, got):
        assert answer["connectionId"] == "abc123"
        assert answer["integrationTarget"] == target


def test_network_load_balancer_arns_say_net_and_are_accepted_back(client: Any) -> None:
    _, sub = _vpc(client("ec2"))
    arn = _nlb(client, sub)
    assert ":loadbalancer/net/orders-nlb/" in arn
    elbv2 = client("elbv2")
    described = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    assert described[0]["LoadBalancerArn"] == arn


def test_endpoint_connections_pending_until_accepted(client: Any) -> None:
    ec2 = client("ec2")
    vpc, sub = _vpc(ec2)
    nlb = _nlb(client, sub)
    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True
    )["ServiceConfiguration"]
    ep = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"], SubnetIds=[sub]
    )["VpcEndpoint"]
    assert ep["State"] == "pendingAcceptance"
    conns = ec2.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert [(c["VpcEndpointId"], c["VpcEndpointState"]) for c in conns] == [
        (ep["VpcEndpointId"], "pendingAcceptance")
    ]
    answer = ec2.accept_vpc_endpoint_connections(
        ServiceId=svc["ServiceId"], VpcEndpointIds=[ep["VpcEndpointId"]]
    )
    assert answer["Unsuccessful"] == []
    assert (
        ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["State"]
        == "available"
    )
    again = ec2.accept_vpc_endpoint_connections(
        ServiceId=svc["ServiceId"], VpcEndpointIds=[ep["VpcEndpointId"]]
    )
    assert again["Unsuccessful"][0]["Error"]["Code"] == "InvalidState"
    filtered = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}]
    )
    assert filtered["VpcEndpointConnections"] == []


def test_reject_of_an_unknown_endpoint_is_unsuccessful_not_an_exception(client: Any) -> None:
    answer = client("ec2").reject_vpc_endpoint_connections(
        ServiceId="vpce-svc-0123", VpcEndpointIds=["vpce-0nothing"]
    )
    assert answer["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"


def test_an_operation_moto_lacks_is_not_implemented_by_name(client: Any) -> None:
    with pytest.raises(ClientError) as e:
        client("ec2").create_transit_gateway()
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "CreateTransitGateway" in e.value.response["Error"]["Message"]


def test_a_service_we_do_not_serve_is_not_implemented(service: Any) -> None:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=service.url, region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        sqs.list_queues()
    assert e.value.response["Error"]["Code"] == "NotImplemented"


def test_cloud_map_calls_work_in_both_wire_forms(client: Any) -> None:
    sd = client("servicediscovery")
    sd.create_http_namespace(Name="internal")
    assert [n["Name"] for n in sd.list_namespaces()["Namespaces"]] == ["internal"]


def test_mutations_wake_the_reconciler_and_reads_do_not(service: Any, client: Any) -> None:
    ec2 = client("ec2")
    ec2.describe_vpcs()
    assert service.reconciler.wait_settled(5) is None or service.reconciler.last is None
    _vpc(ec2)
    outcome = service.reconciler.wait_settled(10)
    assert outcome is not None and outcome.action in ("planned", "invalid")


def test_an_endpoint_to_a_service_that_does_not_exist_is_refused(client: Any) -> None:
    ec2 = client("ec2")
    vpc, sub = _vpc(ec2)
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc,
            SubnetIds=[sub],
            ServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0bogus",
        )
    assert e.value.response["Error"]["Code"] == "InvalidServiceName"
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []


def test_deploying_a_private_api_without_a_policy_is_refused(client: Any) -> None:
    ag = client("apigateway")
    api = ag.create_rest_api(name="p", endpointConfiguration={"types": ["PRIVATE"]})["id"]
    with pytest.raises(ClientError) as e:
        ag.create_deployment(restApiId=api, stageName="prod")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "resource policy" in e.value.response["Error"]["Message"]


def test_a_second_service_on_the_same_nlb_is_refused_and_undone(client: Any) -> None:
    ec2 = client("ec2")
    _, sub = _vpc(ec2)
    nlb = _nlb(client, sub)
    ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb])
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb])
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    assert "orders-nlb" in e.value.response["Error"]["Message"]
    left = ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    assert len(left) == 1


def test_an_instance_address_outside_its_subnet_is_refused(client: Any) -> None:
    ec2 = client("ec2")
    _, sub = _vpc(ec2)
    with pytest.raises(ClientError) as e:
        ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            SubnetId=sub,
            PrivateIpAddress="10.0.9.9",
        )
    assert e.value.response["Error"]["Code"].startswith("Invalid")


def test_target_health_is_what_the_emulators_checks_saw(service: Any, client: Any) -> None:
    ec2, elbv2 = client("ec2"), client("elbv2")
    vpc, sub = _vpc(ec2)
    i = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=sub)
    iid = i["Instances"][0]["InstanceId"]
    tg = elbv2.create_target_group(Name="t", Protocol="TCP", Port=80, VpcId=vpc)
    arn = tg["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid}])
    seen: list[tuple[str, str]] = []

    def ours(a: str, t: str) -> tuple[str, str] | None:
        seen.append((a, t))
        return ("unhealthy", "Target.FailedHealthChecks")

    service.front.target_health = ours
    d = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"][0]
    assert d["TargetHealth"] == {"State": "unhealthy", "Reason": "Target.FailedHealthChecks"}
    assert seen == [(arn, iid)]
