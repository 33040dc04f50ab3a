"""Routing inside a VPC: MAC rewrite, TTL, source/dest check, overlapping VPCs."""

from __future__ import annotations

from fabric_helpers import (
    APP1,
    APP2,
    CLIENT,
    GHOST,
    GHOST2,
    drops,
    fmac,
    frame,
    mac,
    make_plan,
    ping,
    tcp,
    udp,
)
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.plan.model import PlanRoute


def one(out: list[tuple[int, bytes]]) -> tuple[int, Ether]:
    assert len(out) == 1, out
    port, raw = out[0]
    return port, Ether(bytes(raw))


def test_same_subnet_goes_through_router(fab: Fabric) -> None:
    raw = frame(CLIENT, "10.0.1.11", tcp(40000, 8080))
    port, e = one(fab.handle(CLIENT, raw, 1.0))
    assert port == APP1
    assert e.dst == mac(APP1) and e.src == fmac(APP1)
    assert e[IP].src == "10.0.1.10" and e[IP].dst == "10.0.1.11"
    assert e[IP].ttl == 63
    assert internet_checksum(bytes(e[IP])[:20]) == 0
    assert bytes(e)[34:] == raw[34:]  # L4 untouched


def test_cross_subnet(fab: Fabric) -> None:
    port, e = one(fab.handle(CLIENT, frame(CLIENT, "10.0.2.10", tcp(40000, 8080)), 1.0))
    assert port == APP2
    assert e.dst == mac(APP2) and e.src == fmac(APP2)


def test_reply_goes_back_with_sender_macs(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, "10.0.2.10", tcp(40000, 8080)), 1.0)
    port, e = one(fab.handle(APP2, frame(APP2, "10.0.1.10", tcp(8080, 40000, "SA")), 1.1))
    assert port == CLIENT
    assert e.dst == mac(CLIENT) and e.src == fmac(CLIENT)


def test_ttl_expiry_is_a_silent_drop(fab: Fabric) -> None:
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", tcp(40000, 8080), ttl=1), 1.0) == []
    assert drops(fab) == ["ttl-expired"]
    port, e = one(fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", tcp(40000, 8080), ttl=2), 1.0))
    assert e[IP].ttl == 1


def test_unknown_destination_in_vpc_is_no_eni(fab: Fabric) -> None:
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.1.99", tcp(40000, 80)), 1.0) == []
    assert drops(fab) == ["no-eni"]
    assert fab.counters["dropped.no-eni"] == 1


def test_destination_outside_vpc_has_no_route(fab: Fabric) -> None:
    assert fab.handle(CLIENT, frame(CLIENT, "192.0.2.10", tcp(40000, 80)), 1.0) == []
    assert drops(fab) == ["no-route"]


def test_unemulated_route_target() -> None:
    fab = Fabric(make_plan(extra_routes=(PlanRoute("0.0.0.0/0", "igw-0123456789abcdef0"),)))
    assert fab.handle(CLIENT, frame(CLIENT, "192.0.2.10", tcp(40000, 80)), 1.0) == []
    assert drops(fab) == ["route-target-not-emulated"]
    ev = fab.events[-1]
    assert "igw-0123456789abcdef0" in ev.detail  # type: ignore[union-attr]


def test_source_dest_check_on_sender(fab: Fabric) -> None:
    raw = frame(CLIENT, "10.0.1.11", tcp(40000, 8080), src_ip="10.0.1.77")
    assert fab.handle(CLIENT, raw, 1.0) == []
    assert drops(fab) == ["src-dst-check"]
    assert fab.events[-1].eni_id == "eni-00000000000000000"  # type: ignore[union-attr]


def test_source_dest_check_off_lets_other_sources_out() -> None:
    fab = Fabric(make_plan(sdc={"client": False}))
    raw = frame(CLIENT, "10.0.1.11", tcp(40000, 8080), src_ip="10.0.1.77")
    port, e = one(fab.handle(CLIENT, raw, 1.0))
    assert port == APP1 and e[IP].src == "10.0.1.77"


def test_source_dest_check_on_delivery() -> None:
    # A route through an appliance ENI (app1): packets to 10.0.9.0/24 are not
    # addressed to it, so with its check on they are dropped, with it off delivered.
    route = (PlanRoute("10.0.9.0/24", "eni-00000000000000001"),)
    on = Fabric(make_plan(extra_routes=route))
    assert on.handle(CLIENT, frame(CLIENT, "10.0.9.5", tcp(40000, 8080)), 1.0) == []
    assert drops(on) == ["src-dst-check"]
    assert on.events[-1].eni_id == "eni-00000000000000001"  # type: ignore[union-attr]
    off = Fabric(make_plan(extra_routes=route, sdc={"app1": False}))
    port, e = one(off.handle(CLIENT, frame(CLIENT, "10.0.9.5", tcp(40000, 8080)), 1.0))
    assert port == APP1 and e[IP].dst == "10.0.9.5" and e.dst == mac(APP1)


def test_route_to_missing_eni_is_blackhole() -> None:
    fab = Fabric(make_plan(extra_routes=(PlanRoute("10.0.9.0/24", "eni-0ffffffffffffffff"),)))
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.9.5", tcp(40000, 8080)), 1.0) == []
    assert drops(fab) == ["blackhole"]


def test_overlapping_vpcs_stay_apart(fab: Fabric) -> None:
    # ghost (other VPC) has client's address; it talks to ghost2 = app1's address.
    port, e = one(fab.handle(GHOST, frame(GHOST, "10.0.1.11", tcp(40000, 22)), 1.0))
    assert port == GHOST2 and e.dst == mac(GHOST2)
    # and the customer VPC's identical tuple is a different flow, to app1
    port, e = one(fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", tcp(40000, 8080)), 1.0))
    assert port == APP1
    # replies go back into their own VPC
    port, _ = one(fab.handle(GHOST2, frame(GHOST2, "10.0.1.10", tcp(22, 40000, "SA")), 1.1))
    assert port == GHOST
    port, _ = one(fab.handle(APP1, frame(APP1, "10.0.1.10", tcp(8080, 40000, "SA")), 1.1))
    assert port == CLIENT
    assert fab.counters["conntrack.entries"] == 2


def test_router_answers_ping(fab: Fabric) -> None:
    port, e = one(fab.handle(CLIENT, frame(CLIENT, "10.0.1.1", ping(ident=9, seq=3)), 1.0))
    assert port == CLIENT
    assert e.dst == mac(CLIENT) and e.src == fmac(CLIENT)
    assert e[IP].src == "10.0.1.1" and e[IP].dst == "10.0.1.10"
    assert e[ICMP].type == 0 and e[ICMP].id == 9 and e[ICMP].seq == 3
    assert bytes(e[ICMP].payload) == b"abcdefgh"
    assert internet_checksum(bytes(e[IP])[:20]) == 0
    assert internet_checksum(bytes(e[ICMP])) == 0


def test_other_router_services_dropped_for_now(fab: Fabric) -> None:
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.0.2", udp(5353, 53)), 1.0) == []
    assert fab.handle(CLIENT, frame(CLIENT, "169.254.169.253", udp(5353, 53)), 1.0) == []
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.1.1", tcp(4000, 80)), 1.0) == []
    assert drops(fab) == ["vpc-service-not-emulated"] * 3


def test_non_ipv4_and_bad_l2(fab: Fabric) -> None:
    v6 = bytes(Ether(src=mac(0), dst=fmac(0)) / IPv6(dst="fd00::1") / TCP())
    vlan = bytes(
        Ether(src=mac(0), dst=fmac(0))
        / Dot1Q(vlan=5)
        / IP(src="10.0.1.10", dst="10.0.1.11")
        / TCP()
    )
    bcast = bytes(
        Ether(src=mac(0), dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.1.10", dst="10.0.1.255") / TCP()
    )
    other = bytes(
        Ether(src=mac(0), dst="02:00:00:00:00:01") / IP(src="10.0.1.10", dst="10.0.1.11") / TCP()
    )
    for raw in (v6, vlan, bcast, other, b"\x00" * 10):
        assert fab.handle(CLIENT, raw, 1.0) == []
    assert drops(fab) == [
        "ipv6-not-enabled",
        "vlan-tagged",
        "not-unicast",
        "l2-not-for-router",
        "truncated",
    ]


def test_unknown_port(fab: Fabric) -> None:
    assert fab.handle(42, frame(CLIENT, "10.0.1.11", tcp(1, 8080)), 1.0) == []
    assert fab.handle(-1, frame(CLIENT, "10.0.1.11", tcp(1, 8080)), 1.0) == []
    assert fab.counters["dropped.unknown-port"] == 2


def test_bad_ip_headers(fab: Fabric) -> None:
    good = frame(CLIENT, "10.0.1.11", tcp(40000, 8080))
    bad_ihl = good[:14] + b"\x44" + good[15:]
    bad_csum = good[:24] + b"\x00\x00" + good[26:]
    truncated = good[:40]
    for raw in (bad_ihl, bad_csum, truncated):
        assert fab.handle(CLIENT, raw, 1.0) == []
    assert drops(fab) == ["bad-ihl", "bad-ip-checksum", "truncated"]


def test_ip_options_forwarded(fab: Fabric) -> None:
    raw = bytes(
        Ether(src=mac(0), dst=fmac(0))
        / IP(src="10.0.1.10", dst="10.0.1.11", options=[b"\x01\x01\x01\x00"])
        / TCP(sport=40000, dport=8080, flags="S")
    )
    port, e = one(fab.handle(CLIENT, raw, 1.0))
    assert port == APP1 and e[IP].ihl == 6 and e[TCP].dport == 8080
    assert internet_checksum(bytes(e[IP])[:24]) == 0


def test_fragments_follow_first_fragment(fab: Fabric) -> None:
    from scapy.layers.inet import fragment

    pkt = (
        IP(src="10.0.1.10", dst="10.0.1.11", id=777)
        / TCP(sport=40000, dport=8080, flags="S")
        / (b"q" * 200)
    )
    frags = fragment(pkt, fragsize=64)
    assert len(frags) > 2
    for f in frags:
        port, e = one(fab.handle(CLIENT, bytes(Ether(src=mac(0), dst=fmac(0)) / f), 1.0))
        assert port == APP1
    # A later fragment nobody opened is dropped.
    stray = IP(src="10.0.1.10", dst="10.0.1.11", id=778, frag=8, proto=6) / (b"q" * 16)
    assert fab.handle(CLIENT, bytes(Ether(src=mac(0), dst=fmac(0)) / stray), 1.0) == []
    assert drops(fab) == ["fragment-no-flow"]


def test_fragment_of_denied_flow_is_dropped(fab: Fabric) -> None:
    from scapy.layers.inet import fragment

    pkt = (
        IP(src="10.0.1.10", dst="10.0.1.11", id=779)
        / TCP(sport=40000, dport=22, flags="S")
        / (b"q" * 200)
    )
    outs = [
        fab.handle(CLIENT, bytes(Ether(src=mac(0), dst=fmac(0)) / f), 1.0)
        for f in fragment(pkt, 64)
    ]
    assert all(o == [] for o in outs)
    assert drops(fab)[0] == "sg-ingress"
    assert set(drops(fab)[1:]) == {"fragment-no-flow"}


def test_a_spoofed_source_is_dropped_and_flow_logged_as_reject(fab: Fabric) -> None:
    raw = frame(CLIENT, "10.0.1.11", tcp(40001, 8080), src_ip="10.0.1.99")
    assert fab.handle(CLIENT, raw, 1.0) == []
    fab.flush_flow_logs(2.0)
    lines = [r.line.split() for r in fab.drain_flow_logs()]
    assert [(x[2], x[3], x[12]) for x in lines] == [
        ("eni-00000000000000000", "10.0.1.99", "REJECT")
    ]
