"""`serve`: a plain boto3 script builds the seed's private REST API, and real packets flow.

The script (examples/boto3/private_rest_api.py) runs against `hyperplane-emu serve`
in a subprocess on 127.0.0.1; `hyperplane-emu exec NAME client -- curl` then calls
the API by its private DNS name, and the target's echo says which source it saw
(the NLB's private address: PrivateLink). A `revoke_security_group_ingress` on the
endpoint's group makes the next call fail; an endpoint to an endpoint service that
requires acceptance carries nothing until `accept_vpc_endpoint_connections`.
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    name = unique_name("aws")
    log = tmp_path / "serve.log"
    out = log.open("w")
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--name", name, "--quiet-time", "0.3"],
        stdout=out, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def url() -> str | None:
        m = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text())
        return m.group(1) if m else None

    try:
        s = Served(name, proc, wait_for(url, 20, "serve to listen"), log)
        yield s
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
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


def test_unsupported_calls_get_an_aws_error_naming_the_operation(served: Served) -> None:
    from botocore.exceptions import ClientError

    ec2 = served.client("ec2")
    with pytest.raises(ClientError) as e:
        ec2.create_transit_gateway()
    assert "CreateTransitGateway" in str(e.value) or "NotImplemented" in str(e.value)
