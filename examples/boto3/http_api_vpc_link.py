"""An HTTP API with a VPC link to an ALB and to Cloud Map, built with plain boto3
(examples/http-api-vpc-link.yaml, its ALB and Cloud Map routes).

    hyperplane-emu serve --port 4566 &
    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python examples/boto3/http_api_vpc_link.py

Prints one JSON line with the ids a caller needs. Callers reach the API from the
emulator's `internet` host: https://<api id>.execute-api.<region>.amazonaws.com/orders
"""

from __future__ import annotations

import json
import os

import boto3

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


def main() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    v2 = boto3.client("apigatewayv2", region_name=REGION)
    sd = boto3.client("servicediscovery", region_name=REGION)

    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    sub_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24",
                              AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]  # fmt: skip
    sub_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24",
                              AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]  # fmt: skip

    def group(name: str) -> str:
        return ec2.create_security_group(VpcId=vpc, GroupName=name, Description=name)["GroupId"]

    def allow(to: str, port: int, source_group: str) -> None:
        ec2.authorize_security_group_ingress(GroupId=to, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "UserIdGroupPairs": [{"GroupId": source_group}]}])  # fmt: skip

    sg_link, sg_alb, sg_web, sg_pay = group("link"), group("alb"), group("web"), group("pay")
    allow(sg_alb, 80, sg_link)
    allow(sg_web, 8080, sg_alb)
    allow(sg_pay, 8080, sg_link)

    def instance(name: str, subnet: str, sg: str) -> tuple[str, str]:
        i = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet,
            SecurityGroupIds=[sg],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": name},
                {"Key": "hyperplane-emu:serve", "Value": "echo:8080"}]}],
        )["Instances"][0]  # fmt: skip
        return i["InstanceId"], i["PrivateIpAddress"]

    web1, _ = instance("web1", sub_a, sg_web)
    web2, _ = instance("web2", sub_b, sg_web)
    _, pay1_ip = instance("pay1", sub_a, sg_pay)

    alb = elbv2.create_load_balancer(Name="orders-alb", Type="application", Scheme="internal",
                                     Subnets=[sub_a, sub_b], SecurityGroups=[sg_alb],
                                     )["LoadBalancers"][0]["LoadBalancerArn"]  # fmt: skip
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc,
                                   TargetType="instance", HealthCheckPath="/",
                                   )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": web1}, {"Id": web2}])
    listener = elbv2.create_listener(
        LoadBalancerArn=alb, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip

    sd.create_private_dns_namespace(Name="internal", Vpc=vpc)
    ns = next(n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "internal")
    svc = sd.create_service(Name="payments", NamespaceId=ns, DnsConfig={
        "DnsRecords": [{"Type": "A", "TTL": 60}]})["Service"]  # fmt: skip
    sd.register_instance(ServiceId=svc["Id"], InstanceId="pay1", Attributes={
        "AWS_INSTANCE_IPV4": pay1_ip, "AWS_INSTANCE_PORT": "8080", "stage": "prod"})  # fmt: skip

    link = v2.create_vpc_link(Name="shop-link", SubnetIds=[sub_a, sub_b],
                              SecurityGroupIds=[sg_link])["VpcLinkId"]  # fmt: skip
    api = v2.create_api(Name="shop", ProtocolType="HTTP")["ApiId"]
    to_alb = v2.create_integration(
        ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        ConnectionType="VPC_LINK", ConnectionId=link, IntegrationUri=listener,
        PayloadFormatVersion="1.0",
    )["IntegrationId"]  # fmt: skip
    to_pay = v2.create_integration(
        ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        ConnectionType="VPC_LINK", ConnectionId=link, IntegrationUri=svc["Arn"],
        PayloadFormatVersion="1.0",
    )["IntegrationId"]  # fmt: skip
    v2.create_route(ApiId=api, RouteKey="GET /orders", Target=f"integrations/{to_alb}")
    v2.create_route(ApiId=api, RouteKey="ANY /pay", Target=f"integrations/{to_pay}")
    v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    return {"api": api, "vpc": vpc, "alb": alb, "listener": listener, "vpc_link": link,
            "cloud_map_service": svc["Arn"], "web1": web1, "web2": web2}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main()))
