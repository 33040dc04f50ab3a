"""NLB security groups as targets see them (ELB NLB guide, "Update the security groups
for your Network Load Balancer", https://docs.aws.amazon.com/elasticloadbalancing/
latest/network/load-balancer-security-groups.html): a target's rule naming the NLB's
group admits traffic through the NLB, "even if you enable client IP preservation".

The plan already puts the groups on the NLB's ENIs; the packet walk still judges the
target's ingress with no peer groups for NLB traffic (fabric/core.py, the NLB path:
`t_eni.policy.evaluate(..., eni.groups if preserve else _NO_GROUPS)`). The xfail
tests are strict: wiring the NLB node's groups in makes them pass, and then the
markers must go."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from test_nlb_privatelink import TOPOLOGY, World

from hyperplane_emu import plan, spec


def build(nlb_groups: bool, preserve: bool = False) -> plan.Plan:
    text = (
        TOPOLOGY.replace("CROSS", "false")
        .replace("PRESERVE", str(preserve).lower())
        .replace("ACCEPTANCE", "false")
        .replace("IP1", "10.0.1.200")
        .replace(
            "          - {port: 8080, source: 10.0.0.0/16}\n",
            "          - {port: 8080, source: sg/nlb}\n",
        )
        .replace(
            "    hosts:\n      app1:",
            "      nlb:\n        ingress: [{port: 80, source: 10.0.0.0/16}]\n"
            "    hosts:\n      app1:",
        )
    )
    if nlb_groups:
        text = text.replace(
            "        cross_zone: false\n",
            "        cross_zone: false\n        security_groups: [nlb]\n",
        )
    return plan.build(spec.loads(text))


WIRING = "paths/loadbalanced.py passes no NLB groups as peer groups to the target's SG"


def test_target_rule_naming_the_nlb_group_admits_the_nlb_address() -> None:
    w = World(build(nlb_groups=True))
    node = w.eni("orders-nlb", "nlb", "a")
    assert node.security_groups == (w.p.vpcs["provider"].security_groups["nlb"].id,)
    out = w.send("pclient", node.ip, TCP(sport=48000, dport=80, flags="S"))
    assert len(out) == 1
    _, pkt = out[0]
    assert pkt[IP].src == node.ip and pkt[TCP].dport == 8080


def test_without_nlb_groups_the_same_target_rule_admits_nothing() -> None:
    w = World(build(nlb_groups=False))
    node = w.eni("orders-nlb", "nlb", "a")
    assert node.security_groups == ()
    assert w.send("pclient", node.ip, TCP(sport=48000, dport=80, flags="S")) == []


def test_with_client_ip_preserved_the_nlb_group_still_admits_the_client() -> None:
    w = World(build(nlb_groups=True, preserve=True))
    node, pc = w.eni("orders-nlb", "nlb", "a"), w.eni("pclient")
    out = w.send("pclient", node.ip, TCP(sport=48001, dport=80, flags="S"))
    assert len(out) == 1 and out[0][1][IP].src == pc.ip


def test_the_plan_puts_the_nlb_groups_on_every_node() -> None:
    p = build(nlb_groups=True)
    sg = p.vpcs["provider"].security_groups["nlb"].id
    nodes = [e for e in p.enis if e.kind == "nlb" and e.owner == "orders-nlb"]
    assert len(nodes) == 2 and all(e.security_groups == (sg,) for e in nodes)
