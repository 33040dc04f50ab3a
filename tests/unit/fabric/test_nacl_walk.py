"""Network ACLs on real frames through the sans-IO fabric: the acceptance tests the
wiring must turn green (strict xfail until fabric/core.py calls fabric/nacl.py).

Where the walk must judge (fabric/nacl.py `AclTable.hop`): on every hop between two
ENIs of different subnets, the source subnet's outbound rules, then the destination
subnet's inbound rules; replies too (stateless), and a denial is a REJECT in flow
logs and a drop in trace naming the ACL and rule number."""

from __future__ import annotations

from scapy.layers.inet import TCP
from test_nlb_privatelink import World

from hyperplane_emu import plan, spec

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
WIRING = "the packet walk does not evaluate network ACLs yet (fabric/nacl.py AclTable.hop)"


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
