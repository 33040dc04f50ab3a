"""HTTP API VPC links in the core: Hyperplane ENIs and VPC-to-VPC NAT."""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import DropEvent

TOPOLOGY = """
name: thttp
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      link: {}
      app:
        ingress: [{port: 8080, source: SOURCE}]
    hosts:
      app1: {subnet: a, security_groups: [app]}
      app2: {subnet: b, security_groups: [app]}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a, b]
        listeners: [{port: 80, target_group: orders}]
        target_groups:
          orders: {port: 8080, targets: [app1, app2], preserve_client_ip: PRESERVE}
apis:
  shop:
    type: http
    vpc_links:
      shop-link: {vpc: customer, subnets: [a, b], security_groups: [link]}
    stages: [$default]
    routes:
      "GET /orders":
        integration: {type: HTTP_PROXY, connection_type: VPC_LINK, connection_id: shop-link,
                      uri: "customer/orders-nlb:80"}
"""


def build(source: str = "sg/link", preserve: bool = True) -> plan.Plan:
    text = TOPOLOGY.replace("SOURCE", source).replace("PRESERVE", str(preserve).lower())
    return plan.build(spec.loads(text))


def syn(p: plan.Plan, fab: Fabric, sport: int) -> list[tuple[int, Any]]:
    link = next(iter(p.vpc_links_v2.values()))
    agw = p.eni(p.api_gateway.eni)  # type: ignore[union-attr]
    frame = (
        Ether(src=agw.mac, dst=agw.fabric_mac)
        / IP(src=agw.ip, dst=link.front_ip)
        / TCP(sport=sport, dport=link.targets[0].port, flags="S")
    )
    return [(port, Ether(bytes(f))) for port, f in fab.handle(agw.port, bytes(frame), 1.0)]


def test_plan_gives_the_link_an_eni_per_subnet_with_its_groups_and_a_front() -> None:
    p = build()
    (link,) = p.vpc_links_v2.values()
    enis = [p.eni(e) for e in link.enis]
    assert [e.kind for e in enis] == ["vpclink", "vpclink"]
    assert {e.az for e in enis} == {"us-east-1a", "us-east-1b"}
    assert all(e.security_groups == (p.vpcs["customer"].security_groups["link"].id,) for e in enis)
    assert p.eni(link.front_eni).vpc == "apigateway"
    assert link.targets[0].kind == "nlb" and link.targets[0].dport == 80


def test_targets_see_the_link_eni_and_an_sg_reference_to_the_link_group_admits_it() -> None:
    p = build()
    fab = Fabric(p)
    (link,) = p.vpc_links_v2.values()
    link_ips = {p.eni(e).ip for e in link.enis}
    out = syn(p, fab, 40000)
    assert len(out) == 1, [e for e in fab.events if isinstance(e, DropEvent)]
    port, pkt = out[0]
    assert pkt[IP].src in link_ips
    assert port in {e.port for e in p.enis if e.owner in ("app1", "app2")}


def test_without_client_ip_preservation_targets_see_the_nlb() -> None:
    p = build(source="10.0.0.0/16", preserve=False)
    fab = Fabric(p)
    _, pkt = syn(p, fab, 40001)[0]
    assert pkt[IP].src in {e.ip for e in p.enis if e.kind == "nlb"}


def test_a_target_group_that_does_not_admit_the_link_blocks_it() -> None:
    p = build(source="10.9.0.0/16")
    fab = Fabric(p)
    assert syn(p, fab, 40002) == []
    assert [e.reason for e in fab.events if isinstance(e, DropEvent)][-1] == "sg-ingress"


def test_an_nlb_with_groups_admits_the_link_only_when_its_group_names_the_link() -> None:
    # ELB guide, "Update the security groups for your Network Load Balancer": the
    # NLB's inbound rules judge what reaches its listeners, here the link's ENIs.
    for nlb_source, admitted in (("sg/link", True), ("10.9.0.0/16", False)):
        text = (
            TOPOLOGY.replace("SOURCE", "sg/nlb")
            .replace("PRESERVE", "false")
            .replace("      link: {}\n", f"      link: {{}}\n      nlb:\n        ingress: "
                     f"[{{port: 80, source: {nlb_source}}}]\n")
            .replace("        subnets: [a, b]\n        listeners",
                     "        subnets: [a, b]\n        security_groups: [nlb]\n        listeners")
        )  # fmt: skip
        p = plan.build(spec.loads(text))
        fab = Fabric(p)
        out = syn(p, fab, 40003)
        drops = [e for e in fab.events if isinstance(e, DropEvent)]
        if admitted:
            # ...and the target's rule naming the NLB's group admits the node.
            assert len(out) == 1, drops
            assert out[0][1][IP].src in {e.ip for e in p.enis if e.kind == "nlb"}
        else:
            assert out == [] and drops[-1].reason == "sg-ingress"
            assert drops[-1].eni_id in {e.id for e in p.enis if e.kind == "nlb"}


def test_the_internet_reaches_api_gateways_regional_front() -> None:
    # The regional front is built like an NLB but is not one: no group of an NLB
    # judges it (a regression guard for the NLB-group checks in paths/loadbalanced.py).
    p = build()
    fab = Fabric(p)
    inet = next(e for e in p.enis if e.owner == "internet" and e.kind == "host")
    front = p.eni(p.api_gateway.public_eni)  # type: ignore[union-attr]
    frame = (
        Ether(src=inet.mac, dst=inet.fabric_mac)
        / IP(src=inet.ip, dst=front.ip)
        / TCP(sport=40100, dport=443, flags="S")
    )
    out = fab.handle(inet.port, bytes(frame), 1.0)
    assert len(out) == 1, [e for e in fab.events if isinstance(e, DropEvent)]
