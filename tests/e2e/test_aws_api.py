"""`serve`: a plain boto3 script builds the seed's private REST API, and real packets flow.

The script (examples/boto3/private_rest_api.py) runs against `hyperplane-emu serve`
in a subprocess on 127.0.0.1; `hyperplane-emu exec NAME client -- curl` then calls
the API by its private DNS name, and the target's echo says which source it saw
(the NLB's private address: PrivateLink). A `revoke_security_group_ingress` on the
endpoint's group makes the next call fail; an endpoint to an endpoint service that
requires acceptance carries nothing until `accept_vpc_endpoint_connections`. Two
access keys are two accounts: one's endpoint reaches the other's endpoint service.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import unique_name, wait_for

from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir

pytestmark = pytest.mark.root
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "boto3" / "private_rest_api.py"
CLI = [sys.executable, "-m", "hyperplane_emu.cli.main"]


class Served:
    def __init__(self, name: str, proc: subprocess.Popen[str], url: str, log: Path) -> None:
        self.name, self.proc, self.url, self.log = name, proc, url, log
        self.env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "test",
                    "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip

    def curl(self, host: str, url: str, max_time: float = 4) -> tuple[int, str]:
        r = subprocess.run(
            [*CLI, "exec", self.name, host, "--", "curl", "-s", "-m", str(max_time), url],
            capture_output=True, text=True, timeout=max_time + 10,
        )  # fmt: skip
        return r.returncode, r.stdout

    def outcome(self) -> str:
        return self.log.read_text()


def _serve(name: str, log: Path, state: Path) -> Served:
    out = log.open("w")
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--name", name, "--quiet-time", "0.3",
         "--state-dir", str(state)],
        stdout=out, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def url() -> str | None:
        m = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text())
        return m.group(1) if m else None

    try:
        return Served(name, proc, wait_for(url, 60, "serve to listen"), log)
    except BaseException:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    name = unique_name("aws")
    s = _serve(name, tmp_path / "serve.log", tmp_path / "api-state")
    try:
        yield s
    finally:
        _stop(s.proc)
        if StateDir.of(name).exists():
            lifecycle.down(name)


def _build(s: Served) -> dict[str, str]:
    r = subprocess.run([sys.executable, str(SCRIPT)], env=s.env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def _api_url(ids: dict[str, str], path: str = "/prod/orders") -> str:
    return f"https://{ids['api']}.execute-api.us-east-1.amazonaws.com{path}"


def test_boto3_builds_the_private_rest_api_and_packets_reach_the_target(served: Served) -> None:
    ids = _build(served)
    last_call = time.monotonic()

    def answered() -> str | None:
        code, body = served.curl("client", _api_url(ids), max_time=2)
        return body if code == 0 and "saw_source" in body else None

    body = json.loads(wait_for(answered, 60, f"the API to answer; serve log:\n{served.outcome()}"))
    flowing = time.monotonic() - last_call
    print(f"\nlast API call -> packets flowing: {flowing:.2f} s")
    # The target saw the NLB's private address (PrivateLink), not the client's 10.0.1.4.
    nlb = served.client("elbv2").describe_load_balancers()["LoadBalancers"][0]
    assert "/net/orders-nlb/" in nlb["LoadBalancerArn"]
    source = body["saw_source"].split(":")[0]
    client_ip = served.client("ec2").describe_instances(InstanceIds=[ids["client"]])[
        "Reservations"][0]["Instances"][0]["PrivateIpAddress"]  # fmt: skip
    assert source.startswith("10.0.") and source != client_ip
    assert body["host"] in ("app1", "app2")
    # Target health is the emulator's own checks (5 passes 10 s apart before healthy),
    # not moto's constant "healthy".
    health = served.client("elbv2").describe_target_health(TargetGroupArn=ids["target_group"])
    states = {d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]}
    assert states == {"initial"}, states
    # The API is associated with the endpoint (vpcEndpointIds): its alias name works too.
    alias = f"https://{ids['api']}-{ids['vpce']}.execute-api.us-east-1.amazonaws.com/prod/orders"
    code, by_alias = served.curl("client", alias, max_time=3)
    assert code == 0 and "saw_source" in by_alias, by_alias
    # The instance id names the same host as its Name tag.
    code, by_id = served.curl(ids["client"], _api_url(ids), max_time=3)
    assert code == 0 and "saw_source" in by_id
    # The topology file `export` gives back is valid and names what the script built.
    exported = subprocess.run([*CLI, "export", served.name], capture_output=True, text=True)
    assert exported.returncode == 0 and "orders-nlb" in exported.stdout

    # Revoking the endpoint group's rule for callers cuts the next request.
    ec2 = served.client("ec2")
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["vpce"]}])
    sg = groups["SecurityGroups"][0]
    ec2.revoke_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissions"])

    def refused() -> bool:
        code, _ = served.curl("client", _api_url(ids), max_time=2)
        return code != 0

    wait_for(refused, 20, "the revoked rule to drop the call")


def test_a_serve_restart_rebuilds_the_same_topology_with_the_same_ids(
    served: Served, tmp_path: Path
) -> None:
    ids = _build(served)

    def answered(s: Served) -> Any:
        def go() -> str | None:
            code, body = s.curl("client", _api_url(ids), max_time=2)
            return body if code == 0 and "saw_source" in body else None

        return go

    wait_for(answered(served), 60, f"the API to answer; serve log:\n{served.outcome()}")
    vpcs = sorted(v["VpcId"] for v in served.client("ec2").describe_vpcs()["Vpcs"])
    nlbs = served.client("elbv2").describe_load_balancers()["LoadBalancers"]
    _stop(served.proc)
    assert served.proc.returncode == 0, served.outcome()
    assert not StateDir.of(served.name).exists()  # exit took the topology down

    again = _serve(served.name, tmp_path / "again.log", tmp_path / "api-state")
    served.proc = again.proc  # the fixture stops (and downs) whichever runs last
    assert re.search(r"\d+ calls replayed from", again.outcome()), again.outcome()
    wait_for(answered(again), 60, f"the API to answer again; serve log:\n{again.outcome()}")
    assert sorted(v["VpcId"] for v in again.client("ec2").describe_vpcs()["Vpcs"]) == vpcs
    lbs = again.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert [(b["LoadBalancerArn"], b["DNSName"]) for b in lbs] == [
        (b["LoadBalancerArn"], b["DNSName"]) for b in nlbs
    ]
    apis = again.client("apigateway").get_rest_apis()["items"]
    assert [a["id"] for a in apis] == [ids["api"]]


def test_unsupported_calls_get_an_aws_error_naming_the_operation(served: Served) -> None:
    from botocore.exceptions import ClientError

    ec2 = served.client("ec2")
    with pytest.raises(ClientError) as e:
        ec2.create_transit_gateway()
    assert "CreateTransitGateway" in str(e.value) or "NotImplemented" in str(e.value)


HTTP_SCRIPT = REPO / "examples" / "boto3" / "http_api_vpc_link.py"


def test_boto3_builds_the_http_api_with_alb_and_cloud_map_routes(served: Served) -> None:
    r = subprocess.run([sys.executable, str(HTTP_SCRIPT)], env=served.env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout.strip().splitlines()[-1])
    base = f"https://{ids['api']}.execute-api.us-east-1.amazonaws.com"

    def answered(path: str) -> Any:
        def go() -> Any:
            code, body = served.curl("internet", base + path, max_time=3)
            return json.loads(body) if code == 0 and "saw_source" in body else None

        return go

    orders = wait_for(answered("/orders"), 60, f"/orders; serve log:\n{served.outcome()}")
    assert orders["host"] in ("web1", "web2")  # through the ALB
    pay = wait_for(answered("/pay"), 20, "/pay")
    assert pay["host"] == "pay1"  # Cloud Map's registered instance, straight from the link


def test_accept_vpc_endpoint_connections_opens_a_pending_endpoint(served: Served) -> None:
    ec2, elbv2 = served.client("ec2"), served.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24",
                            AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]  # fmt: skip
    sg = ec2.create_security_group(VpcId=vpc, GroupName="open", Description="open")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 8080,
        "IpRanges": [{"CidrIp": "10.2.0.0/16"}]}])  # fmt: skip

    def instance(name: str, serve: str = "") -> str:
        tags = [{"Key": "Name", "Value": name}]
        if serve:
            tags.append({"Key": "hyperplane-emu:serve", "Value": serve})
        return str(ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=sub, SecurityGroupIds=[sg],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"])  # fmt: skip

    instance("consumer")
    app = instance("provider", "echo:8080")
    nlb = elbv2.create_load_balancer(
        Name="svc-nlb", Type="network", Scheme="internal", Subnets=[sub]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(
        Name="svc", Protocol="TCP", Port=8080, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": app}])
    elbv2.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])  # fmt: skip
    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True)["ServiceConfiguration"]  # fmt: skip
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, SubnetIds=[sub],
                                 SecurityGroupIds=[sg], ServiceName=svc["ServiceName"],
                                 )["VpcEndpoint"]  # fmt: skip
    assert ep["State"] == "pendingAcceptance"

    def endpoint_ip() -> str | None:
        if not StateDir.of(served.name).exists():
            return None
        from hyperplane_emu.runtime.status import read_plan

        try:
            _, p = read_plan(served.name)
        except lifecycle.NotUp:  # between the down and the up of a rebuild
            return None
        e = next((e for e in p.endpoints.values() if e.id == ep["VpcEndpointId"]), None)
        if e is None:
            return None
        return next(x.ip for x in p.enis if x.id in e.enis)

    ip = wait_for(endpoint_ip, 60, f"the endpoint in the data plane:\n{served.outcome()}")
    code, _ = served.curl("consumer", f"http://{ip}:80/", max_time=2)
    assert code != 0, "a pending endpoint carried traffic"
    ec2.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"],
                                        VpcEndpointIds=[ep["VpcEndpointId"]])  # fmt: skip

    def through() -> Any:
        code, body = served.curl("consumer", f"http://{ip}:80/", max_time=2)
        return json.loads(body) if code == 0 and "saw_source" in body else None

    assert wait_for(through, 30, "the accepted endpoint to carry traffic")["host"] == "provider"


def test_the_aws_cli_drives_the_same_endpoint(served: Served) -> None:
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", served.url, "--output", "json"]
    pytest.importorskip("awscli")

    def run(*args: str) -> Any:
        r = subprocess.run([*aws, *args], env=served.env, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else None

    vpc = run("ec2", "create-vpc", "--cidr-block", "10.3.0.0/16")["Vpc"]["VpcId"]
    run("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.3.1.0/24")
    assert [v["VpcId"] for v in run("ec2", "describe-vpcs")["Vpcs"] if v["VpcId"] == vpc]
    api = run("apigateway", "create-rest-api", "--name", "cli-api")["id"]
    assert run("apigateway", "get-rest-api", "--rest-api-id", api)["name"] == "cli-api"
    r = subprocess.run([*aws, "ec2", "create-transit-gateway"], env=served.env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and "NotImplemented" in r.stderr and "CreateTransitGateway" in r.stderr


def test_cross_account_privatelink_carries_packets_to_the_provider_s_target(
    served: Served,
) -> None:
    provider, consumer = "111111111111", "222222222222"

    def as_(account: str, service: str) -> Any:
        return boto3.client(service, endpoint_url=served.url, region_name="us-east-1",
                            aws_access_key_id=account, aws_secret_access_key="test")  # fmt: skip

    def network(ec2: Any, cidr: str, port: int) -> tuple[str, str, str]:
        vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.1.0/24",
                                AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]  # fmt: skip
        sg = ec2.create_security_group(VpcId=vpc, GroupName="open", Description="o")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "IpRanges": [{"CidrIp": f"{cidr}.0.0/16"}]}])  # fmt: skip
        return vpc, sub, sg

    def instance(ec2: Any, sub: str, sg: str, name: str, serve: str = "") -> str:
        tags = [{"Key": "Name", "Value": name}]
        if serve:
            tags.append({"Key": "hyperplane-emu:serve", "Value": serve})
        return str(ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=sub, SecurityGroupIds=[sg],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"])  # fmt: skip

    p_ec2, p_elb, c_ec2 = as_(provider, "ec2"), as_(provider, "elbv2"), as_(consumer, "ec2")
    pvpc, psub, psg = network(p_ec2, "10.1", 8080)
    app = instance(p_ec2, psub, psg, "app", "echo:8080")
    nlb = p_elb.create_load_balancer(Name="svc-nlb", Type="network", Scheme="internal",
                                     Subnets=[psub])["LoadBalancers"][0]  # fmt: skip
    tg = p_elb.create_target_group(Name="svc", Protocol="TCP", Port=8080, VpcId=pvpc,
                                   TargetType="instance")["TargetGroups"][0]  # fmt: skip
    tg = tg["TargetGroupArn"]
    p_elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": app}])
    p_elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])  # fmt: skip
    svc = p_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb["LoadBalancerArn"]], AcceptanceRequired=False,
    )["ServiceConfiguration"]  # fmt: skip
    p_ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{consumer}:root"]
    )
    cvpc, csub, csg = network(c_ec2, "10.2", 80)
    client_id = instance(c_ec2, csub, csg, "client")
    ep = c_ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=cvpc, SubnetIds=[csub],
                                   SecurityGroupIds=[csg], ServiceName=svc["ServiceName"],
                                   )["VpcEndpoint"]  # fmt: skip

    def endpoint_ip() -> str | None:
        if not StateDir.of(served.name).exists():
            return None
        from hyperplane_emu.runtime.status import read_plan

        try:
            _, p = read_plan(served.name)
        except lifecycle.NotUp:
            return None
        e = next((e for e in p.endpoints.values() if e.id == ep["VpcEndpointId"]), None)
        return None if e is None else next(x.ip for x in p.enis if x.id in e.enis)

    ip = wait_for(endpoint_ip, 60, f"the endpoint in the data plane:\n{served.outcome()}")

    def through() -> Any:
        code, body = served.curl("client", f"http://{ip}:80/", max_time=2)
        return json.loads(body) if code == 0 and "saw_source" in body else None

    body = wait_for(through, 30, f"the endpoint to carry traffic:\n{served.outcome()}")
    assert body["host"] == "app"
    # The target saw the provider's NLB address (PrivateLink), not the consumer's client.
    source = body["saw_source"].split(":")[0]
    client_ip = c_ec2.describe_instances(InstanceIds=[client_id])["Reservations"][0][
        "Instances"][0]["PrivateIpAddress"]  # fmt: skip
    assert source.startswith("10.1.1.") and source != client_ip
    exported = subprocess.run([*CLI, "export", served.name], capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    assert f'a{consumer}: "{consumer}"' in exported.stdout or f"a{consumer}: '{consumer}'" in (
        exported.stdout
    ), exported.stdout
