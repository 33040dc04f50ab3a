"""NLB and PrivateLink in the sans-IO core: target choice, translation, SGs, state."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import DropEvent

TOPOLOGY = """
name: tpl
region: us-east-1
accounts: {customer: "111122223333", provider: "444455556666"}
vpcs:
  consumer:
    cidr: 10.0.0.0/16
    account: customer
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      vpce:
        ingress: [{port: 80, source: 10.0.0.0/16}, {protocol: udp, port: 53, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a}
      client-b: {subnet: b}
    endpoints:
      orders: {service: provider/orders-svc, subnets: [a, b], security_groups: [vpce]}
  provider:
    cidr: 10.0.0.0/16
    account: provider
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      app:
        ingress:
          - {port: 8080, source: 10.0.0.0/16}
          - {protocol: udp, port: 5353, source: 10.0.0.0/16}
    hosts:
      app1: {subnet: a, security_groups: [app]}
      app2: {subnet: b, security_groups: [app]}
      pclient: {subnet: a}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a, b]
        cross_zone: CROSS
        listeners:
          - {port: 80, target_group: orders}
          - {port: 53, protocol: udp, target_group: dns}
        target_groups:
          orders: {port: 8080, targets: [app1, app2], preserve_client_ip: PRESERVE}
          dns: {protocol: udp, port: 5353, target_type: ip, targets: [IP1]}
    endpoint_services:
      orders-svc:
        load_balancer: orders-nlb
        acceptance_required: ACCEPTANCE
        allowed_principals: ["111122223333"]
"""


def build(cross: bool = False, preserve: bool = True, acceptance: bool = False) -> plan.Plan:
    # The ip target is app1's address, known only after planning: plan twice.
    text = (
        TOPOLOGY.replace("CROSS", str(cross).lower())
        .replace("PRESERVE", str(preserve).lower())
        .replace("ACCEPTANCE", str(acceptance).lower())
    )
    first = plan.build(spec.loads(text.replace("IP1", "10.0.1.200")))
    app1 = next(e.ip for e in first.enis if e.owner == "app1")
    return plan.build(spec.loads(text.replace("IP1", app1)))


class World:
    def __init__(self, p: plan.Plan) -> None:
        self.p = p
        self.fab = Fabric(p)
        self.now = 1000.0

    def eni(self, owner: str, kind: str = "host", az: str | None = None) -> Any:
        return next(
            e
            for e in self.p.enis
            if e.owner == owner and e.kind == kind and (az is None or e.az.endswith(az))
        )

    def send(self, owner: str, dst: str, l4: Any, **ip: Any) -> list[tuple[int, Any]]:
        e = self.eni(owner)
        pkt = Ether(src=e.mac, dst=e.fabric_mac) / IP(src=e.ip, dst=dst, **ip) / l4
        self.now += 0.001
        return [
            (port, Ether(bytes(f))) for port, f in self.fab.handle(e.port, bytes(pkt), self.now)
        ]

    def drops(self) -> list[str]:
        return [e.reason for e in self.fab.events if isinstance(e, DropEvent)]


def checksums_valid(pkt: Any) -> bool:
    fresh = Ether(bytes(pkt))
    ip = fresh[IP]
    want_ip = ip.chksum
    del ip.chksum
    l4 = fresh[TCP] if TCP in fresh else fresh[UDP]
    want_l4 = l4.chksum
    del l4.chksum
    again = Ether(bytes(fresh))
    return bool(
        again[IP].chksum == want_ip
        and (again[TCP] if TCP in again else again[UDP]).chksum == want_l4
    )


@pytest.fixture
def w() -> World:
    return World(build())


def vpce_ip(w: World, az: str) -> str:
    return str(w.eni("orders", "vpce", az).ip)


def test_privatelink_syn_reaches_the_target_from_the_nlb_address(w: World) -> None:
    out = w.send("client", vpce_ip(w, "a"), TCP(sport=40000, dport=80, flags="S", seq=1))
    assert len(out) == 1
    port, pkt = out[0]
    app1, node_a = w.eni("app1"), w.eni("orders-nlb", "nlb", "a")
    assert port == app1.port
    assert pkt[IP].src == node_a.ip and pkt[IP].dst == app1.ip
    assert pkt[TCP].dport == 8080 and 10000 <= pkt[TCP].sport <= 65535
    assert pkt[Ether].dst == app1.mac and pkt[IP].ttl == 63
    assert checksums_valid(pkt)


def test_reply_is_reverse_translated_and_the_data_path_keeps_checksums(w: World) -> None:
    client, app1 = w.eni("client"), w.eni("app1")
    vip = vpce_ip(w, "a")
    _, syn = w.send("client", vip, TCP(sport=40001, dport=80, flags="S", seq=100))[0]
    nat_ip, nat_port = syn[IP].src, syn[TCP].sport
    out = w.send("app1", nat_ip, TCP(sport=8080, dport=nat_port, flags="SA", seq=500, ack=101))
    port, synack = out[0]
    assert port == client.port
    assert (synack[IP].src, synack[TCP].sport) == (vip, 80)
    assert (synack[IP].dst, synack[TCP].dport) == (client.ip, 40001)
    assert checksums_valid(synack)
    # Established: both directions take the fast path and stay correct.
    for i in range(3):
        _, fwd = w.send(
            "client", vip, TCP(sport=40001, dport=80, flags="PA", seq=101 + i) / (b"x" * 9)
        )[0]
        assert fwd[IP].dst == app1.ip and fwd[TCP].sport == nat_port and checksums_valid(fwd)
        _, back = w.send("app1", nat_ip, TCP(sport=8080, dport=nat_port, flags="A") / b"ok")[0]
        assert back[IP].src == vip and checksums_valid(back)
    assert w.fab.counters["fastpath.entries"] == 2


def test_the_provider_never_sees_the_consumer_address(w: World) -> None:
    for sport in range(41000, 41040):
        for _, pkt in w.send("client", vpce_ip(w, "a"), TCP(sport=sport, dport=80, flags="S")):
            assert pkt[IP].src != w.eni("client").ip


def test_cross_zone_off_keeps_flows_in_the_endpoint_az() -> None:
    w = World(build(cross=False))
    targets = {
        w.send("client-b", vpce_ip(w, "b"), TCP(sport=s, dport=80, flags="S"))[0][0]
        for s in range(42000, 42050)
    }
    assert targets == {w.eni("app2").port}


def test_cross_zone_on_spreads_flows_by_hash_and_a_flow_is_sticky() -> None:
    w = World(build(cross=True))
    ports = [
        w.send("client", vpce_ip(w, "a"), TCP(sport=s, dport=80, flags="S", seq=s))[0][0]
        for s in range(43000, 43200)
    ]
    counts = {p: ports.count(p) for p in set(ports)}
    assert set(counts) == {w.eni("app1").port, w.eni("app2").port}
    assert min(counts.values()) > 60
    # A retransmitted SYN (same tuple, same sequence number) goes where the first went.
    again = w.send("client", vpce_ip(w, "a"), TCP(sport=43000, dport=80, flags="S", seq=43000))
    assert again[0][0] == ports[0]


def test_unhealthy_targets_get_no_new_flows_and_all_unhealthy_fails_open() -> None:
    w = World(build(cross=True))
    key = "provider/orders-nlb"
    w.fab.set_target_health(key, "orders", "app1", "unhealthy")
    w.fab.set_target_health(key, "orders", "app2", "healthy")
    ports = {
        w.send("client", vpce_ip(w, "a"), TCP(sport=s, dport=80, flags="S", seq=s))[0][0]
        for s in range(44000, 44040)
    }
    assert ports == {w.eni("app2").port}
    w.fab.set_target_health(key, "orders", "app2", "unhealthy")
    ports = {
        w.send("client", vpce_ip(w, "a"), TCP(sport=s, dport=80, flags="S", seq=s))[0][0]
        for s in range(45000, 45060)
    }
    assert ports == {w.eni("app1").port, w.eni("app2").port}


def test_endpoint_security_group_blocks_before_privatelink(w: World) -> None:
    assert w.send("client", vpce_ip(w, "a"), TCP(sport=46000, dport=81, flags="S")) == []
    assert w.drops()[-1] == "sg-ingress"


def test_target_security_group_is_judged_against_the_nlb_address(w: World) -> None:
    app = w.p.vpcs["provider"].security_groups["app"]
    only_client = plan.model.PlanSecurityGroup(
        app.id,
        app.name,
        app.vpc,
        "",
        tuple(
            plan.model.PlanSgRule(
                r.rule_id,
                r.direction,
                r.protocol,
                r.from_port,
                r.to_port,
                f"{w.eni('client').ip}/32" if r.direction == "ingress" else r.cidr,
                r.group_id,
            )
            for r in app.rules
        ),
    )
    w.fab.replace_security_group(only_client)
    assert w.send("client", vpce_ip(w, "a"), TCP(sport=46001, dport=80, flags="S")) == []
    assert w.drops()[-1] == "sg-ingress"


def test_pending_connection_carries_nothing_until_accepted_and_reject_cuts_flows() -> None:
    w = World(build(acceptance=True))
    ep = w.p.endpoints["consumer/orders"]
    assert ep.state == "pendingAcceptance"
    assert w.send("client", vpce_ip(w, "a"), TCP(sport=47000, dport=80, flags="S")) == []
    assert w.drops()[-1] == "endpoint-pendingAcceptance"
    w.fab.set_endpoint_state(ep.id, "available")
    _, syn = w.send("client", vpce_ip(w, "a"), TCP(sport=47001, dport=80, flags="S"))[0]
    w.send("app1", syn[IP].src, TCP(sport=8080, dport=syn[TCP].sport, flags="SA"))
    w.fab.set_endpoint_state(ep.id, "rejected")
    assert w.send("client", vpce_ip(w, "a"), TCP(sport=47001, dport=80, flags="A")) == []
    assert w.drops()[-1] in ("nlb-no-flow", "endpoint-rejected")


def test_same_vpc_nlb_preserves_the_client_address_or_not() -> None:
    node = None
    for preserve, expect_client in ((True, True), (False, False)):
        w = World(build(preserve=preserve))
        node = w.eni("orders-nlb", "nlb", "a")
        pc = w.eni("pclient")
        _, pkt = w.send("pclient", node.ip, TCP(sport=48000, dport=80, flags="S"))[0]
        assert (pkt[IP].src == pc.ip) is expect_client
        assert (pkt[IP].src == node.ip) is (not expect_client)
        assert checksums_valid(pkt)


def test_ip_target_udp_listener_translates_udp(w: World) -> None:
    _, pkt = w.send("client", vpce_ip(w, "a"), UDP(sport=5000, dport=53) / b"query")[0]
    assert pkt[UDP].dport == 5353 and pkt[IP].dst == w.eni("app1").ip
    assert checksums_valid(pkt)
    _, zero = w.send("client", vpce_ip(w, "a"), UDP(sport=5001, dport=53, chksum=0) / b"q")[0]
    assert Ether(bytes(zero))[UDP].chksum == 0


def test_the_provider_cannot_open_flows_to_the_consumer(w: World) -> None:
    # The consumer's addresses mean nothing in the provider VPC (overlapping CIDRs).
    assert w.send("app1", w.eni("client").ip, TCP(sport=1234, dport=80, flags="S")) in ([],)
    assert all(
        p != w.eni("client").port
        for p, _ in w.send("app1", vpce_ip(w, "a"), TCP(sport=1235, dport=80, flags="S"))
    )


def test_no_listener_is_dropped_and_non_syn_is_reset(w: World) -> None:
    node = w.eni("orders-nlb", "nlb", "a")
    assert w.send("pclient", node.ip, TCP(sport=1, dport=81, flags="S")) == []
    assert w.drops()[-1] == "nlb-no-listener"
    # A packet of a connection the NLB does not know: counted, and answered by a RST (AWS).
    out = w.send("pclient", node.ip, TCP(sport=1, dport=80, flags="A", ack=77))
    assert [(str(p[TCP].flags), p[TCP].seq) for _, p in out] == [("R", 77)]
    assert w.drops()[-1] == "nlb-no-flow"


def test_flow_logs_show_each_side_its_own_addresses(w: World) -> None:
    vip = vpce_ip(w, "a")
    _, syn = w.send("client", vip, TCP(sport=49000, dport=80, flags="S"))[0]
    w.fab.flush_flow_logs(w.now + 1)
    lines = {(r.eni_id, tuple(r.line.split()[3:7])) for r in w.fab.drain_flow_logs()}
    client, app1 = w.eni("client"), w.eni("app1")
    vpce_eni, node = w.eni("orders", "vpce", "a"), w.eni("orders-nlb", "nlb", "a")
    consumer_view = (client.ip, vip, "49000", "80")
    provider_view = (node.ip, app1.ip, str(syn[TCP].sport), "8080")
    assert lines == {
        (client.id, consumer_view),
        (vpce_eni.id, consumer_view),
        (node.id, provider_view),
        (app1.id, provider_view),
    }


def test_nlb_idle_timeout_expires_tcp_flows_after_350_seconds(w: World) -> None:
    vip = vpce_ip(w, "a")
    _, syn = w.send("client", vip, TCP(sport=49500, dport=80, flags="S"))[0]
    w.send("app1", syn[IP].src, TCP(sport=8080, dport=syn[TCP].sport, flags="SA"))
    assert w.fab.counters["conntrack.entries"] == 1
    w.fab.tick(w.now + 349)
    assert w.fab.counters["conntrack.entries"] == 1
    w.fab.tick(w.now + 352)
    assert w.fab.counters["conntrack.entries"] == 0


def test_dns_queries_reach_the_resolver_whatever_the_security_groups(w: World) -> None:
    resolver = next(e for e in w.p.enis if e.kind == "resolver" and e.vpc == "consumer")
    for dst in ("10.0.0.2", "169.254.169.253"):
        out = w.send("client", dst, UDP(sport=33000, dport=53) / b"q")
        assert [p for p, _ in out] == [resolver.port]


def test_a_captured_endpoint_and_nlb_node_see_their_own_side_of_the_translation(
    w: World,
) -> None:
    vpce_eni, node = w.eni("orders", "vpce", "a"), w.eni("orders-nlb", "nlb", "a")
    w.fab.mirror_start(vpce_eni.id)
    w.fab.mirror_start(node.id)
    vip = vpce_ip(w, "a")
    _, syn = w.send("client", vip, TCP(sport=49700, dport=80, flags="S"))[0]
    w.send("app1", syn[IP].src, TCP(sport=8080, dport=syn[TCP].sport, flags="SA"))
    w.send("client", vip, TCP(sport=49700, dport=80, flags="A"))  # established: still mirrored
    seen = [(eni, Ether(f)) for eni, f in w.fab.drain_mirror()]
    on_vpce = [(p[IP].src, p[IP].dst) for e, p in seen if e == vpce_eni.id]
    on_node = [(p[IP].src, p[IP].dst) for e, p in seen if e == node.id]
    client, app1 = w.eni("client").ip, w.eni("app1").ip
    assert on_vpce == [(client, vip), (vip, client), (client, vip)]
    assert on_node == [(node.ip, app1), (app1, node.ip), (node.ip, app1)]
    w.fab.mirror_stop(vpce_eni.id)
    w.fab.mirror_stop(node.id)
    w.send("client", vip, TCP(sport=49700, dport=80, flags="A"))
    assert w.fab.drain_mirror() == []


def test_the_receiver_can_ask_who_really_opened_a_translated_flow(w: World) -> None:
    vip = vpce_ip(w, "a")
    _, syn = w.send("client", vip, TCP(sport=49800, dport=80, flags="S"))[0]
    origin = w.fab.nat_origin(
        "provider", 6, syn[IP].src, syn[TCP].sport, syn[IP].dst, syn[TCP].dport
    )
    assert origin is not None
    assert (origin["src"], origin["sport"]) == (w.eni("client").ip, 49800)
    assert origin["vpc"] == w.p.vpcs["consumer"].id
    assert w.fab.nat_origin("provider", 6, syn[IP].src, 1, syn[IP].dst, 8080) is None
