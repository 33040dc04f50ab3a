"""One `judge` for every security-group decision: the gateway paths record and trace
their verdicts like the VPC router does, and no event vanishes without a count."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import DropEvent, TraceHop
from hyperplane_emu.fabric.reasons import DropReason
from hyperplane_emu.plan.model import PlanEni

# A VPC host, an on-premises laptop behind a virtual private gateway, and (because
# an API exists) the emulated internet with its client host.
TOPOLOGY = """
name: tjudge
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      app:
        ingress: [{port: 8080, source: 172.16.0.0/16}]
    hosts:
      app1: {subnet: a, security_groups: [app]}
on_premises:
  cidr: 172.16.0.0/16
  connected_to: [customer]
  hosts: [laptop]
apis:
  shop:
    type: http
    stages: [$default]
    routes:
      "GET /x":
        integration: {type: HTTP_PROXY, uri: "http://203.0.113.10/"}
"""


@pytest.fixture(scope="module")
def p() -> plan.Plan:
    return plan.build(spec.loads(TOPOLOGY))


def host(p: plan.Plan, owner: str) -> PlanEni:
    return next(e for e in p.enis if e.owner == owner and e.kind == "host")


def syn(fab: Fabric, src: PlanEni, dst_ip: str, dport: int) -> list[Any]:
    frame = (
        Ether(src=src.mac, dst=src.fabric_mac)
        / IP(src=src.ip, dst=dst_ip)
        / TCP(sport=40000, dport=dport, flags="S")
    )
    return fab.handle(src.port, bytes(frame), 1.0)


def hops(fab: Fabric) -> list[tuple[str, str, str]]:
    return [(e.step, e.where, e.action) for e in fab.events if isinstance(e, TraceHop)]


def flow_log(fab: Fabric) -> list[tuple[str, str]]:
    fab.flush_flow_logs(2.0)
    return [(r.eni_id, r.line) for r in fab.drain_flow_logs()]


def closed_internet(p: plan.Plan, fab: Fabric) -> PlanEni:
    """The internet host, its (open) group replaced by one that admits nothing."""
    inet = host(p, "internet")
    (sg_id,) = inet.security_groups
    group = next(g for g in p.vpcs["internet"].security_groups.values() if g.id == sg_id)
    fab.replace_security_group(dataclasses.replace(group, rules=()))
    return inet


def test_internet_ingress_reject_is_flow_logged_and_traced(p: plan.Plan) -> None:
    fab = Fabric(p)
    fab.trace = True
    app1 = host(p, "app1")
    inet = closed_internet(p, fab)
    igw = next(e for e in p.enis if e.kind == "igw" and e.owner == "customer")
    assert syn(fab, app1, inet.ip, 443) == []
    drops = [e for e in fab.events if isinstance(e, DropEvent)]
    assert [(d.reason, d.eni_id) for d in drops] == [("sg-ingress", inet.id)]
    assert ("ingress-sg", inet.id, "REJECT") in hops(fab)
    assert ("drop", inet.id, "DROP") in hops(fab)
    records = flow_log(fab)
    # The target rejects what it would have seen: the gateway's public address.
    rejected = [line for eni, line in records if eni == inet.id]
    assert len(rejected) == 1 and rejected[0].endswith(" REJECT OK")
    assert f" {igw.ip} {inet.ip} " in rejected[0]
    # The sender's egress let it out: ACCEPT, with the tuple it sent.
    sent = [line for eni, line in records if eni == app1.id]
    assert len(sent) == 1 and sent[0].endswith(" ACCEPT OK")
    assert f" {app1.ip} {inet.ip} 40000 443 " in sent[0]


def test_internet_ingress_accept_is_traced(p: plan.Plan) -> None:
    fab = Fabric(p)
    fab.trace = True
    app1, inet = host(p, "app1"), host(p, "internet")
    assert len(syn(fab, app1, inet.ip, 443)) == 1
    steps = hops(fab)
    assert ("egress-sg", app1.id, "ACCEPT") in steps
    assert ("ingress-sg", inet.id, "ACCEPT") in steps
    assert steps[-1] == ("deliver", inet.id, "FORWARD")


def test_vgw_path_traces_both_verdicts(p: plan.Plan) -> None:
    fab = Fabric(p)
    fab.trace = True
    laptop, app1 = host(p, "laptop"), host(p, "app1")
    assert len(syn(fab, laptop, app1.ip, 8080)) == 1
    steps = hops(fab)
    assert [s for s, _, _ in steps] == ["vgw", "egress-sg", "ingress-sg", "deliver"]
    assert ("egress-sg", laptop.id, "ACCEPT") in steps
    assert ("ingress-sg", app1.id, "ACCEPT") in steps


def test_vgw_path_traces_and_logs_a_rejection(p: plan.Plan) -> None:
    fab = Fabric(p)
    fab.trace = True
    laptop, app1 = host(p, "laptop"), host(p, "app1")
    assert syn(fab, laptop, app1.ip, 9090) == []
    assert ("ingress-sg", app1.id, "REJECT") in hops(fab)
    records = dict(flow_log(fab))
    assert records[app1.id].endswith(" REJECT OK")
    assert records[laptop.id].endswith(" ACCEPT OK")


def test_untraced_flows_build_no_hops(p: plan.Plan) -> None:
    fab = Fabric(p)
    laptop, app1 = host(p, "laptop"), host(p, "app1")
    assert len(syn(fab, laptop, app1.ip, 8080)) == 1
    assert hops(fab) == []


def test_events_pushed_out_of_the_full_queue_are_counted(p: plan.Plan) -> None:
    fab = Fabric(p)
    assert fab.counters["events.dropped"] == 0
    fab.events = collections.deque(maxlen=2)
    for _ in range(5):
        assert fab.handle(999, b"\x00" * 60, 1.0) == []  # unknown port: one DropEvent each
    assert fab.counters["events.dropped"] == 3
    assert fab.counters["dropped.unknown-port"] == 5
    got = fab.drain_events()
    assert [e.reason for e in got if isinstance(e, DropEvent)] == ["unknown-port"] * 2
    assert not fab.events
    assert fab.drain_events() == []


def test_drop_reasons_keep_their_wire_strings() -> None:
    assert DropReason.TTL_EXPIRED == "ttl-expired"
    assert "dropped." + DropReason.SG_INGRESS == "dropped.sg-ingress"
    assert f"{DropReason.NO_ROUTE}" == "no-route"
    values = [r.value for r in DropReason]
    assert len(values) == len(set(values))
