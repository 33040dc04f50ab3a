"""The seed's private REST API, built with plain boto3 (examples/private-rest-api.yaml).

    hyperplane-emu serve --port 4566 &
    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python examples/boto3/private_rest_api.py

Prints one JSON line: the ids a caller needs (API id, instance ids, NLB ARN, ...).
Nothing here knows about the emulator except the `hyperplane-emu:serve` tag,
which says what the two target instances serve.
"""

from __future__ import annotations

import json
import os

import boto3

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


def client(service: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name=REGION)


def tags(name: str, **extra: str) -> list[dict]:  # type: ignore[type-arg]
    pairs = [{"Key": "Name", "Value": name}] + [
        {"Key": k.replace("__", ":").replace("_", "-"), "Value": v} for k, v in extra.items()
    ]
    return [{"ResourceType": "instance", "Tags": pairs}]


def main() -> dict[str, str]:
    ec2, elbv2, apigw = client("ec2"), client("elbv2"), client("apigateway")

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{REGION}b")
    sub_a, sub_b = a["Subnet"]["SubnetId"], b["Subnet"]["SubnetId"]

    def group(name: str, description: str) -> str:
        return ec2.create_security_group(VpcId=vpc, GroupName=name, Description=description)[
            "GroupId"
        ]

    sg_client = group("client", "callers of the private API")
    sg_vpce = group("vpce", "execute-api interface endpoint")
    sg_app = group("app", "orders service behind the NLB")
    ec2.authorize_security_group_ingress(
        GroupId=sg_vpce,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "UserIdGroupPairs": [{"GroupId": sg_client}]}],
    )  # fmt: skip
    ec2.authorize_security_group_ingress(
        GroupId=sg_app,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                        "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}],
    )  # fmt: skip

    def instance(name: str, subnet: str, groups: list[str], serve: str = "") -> str:
        extra = {"hyperplane_emu__serve": serve} if serve else {}
        return ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
            SubnetId=subnet, SecurityGroupIds=groups, TagSpecifications=tags(name, **extra),
        )["Instances"][0]["InstanceId"]  # fmt: skip

    client_id = instance("client", sub_a, [sg_client])
    app1 = instance("app1", sub_a, [sg_app], "echo:8080")
    app2 = instance("app2", sub_b, [sg_app], "echo:8080")

    nlb = elbv2.create_load_balancer(
        Name="orders-nlb", Type="network", Scheme="internal", Subnets=[sub_a, sub_b]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(
        Name="orders", Protocol="TCP", Port=8080, VpcId=vpc, TargetType="instance",
        HealthCheckProtocol="TCP", HealthCheckIntervalSeconds=10,
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": app1}, {"Id": app2}])
    elbv2.create_listener(
        LoadBalancerArn=nlb, Protocol="TCP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )  # fmt: skip

    vpce = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.execute-api",
        SubnetIds=[sub_a, sub_b], SecurityGroupIds=[sg_vpce], PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]  # fmt: skip

    link = apigw.create_vpc_link(name="orders-link", targetArns=[nlb])["id"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": vpce}},
        }],
    }  # fmt: skip
    api = apigw.create_rest_api(
        name="orders",
        endpointConfiguration={"types": ["PRIVATE"], "vpcEndpointIds": [vpce]},
        policy=json.dumps(policy),
    )["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    orders = apigw.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    apigw.put_method(restApiId=api, resourceId=orders, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api, resourceId=orders, httpMethod="GET", type="HTTP_PROXY",
        integrationHttpMethod="GET", uri="http://orders-nlb.internal:80/orders",
        connectionType="VPC_LINK", connectionId=link,
    )  # fmt: skip
    apigw.create_deployment(restApiId=api, stageName="prod")
    out = {"api": api, "vpce": vpce, "nlb": nlb, "target_group": tg, "client": client_id,
           "app1": app1, "app2": app2, "sg_app": sg_app, "vpc": vpc, "vpc_link": link}  # fmt: skip
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
