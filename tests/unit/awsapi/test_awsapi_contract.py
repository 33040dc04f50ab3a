"""Contract with the pinned moto: the issue's list of calls, through `serve`'s front.

Every call below is made with boto3 as a user would; the front records what each
operation answered. An upgrade of moto (or botocore) that changes one of them
fails here with the operation named, before any e2e test has to find out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

# botocore operation names the issue requires, per service.
REQUIRED = {
    "ec2": {
        "CreateVpc", "CreateSubnet", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RunInstances",
        "CreateNetworkInterface", "CreateVpcEndpointServiceConfiguration",
        "ModifyVpcEndpointServicePermissions", "CreateVpcEndpoint",
        "DescribeVpcEndpointConnections", "AcceptVpcEndpointConnections",
        "RejectVpcEndpointConnections", "DescribeVpcs", "DescribeSubnets",
        "DescribeSecurityGroups", "DescribeInstances", "DescribeVpcEndpoints",
        "DescribeVpcEndpointServiceConfigurations", "DeleteVpcEndpoints",
        "DeleteNetworkInterface", "TerminateInstances", "DeleteSecurityGroup",
    },
    "elbv2": {
        "CreateLoadBalancer", "CreateTargetGroup", "RegisterTargets", "DeregisterTargets",
        "CreateListener", "CreateRule", "DescribeTargetHealth", "ModifyLoadBalancerAttributes",
        "ModifyTargetGroupAttributes", "DescribeLoadBalancers",
    },
    "apigateway": {
        "CreateRestApi", "CreateResource", "PutMethod", "PutIntegration", "CreateVpcLink",
        "CreateDeployment", "CreateStage", "UpdateRestApi", "GetResources",
    },
    "apigatewayv2": {
        "CreateApi", "CreateVpcLink", "CreateIntegration", "CreateRoute", "CreateStage",
        "CreateDeployment",
    },
    "servicediscovery": {
        "CreatePrivateDnsNamespace", "CreateService", "RegisterInstance", "DiscoverInstances",
    },
}  # fmt: skip


@pytest.fixture
def recorded(service: Any) -> dict[tuple[str, str], int]:
    seen: dict[tuple[str, str], int] = {}
    handle = service.front.handle

    def record(env: Any, method: str, path: str, query: str, headers: Any, body: bytes) -> Any:
        from hyperplane_emu.awsapi import protocol

        r = handle(env, method, path, query, headers, body)
        try:
            call = protocol.recognise(method, path, query, headers, body)
            seen[(call.service, call.operation)] = r.status
        except protocol.Unrecognised:
            pass
        return r

    service.front.handle = record
    return seen


def test_the_issues_calls_work_against_the_pinned_moto(
    service: Any, client: Any, recorded: dict[tuple[str, str], int]
) -> None:
    import http_api_vpc_link
    import private_rest_api

    rest = private_rest_api.main()
    http = http_api_vpc_link.main()
    ec2, elbv2 = client("ec2"), client("elbv2")
    ag, v2, sd = client("apigateway"), client("apigatewayv2"), client("servicediscovery")
    sub = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [rest["vpc"]]}])["Subnets"]
    sg = rest["sg_app"]
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
        "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])  # fmt: skip
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])  # fmt: skip
    eni = ec2.create_network_interface(SubnetId=sub[0]["SubnetId"])["NetworkInterface"]
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    # The seed's NLB is behind its REST VPC link: a service needs an NLB of its own.
    own = elbv2.create_load_balancer(Name="svc-nlb", Type="network", Scheme="internal",
                                     Subnets=[s["SubnetId"] for s in sub])  # fmt: skip
    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[own["LoadBalancers"][0]["LoadBalancerArn"]],
        AcceptanceRequired=True,
    )["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=svc["ServiceId"], AddAllowedPrincipals=["arn:aws:iam::111122223333:root"]
    )
    eps = [ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=rest["vpc"],
                                   ServiceName=svc["ServiceName"],
                                   SubnetIds=[sub[0]["SubnetId"]])["VpcEndpoint"]["VpcEndpointId"]
           for _ in range(2)]  # fmt: skip
    ec2.describe_vpc_endpoint_connections()
    ec2.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[eps[0]])
    ec2.reject_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[eps[1]])
    ec2.describe_vpc_endpoint_service_configurations()
    ec2.delete_vpc_endpoints(VpcEndpointIds=[eps[1]])

    elbv2.deregister_targets(TargetGroupArn=rest["target_group"], Targets=[{"Id": rest["app2"]}])
    elbv2.describe_target_health(TargetGroupArn=rest["target_group"])
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=rest["nlb"], Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])  # fmt: skip
    elbv2.modify_target_group_attributes(TargetGroupArn=rest["target_group"], Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "false"}])  # fmt: skip
    tg = elbv2.describe_target_groups(Names=["web"])["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_rule(ListenerArn=http["listener"], Priority=10, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}])  # fmt: skip

    dep = ag.create_deployment(restApiId=rest["api"])["id"]
    ag.create_stage(restApiId=rest["api"], stageName="beta", deploymentId=dep)
    ag.update_rest_api(restApiId=rest["api"], patchOperations=[
        {"op": "replace", "path": "/policy", "value": json.dumps({"Statement": []})}])  # fmt: skip
    v2.create_deployment(ApiId=http["api"], StageName="$default")
    ns = sd.list_namespaces()["Namespaces"][0]["Name"]
    # DiscoverInstances has a `data-` host prefix: on 127.0.0.1 the SDK must not add it.
    import boto3
    from botocore.config import Config

    data = boto3.client("servicediscovery", endpoint_url=service.url, region_name="us-east-1",
                        config=Config(inject_host_prefix=False))  # fmt: skip
    found = data.discover_instances(NamespaceName=ns, ServiceName="payments")["Instances"]
    assert [i["InstanceId"] for i in found] == ["pay1"]
    ec2.describe_instances()
    ec2.describe_security_groups()
    ec2.describe_vpc_endpoints()
    elbv2.describe_load_balancers()
    ec2.terminate_instances(InstanceIds=[rest["app2"]])
    spare = ec2.create_security_group(VpcId=rest["vpc"], GroupName="spare", Description="x")
    ec2.delete_security_group(GroupId=spare["GroupId"])

    failed = {f"{s}:{op} -> {recorded.get((s, op))}" for s, ops in REQUIRED.items() for op in ops
              if not 200 <= recorded.get((s, op), 0) < 300}  # fmt: skip
    assert not failed, sorted(failed)


def test_a_call_outside_the_list_is_refused_by_name(client: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        client("ec2").create_nat_gateway(SubnetId="subnet-0123", AllocationId="eipalloc-1")
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "CreateNatGateway" in e.value.response["Error"]["Message"]


def test_every_served_call_is_an_operation_of_the_pinned_botocore() -> None:
    from hyperplane_emu.awsapi import calls, protocol

    for svc, ops in calls.SUPPORTED.items():
        unknown = ops - set(protocol.model(svc).operation_names)
        assert not unknown, (svc, unknown)


def test_docs_list_exactly_the_served_calls() -> None:
    import re
    from pathlib import Path

    from botocore import xform_name

    from hyperplane_emu.awsapi import calls

    page = (Path(__file__).resolve().parents[3] / "docs" / "aws-api.md").read_text()
    services = "|".join(calls.SUPPORTED)
    rows = dict(re.findall(rf"^\| ({services}) \| (.+) \|$", page, re.M))
    for svc, ops in calls.SUPPORTED.items():
        listed = set(re.findall(r"`([a-z_0-9]+)`", rows.get(svc, "")))
        assert listed == {xform_name(o) for o in ops}, svc
