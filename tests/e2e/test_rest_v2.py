"""REST APIs with VPC links V1 and V2 side by side (API Gateway since November 2025).

Written against the public pytest plugin: `@pytest.mark.topology` + the `hyperplane`
fixture, as a user of the emulator would write them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

import hyperplane_emu

pytestmark = pytest.mark.root

EXAMPLE = Path(__file__).parents[2] / "examples" / "rest-vpc-links-v1-v2.yaml"
NAME = f"links{os.getpid() % 10000}"  # beside another run of the suite, or the demo's `links`


def call(t: hyperplane_emu.Topology, path: str) -> tuple[int | None, Any]:
    api = next(iter(t.plan.apis.values()))
    r = t.request("internet", f"https://{api.hostname}/prod{path}", timeout=15)
    return r.status, r.json() if r.body else None


def ips(t: hyperplane_emu.Topology, kind: str) -> set[str]:
    return {e.ip for e in t.enis if e.kind == kind}


@pytest.mark.topology(str(EXAMPLE), scope="module", name=NAME)
def test_each_generation_shows_its_own_source_address(hyperplane: hyperplane_emu.Topology) -> None:
    t = hyperplane
    status, body = call(t, "/v1/orders")
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "nlb")  # V1: the NLB
    status, body = call(t, "/v2/orders")
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "alb")  # V2 -> ALB
    status, body = call(t, "/v2/stock")
    # V2 -> NLB with instance targets (client IP preserved): the VPC link ENI.
    assert status == 200 and body["saw_source"].split(":")[0] in ips(t, "vpclink")


# A fresh topology: API Gateway keeps its integration connections open, and a trace
# shows the hops of new flows only (what the module's other test left open would hide
# the PrivateLink hop).
@pytest.mark.topology(str(EXAMPLE), name=f"{NAME}t")
def test_trace_shows_privatelink_for_v1_and_hyperplane_enis_for_v2(
    hyperplane: hyperplane_emu.Topology,
) -> None:
    api = next(iter(hyperplane.plan.apis.values()))
    v1 = hyperplane.trace("internet", f"https://{api.hostname}/prod/v1/orders")
    assert v1.response.status == 200
    assert v1.steps().count("privatelink") == 1 and "vpc-link" not in v1.steps()
    v2 = hyperplane.trace("internet", f"https://{api.hostname}/prod/v2/orders")
    assert v2.response.status == 200
    assert v2.steps().count("vpc-link") == 1 and "privatelink" not in v2.steps()


def _without_the_alb_port() -> dict[str, Any]:
    text = (
        EXAMPLE.read_text()
        .replace(
            "          - {port: 80, destination: sg/alb}\n",
            "          - {port: 81, destination: sg/alb}\n",
        )
        .replace("          - {port: 80, destination: 10.0.0.0/16}\n", "")
    )
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


@pytest.mark.topology(_without_the_alb_port(), name=f"{NAME}x")
def test_a_link_sg_without_the_alb_port_gives_500_and_a_reject_on_the_link_eni(
    hyperplane: hyperplane_emu.Topology,
) -> None:
    t = hyperplane
    api = next(iter(t.plan.apis.values()))
    assert api.name == "shop"
    status, body = call(t, "/v2/orders")
    assert (status, body) == (500, {"message": "Internal server error"})
    link_enis = {e.id for e in t.enis if e.kind == "vpclink"}
    assert any(r.interface_id in link_enis and r.action == "REJECT" for r in t.flow_logs())
