"""CloudFormation, SAM and CDK templates brought up as topologies, with real requests.

The seed's two architectures, each as a hand-written template and as the CDK
synthesized it (tests/data/cfn): a client's request through the private REST API
reaches a target that sees the NLB's address; an HTTP API reaches the ALB, the
NLB and the Cloud Map instances through one VPC link. `up` of a bad template
exits 2 and builds nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Topology, unique_name

import hyperplane_emu
from hyperplane_emu import cfn
from hyperplane_emu.runtime.state import StateDir
from hyperplane_emu.runtime.status import read_plan

pytestmark = pytest.mark.root

DATA = Path(__file__).resolve().parents[1] / "data" / "cfn"
CLI = [sys.executable, "-m", "hyperplane_emu.cli.main"]


@pytest.fixture
def template(topology: Callable[[str], Topology]) -> Callable[[str], Topology]:
    """`template(path)`: the template translated, then brought up by conftest's `topology`
    fixture (unique name, always torn down), as a topology file would be."""

    def make(name: str) -> Topology:
        got = cfn.load(DATA / name)
        assert got.ok and got.topology is not None, [str(i) for i in got.issues]
        return topology(yaml.safe_dump({**got.translation.topology, "name": "NAME"}))

    return make


def curl(t: Topology, host: str, url: str) -> tuple[int, Any]:
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts[host].namespace, "curl", "-s", "-m", "8",
         "-w", "\\n%{http_code}", url],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    return int(code or 0), parsed


def ips(t: Topology, kind: str) -> set[str]:
    return {e.ip for e in t.plan.enis if e.kind == kind}


def source(body: Any) -> str:
    return str(body["saw_source"]).split(":")[0]


@pytest.mark.parametrize("name", ["cdk/CdkPrivateRest.template.json", "sam-private-rest-api.yaml"])
def test_private_rest_api_template_target_sees_the_nlb(
    template: Callable[[str], Topology], name: str
) -> None:
    t = template(name)
    (api,) = t.plan.apis.values()
    status, body = curl(t, "client", f"https://{api.hostname}/prod/orders/42")
    assert status == 200, body
    assert body["host"] in ("app1", "app2") and body["path"] == "/orders/42"
    assert source(body) in ips(t, "nlb")  # PrivateLink: the NLB's private address
    (endpoint,) = (e for e in t.plan.endpoints.values() if e.vpc != "apigateway")
    assert body["headers"]["x-amzn-vpce-id"] == endpoint.id


@pytest.mark.parametrize("name", ["http-api-vpc-link.json", "cdk/CdkHttpApi.template.json"])
def test_http_api_template_reaches_alb_nlb_and_cloud_map(
    template: Callable[[str], Topology], name: str
) -> None:
    t = template(name)
    (api,) = t.plan.apis.values()
    base = f"https://{api.hostname}"
    link_ips = ips(t, "vpclink")
    status, body = curl(t, "internet", f"{base}/orders")
    assert status == 200, body
    assert body["host"] in ("web1", "web2") and source(body) in ips(t, "alb")
    status, body = curl(t, "internet", f"{base}/stock/7")
    assert status == 200 and body["host"] == "stock1", body
    seen: set[str] = set()
    for _ in range(40):
        status, body = curl(t, "internet", f"{base}/pay")
        assert status == 200, body
        assert source(body) in link_ips  # Cloud Map instances are reached from the link ENI
        seen.add(body["host"])
        if seen == {"pay1", "pay2"}:
            break
    assert seen == {"pay1", "pay2"}


def test_cli_up_prints_outputs_that_work_and_down_removes_it(tmp_path: Path) -> None:
    stack = unique_name("cfcli")
    up = subprocess.run(
        [*CLI, "up", "-q", str(DATA / "private-rest-api.yaml"),
         "--parameter", f"AWS::StackName={stack}", "--parameter", "StageName=prod"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        assert "skipped Resources.LogRole (AWS::IAM::Role)" in up.stderr
        outputs = dict(re.findall(r"^output (\S+) = (\S+)$", up.stdout, re.MULTILINE))
        assert "hosts: client (Client), app1 (App1), app2 (App2)" in up.stdout
        _, p = read_plan(stack)
        (api,) = p.apis.values()
        assert outputs["InvokeUrl"] == f"https://{api.hostname}/prod/orders"
        assert outputs["NlbDns"] == next(iter(p.load_balancers.values())).dns_name
        t = Topology(hyperplane_emu.attach(stack))
        status, body = curl(t, "client", outputs["InvokeUrl"])
        assert status == 200 and source(body) in ips(t, "nlb"), body
    finally:
        down = subprocess.run([*CLI, "down", stack], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not StateDir.of(stack).exists()


def test_cli_apply_of_a_template_changes_the_running_stage() -> None:
    """`apply template.yaml` translates as `up` did and applies the difference live:
    here a parameter renames the API's stage, the APIs' config reloads."""
    stack = unique_name("cfapl")
    path = str(DATA / "private-rest-api.yaml")
    up = subprocess.run(
        [*CLI, "up", "-q", path, "--parameter", f"AWS::StackName={stack}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        t = Topology(hyperplane_emu.attach(stack))
        (api,) = t.plan.apis.values()
        prod = f"https://{api.hostname}/prod/orders"
        assert curl(t, "client", prod)[0] == 200
        applied = subprocess.run(
            [*CLI, "apply", path, "--parameter", f"AWS::StackName={stack}",
             "--parameter", "StageName=beta"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        assert f"{stack}: API Gateway: configuration reloaded" in applied.stdout
        status, body = curl(t, "client", prod.replace("/prod/", "/beta/"))
        assert status == 200 and source(body) in ips(t, "nlb"), body
        assert curl(t, "client", prod)[0] == 403
        # A change apply cannot make live is refused with what differs, as for files.
        moved = subprocess.run(
            [*CLI, "apply", path, "--parameter", f"AWS::StackName={stack}",
             "--parameter", "AppPort=9090"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert moved.returncode == 1 and "need `down` then `up`" in moved.stderr, moved.stderr
        assert "target_groups.orders-targets.port" in moved.stderr
    finally:
        subprocess.run([*CLI, "down", stack], capture_output=True, text=True, timeout=60)
    assert not StateDir.of(stack).exists()


def test_cli_up_of_a_bad_template_exits_2_and_builds_nothing(tmp_path: Path) -> None:
    stack = unique_name("cfbad")
    r = subprocess.run(
        [*CLI, "up", str(DATA / "bad" / "unknown-ref.yaml"), "--parameter",
         f"AWS::StackName={stack}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Resources.OrdersNlb.Properties.Subnets[1]" in r.stderr
    assert "Ref to unknown resource 'SubnetC'" in r.stderr
    assert not StateDir.of(stack).exists()
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"he-{stack}-" not in ns


def test_rest_api_with_both_vpc_link_generations(template: Callable[[str], Topology]) -> None:
    t = template("rest-vpc-links-v1-v2.yaml")
    (api,) = t.plan.apis.values()
    status, body = curl(t, "internet", f"https://{api.hostname}/prod/v1/orders")
    assert status == 200 and body["host"] == "orders1", body
    assert source(body) in ips(t, "nlb")  # V1: PrivateLink, the NLB's address
    status, body = curl(t, "internet", f"https://{api.hostname}/prod/v2/orders")
    assert status == 200 and body["host"] in ("web1", "web2"), body
    assert source(body) in ips(t, "alb")  # V2: through the link's ENIs to the ALB
