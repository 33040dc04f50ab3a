"""REST APIs with VPC links V1 and V2 side by side (API Gateway since November 2025)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Topology

pytestmark = pytest.mark.root

EXAMPLE = Path(__file__).parents[2] / "examples" / "rest-vpc-links-v1-v2.yaml"


def up(topology: Callable[[str], Topology], text: str | None = None) -> Topology:
    return topology((text or EXAMPLE.read_text()).replace("name: links", "name: NAME"))


def call(t: Topology, path: str) -> tuple[int, Any]:
    api = next(iter(t.plan.apis.values()))
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts["internet"].namespace, "curl", "-s", "-m", "15",
         "-w", "\\n%{http_code}", f"https://{api.hostname}/prod{path}"],
        capture_output=True, text=True, timeout=25,
    )  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), json.loads(body) if body else None


def ips(t: Topology, kind: str) -> set[str]:
    return {e.ip for e in t.plan.enis if e.kind == kind}


def test_each_generation_shows_its_own_source_address(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    status, body = call(t, "/v1/orders")
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "nlb")  # V1: the NLB
    status, body = call(t, "/v2/orders")
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "alb")  # V2 -> ALB
    status, body = call(t, "/v2/stock")
    # V2 -> NLB with instance targets (client IP preserved): the VPC link ENI.
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "vpclink")


def test_trace_shows_privatelink_for_v1_and_hyperplane_enis_for_v2(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    api = next(iter(t.plan.apis.values()))

    def steps(path: str) -> list[str]:
        r = subprocess.run(
            [sys.executable, "-m", "hyperplane_emu.cli.main", "trace", t.plan.name, "internet",
             f"https://{api.hostname}/prod{path}", "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        return [h["step"] for h in json.loads(r.stdout)]

    v1 = steps("/v1/orders")
    assert v1.count("privatelink") == 1 and "vpc-link" not in v1
    v2 = steps("/v2/orders")
    assert v2.count("vpc-link") == 1 and "privatelink" not in v2


def test_a_link_sg_without_the_alb_port_gives_500_and_a_reject_on_the_link_eni(
    topology: Callable[[str], Topology],
) -> None:
    text = (
        EXAMPLE.read_text()
        .replace(
            "          - {port: 80, destination: sg/alb}\n",
            "          - {port: 81, destination: sg/alb}\n",
        )
        .replace("          - {port: 80, destination: 10.0.0.0/16}\n", "")
    )
    t = up(topology, text)
    api = next(iter(t.plan.apis.values()))
    assert api.name == "shop"
    status, body = call(t, "/v2/orders")
    assert (status, body) == (500, {"message": "Internal server error"})
    link_enis = {e.id for e in t.plan.enis if e.kind == "vpclink"}
    assert any(r[2] in link_enis and r[12] == "REJECT" for r in t.flow_logs())
