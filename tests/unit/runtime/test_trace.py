"""runtime.trace's pure parts: which addresses are traced, how hops are described (no root)."""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu import plan, spec
from hyperplane_emu.runtime import trace

GOOD = Path(__file__).parents[2] / "data" / "good"


def _plan(name: str) -> plan.Plan:
    return plan.build(spec.load(GOOD / name))


def test_traced_addresses_are_the_host_and_the_proxies_that_reconnect() -> None:
    p = _plan("http-api.yaml")  # API Gateway and an ALB
    host = "web1"
    own = [e.ip for e in p.enis if e.id in p.hosts[host].enis]
    got = trace.traced_addresses(p, host)
    assert got[: len(own)] == own
    assert p.api_gateway is not None and p.api_gateway.ip in got
    albs = {e.ip for e in p.enis if e.kind == "alb"}
    assert albs and set(got[len(own) :]) == {p.api_gateway.ip} | albs


def test_traced_addresses_without_api_gateway_are_the_host_only() -> None:
    p = _plan("minimal.yaml")
    assert p.api_gateway is None
    assert trace.traced_addresses(p, "client") == [
        e.ip for e in p.enis if e.id in p.hosts["client"].enis
    ]


def test_describe_names_the_eni_and_leaves_unknown_places_alone() -> None:
    p = _plan("shop.yaml")
    eni = next(e for e in p.enis if e.owner == "client")
    hop = {"step": "egress-sg", "where": eni.id, "flow": "a > b proto 6", "action": "ACCEPT"}
    described = trace.describe(p, hop)
    assert described["eni_owner"] == "host client" and described["vpc"] == eni.vpc
    assert described["namespace"] == eni.namespace and "process" not in described
    assert hop == {"step": "egress-sg", "where": eni.id, "flow": "a > b proto 6",
                   "action": "ACCEPT"}  # fmt: skip
    elsewhere = {**hop, "where": "rtb-0123"}
    assert trace.describe(p, elsewhere) == elsewhere


def test_listener_name_from_ss_output() -> None:
    assert trace.listener_name("") == ""
    line = 'LISTEN 0 128 0.0.0.0:8080 0.0.0.0:* users:(("python3",pid=999999999,fd=6))'
    assert trace.listener_name(line) == "python3 pid 999999999"
