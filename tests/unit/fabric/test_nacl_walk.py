"""Network ACLs on real frames through the sans-IO fabric (fabric/boundary.py).

Where the walk judges: on every hop between two
ENIs of different subnets, the source subnet's outbound rules, then the destination
subnet's inbound rules; replies too (stateless), and a denial is a REJECT in flow
logs and a drop in trace naming the ACL and rule number."""

from __future__ import annotations

import dataclasses

from scapy.layers.inet import TCP
from test_nlb_privatelink import TOPOLOGY as NLB_TOPOLOGY
from test_nlb_privatelink import World

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.events import DropEvent, TraceHop
from hyperplane_emu.plan.model import PlanNetworkAcl

TOPOLOGY = """
name: nacl-walk
region: us-east-1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      open:
        ingress: [{protocol: all, source: 0.0.0.0/0}]
    hosts:
      web: {subnet: a, security_groups: [open]}
      web2: {subnet: a, security_groups: [open]}
      client: {subnet: b, security_groups: [open]}
    network_acls:
      web:
        subnets: [a]
        inbound:
          - {rule: 100, action: allow, protocol: tcp, port: 8080, cidr: 10.0.0.0/16}
        outbound:
          - {rule: 100, action: allow, protocol: tcp, port: 8080, cidr: 10.0.0.0/16}
RETURN
"""
RETURN_RULE = (
    "          - {rule: 110, action: allow, protocol: tcp, port: 1024-65535, cidr: 10.0.0.0/16}"
)


def world(return_rule: bool) -> World:
    text = TOPOLOGY.replace("RETURN", RETURN_RULE if return_rule else "")
    return World(plan.build(spec.loads(text)))


def test_syn_enters_through_the_inbound_rule() -> None:
    w = world(return_rule=False)
    web = w.eni("web")
    assert len(w.send("client", web.ip, TCP(sport=40112, dport=8080, flags="S"))) == 1


def test_ephemeral_port_trap_the_reply_is_denied_without_the_return_rule() -> None:
    w = world(return_rule=False)
    client, web = w.eni("client"), w.eni("web")
    w.send("client", web.ip, TCP(sport=40112, dport=8080, flags="S", seq=1))
    # The SYN-ACK leaves subnet a to port 40112: outbound allows only 8080.
    assert w.send("web", client.ip, TCP(sport=8080, dport=40112, flags="SA", ack=2)) == []


def test_with_the_return_rule_the_reply_leaves() -> None:
    w = world(return_rule=True)
    client, web = w.eni("client"), w.eni("web")
    w.send("client", web.ip, TCP(sport=40112, dport=8080, flags="S", seq=1))
    assert len(w.send("web", client.ip, TCP(sport=8080, dport=40112, flags="SA", ack=2))) == 1


def test_a_port_the_inbound_rules_do_not_allow_is_denied() -> None:
    w = world(return_rule=True)
    assert w.send("client", w.eni("web").ip, TCP(sport=40113, dport=22, flags="S")) == []


def test_within_one_subnet_no_acl_is_evaluated() -> None:
    w = world(return_rule=False)
    assert len(w.send("web2", w.eni("web").ip, TCP(sport=40114, dport=22, flags="S"))) == 1


def _acl(w: World, name: str = "web") -> PlanNetworkAcl:
    return w.p.vpcs["v"].network_acls[name]


def test_a_denied_reply_is_rejected_on_the_web_eni_traced_and_counted() -> None:
    w = world(return_rule=False)
    client, web = w.eni("client"), w.eni("web")
    w.fab.trace = True
    w.send("client", web.ip, TCP(sport=40112, dport=8080, flags="S", seq=1))
    assert w.send("web", client.ip, TCP(sport=8080, dport=40112, flags="SA", ack=2)) == []
    hops = [h for h in w.fab.events if isinstance(h, TraceHop) and h.step == "nacl-outbound"]
    assert hops[-1].action == "REJECT" and hops[-1].where == web.id
    assert hops[-1].detail == f"{_acl(w).id} rule * (no rule matched)"
    assert w.fab.counters["dropped.nacl-outbound"] == 1
    w.fab.flush_flow_logs(w.now)
    lines = [r.line.split() for r in w.fab.drain_flow_logs() if r.eni_id == web.id]
    assert [web.ip, client.ip, "8080", "40112"] in [ln[3:7] for ln in lines if ln[12] == "REJECT"]


def test_a_reply_allowed_once_is_cached_with_the_flow() -> None:
    w = world(return_rule=True)
    client, web = w.eni("client"), w.eni("web")
    w.send("client", web.ip, TCP(sport=40115, dport=8080, flags="S", seq=1))
    w.send("web", client.ip, TCP(sport=8080, dport=40115, flags="SA", ack=2))
    flow = next(iter(w.fab.conntrack.flows()))
    assert flow.acl and flow.acl_reply is None


def test_a_rule_change_ends_the_flows_it_now_denies() -> None:
    w = world(return_rule=True)
    client, web = w.eni("client"), w.eni("web")
    w.send("client", web.ip, TCP(sport=40116, dport=8080, flags="S", seq=1))
    w.send("web", client.ip, TCP(sport=8080, dport=40116, flags="SA", ack=2))
    w.send("client", web.ip, TCP(sport=40116, dport=8080, flags="A", seq=2, ack=2))
    acl = _acl(w)
    stricter = dataclasses.replace(
        acl, entries=tuple(e for e in acl.entries if e.rule_number != 110)
    )
    assert w.fab.replace_network_acl(stricter) == 1
    assert w.fab.conntrack.count == 0
    # The client's next segment is picked up mid-stream and passes inbound; the
    # server's answer meets the new outbound rules.
    assert len(w.send("client", web.ip, TCP(sport=40116, dport=8080, flags="PA"))) == 1
    assert w.send("web", client.ip, TCP(sport=8080, dport=40116, flags="PA")) == []
    # Back to the return rule: no flow to end, the next reply passes.
    assert w.fab.replace_network_acl(acl) == 0
    assert len(w.send("web", client.ip, TCP(sport=8080, dport=40116, flags="PA"))) == 1


NLB_ACL = """    network_acls:
      b:
        subnets: [b]
        inbound: [{rule: 100, action: allow, protocol: tcp, port: 80, cidr: 10.0.0.0/16}]
        outbound: [{rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}]
    load_balancers:
"""


def nlb_world(cross: bool) -> World:
    text = (
        NLB_TOPOLOGY.replace("CROSS", str(cross).lower())
        .replace("PRESERVE", "false")
        .replace("ACCEPTANCE", "false")
        .replace("IP1", "10.0.1.200")
        .replace("    load_balancers:\n", NLB_ACL, 1)
    )
    return World(plan.build(spec.loads(text)))


def test_nlb_client_to_node_and_node_to_target_are_judged_apart() -> None:
    # Client (subnet a) -> node b crosses into subnet b: port 80 is allowed there, and
    # node b -> app2 stays inside subnet b.
    w = nlb_world(cross=False)
    node_b = w.eni("orders-nlb", "nlb", "b")
    assert len(w.send("pclient", node_b.ip, TCP(sport=41000, dport=80, flags="S"))) == 1
    # Cross-zone on: node a -> app2 crosses into subnet b on port 8080, which its
    # inbound rules do not allow; node a -> app1 crosses nothing.
    w = nlb_world(cross=True)
    node_a, app2 = w.eni("orders-nlb", "nlb", "a"), w.eni("app2")
    passed = 0
    for sport in range(41000, 41040):
        passed += len(w.send("pclient", node_a.ip, TCP(sport=sport, dport=80, flags="S")))
    denied = [e for e in w.fab.events if isinstance(e, DropEvent) and e.reason == "nacl-inbound"]
    assert passed and denied and passed + len(denied) == 40
    assert {e.eni_id for e in denied} == {app2.id}
    assert all(e.flow is not None and e.flow.dport == 80 for e in denied)
    assert all("rule * (no rule matched)" in e.detail and ":8080" in e.detail for e in denied)


GATEWAYS = """
name: tnaclgw
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
    network_acls:
      a:
        subnets: [a]
        inbound: [{rule: 100, action: allow, protocol: tcp, port: 8080, cidr: 172.16.0.0/16}]
        outbound: [{rule: 100, action: allow, protocol: tcp, port: 1024-65535, cidr: 0.0.0.0/0}]
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


def test_gateway_paths_cross_the_subnet_boundary() -> None:
    w = World(plan.build(spec.loads(GATEWAYS)))
    app1 = w.eni("app1")
    inet = next(e for e in w.p.enis if e.owner == "internet" and e.kind == "host")
    # To the internet on 443: outbound allows only 1024-65535.
    assert w.send("app1", inet.ip, TCP(sport=40000, dport=443, flags="S")) == []
    assert w.drops()[-1] == "nacl-outbound"
    # From on premises through the virtual private gateway: inbound 8080 is allowed,
    # and the reply to the laptop's ephemeral port leaves by outbound rule 100.
    laptop = w.eni("laptop")
    assert len(w.send("laptop", app1.ip, TCP(sport=40001, dport=8080, flags="S"))) == 1
    assert len(w.send("app1", laptop.ip, TCP(sport=8080, dport=40001, flags="SA"))) == 1
    assert w.send("laptop", app1.ip, TCP(sport=40002, dport=22, flags="S")) == []
    assert w.drops()[-1] == "nacl-inbound"
