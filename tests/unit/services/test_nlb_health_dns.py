"""Target health -> DNS: which NLB node addresses leave the answers (plan.dns.withdrawn),
the resolver's filtering and fail-open (services.dns), and how the health checker
combines what every node sees (services.healthcheck.combine)."""

from __future__ import annotations

import json
from pathlib import Path

from dnslib import DNSRecord

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.health import TargetHealth
from hyperplane_emu.plan.dns import Zone, withdrawn, zone_to_json
from hyperplane_emu.services.dns import Resolver, answer
from hyperplane_emu.services.healthcheck import combine

TOPOLOGY = """
name: th
region: us-east-1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    hosts:
      app1: {subnet: a}
      app2: {subnet: b}
    load_balancers:
      nlb:
        type: network
        subnets: [a, b]
        cross_zone: CROSS
        listeners: [{port: 80, target_group: web}]
        target_groups:
          web: {port: 8080, targets: [app1, app2]}
"""


def build(cross: bool) -> plan.Plan:
    return plan.build(spec.loads(TOPOLOGY.replace("CROSS", str(cross).lower())))


def nodes(p: plan.Plan) -> dict[str, str]:
    return {e.az: e.ip for e in p.enis if e.kind == "nlb"}


def test_cross_zone_off_withdraws_the_node_of_an_az_without_a_healthy_target() -> None:
    p = build(cross=False)
    key = next(iter(p.load_balancers))
    health = {(key, "web", "app1"): "unhealthy", (key, "web", "app2"): "healthy"}
    assert withdrawn(p, health) == [nodes(p)["us-east-1a"]]
    health[(key, "web", "app1")] = "healthy"
    assert withdrawn(p, health) == []


def test_cross_zone_on_withdraws_only_when_no_target_is_healthy() -> None:
    p = build(cross=True)
    key = next(iter(p.load_balancers))
    assert withdrawn(p, {(key, "web", "app1"): "unhealthy", (key, "web", "app2"): "healthy"}) == []
    assert withdrawn(p, {}) == sorted(nodes(p).values())


def ask(zone: Zone, name: str, gone: frozenset[str]) -> list[str]:
    reply = answer(zone, DNSRecord.question(name), gone)
    return sorted(str(rr.rdata) for rr in reply.rr)


def test_resolver_leaves_withdrawn_addresses_out_and_fails_open() -> None:
    zone = Zone(a={"nlb.example": ("10.0.1.5", "10.0.2.5"), "zonal.example": ("10.0.1.5",)})
    assert ask(zone, "nlb.example", frozenset({"10.0.1.5"})) == ["10.0.2.5"]
    # Every address withdrawn: AWS fails open, the name keeps them all.
    assert ask(zone, "nlb.example", frozenset({"10.0.1.5", "10.0.2.5"})) == ["10.0.1.5", "10.0.2.5"]
    assert ask(zone, "zonal.example", frozenset({"10.0.1.5"})) == ["10.0.1.5"]


def test_resolver_rereads_the_withdrawn_file_when_it_changes(tmp_path: Path) -> None:
    zone_file = tmp_path / "v.json"
    zone_file.write_text(zone_to_json(Zone(a={"nlb.example": ("10.0.1.5", "10.0.2.5")})))
    gone = tmp_path / "dns-withdrawn.json"
    r = Resolver(zone_file, gone)

    def names() -> list[str]:
        wire = r.handle(DNSRecord.question("nlb.example").pack(), "test", "udp")
        assert wire is not None
        return sorted(str(rr.rdata) for rr in DNSRecord.parse(wire).rr)

    assert names() == ["10.0.1.5", "10.0.2.5"]  # no file yet: nothing withdrawn
    gone.write_text(json.dumps(["10.0.2.5"]))
    assert names() == ["10.0.1.5"]
    gone.write_text(json.dumps([]) + " ")  # another size: seen as a change
    assert names() == ["10.0.1.5", "10.0.2.5"]


def test_combined_health_is_unhealthy_when_one_node_says_so_healthy_when_all_do() -> None:
    a, b = TargetHealth(2, 2), TargetHealth(2, 2)
    combined = TargetHealth(2, 2)
    views = {"node-a": a, "node-b": b}
    a.state = "healthy"
    assert not combine(combined, views) and combined.state == "initial"
    b.state = "healthy"
    assert combine(combined, views) and combined.state == "healthy"
    b.state, b.reason = "unhealthy", "Target.Timeout"
    assert combine(combined, views)
    assert (combined.state, combined.reason) == ("unhealthy", "Target.Timeout")
    assert not combine(combined, views)  # nothing new: nothing to report
