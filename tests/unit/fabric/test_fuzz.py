"""Fuzz: random and mutated frames never raise; what comes out is well-formed;
tables stay bounded; the fast path gives the same bytes as the slow path."""

from __future__ import annotations

import os
from typing import Any

from fabric_helpers import (
    APP1,
    APP2,
    CLIENT,
    GHOST,
    GHOST2,
    IPS,
    frame,
    mac,
    make_plan,
    ping,
    tcp,
    udp,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric

# HE_FUZZ_EXAMPLES=5000 for a long run; the default keeps the suite quick.
FUZZ_EXAMPLES = int(os.environ.get("HE_FUZZ_EXAMPLES", "300"))
PORTS = [CLIENT, APP1, APP2, GHOST, GHOST2]
DSTS = ["10.0.1.10", "10.0.1.11", "10.0.2.10", "10.0.1.1", "10.0.0.2", "10.0.1.99", "192.0.2.1"]


def _l4(kind: int, sport: int, dport: int, flags: str) -> Any:
    if kind == 0:
        return tcp(sport, dport, flags, b"p" * (sport % 40))
    if kind == 1:
        return udp(sport, dport, b"u" * (dport % 30))
    return ping(ident=sport, type_=8 if dport % 2 else 0)


@st.composite
def frames(draw: st.DrawFn) -> tuple[int, bytes]:
    port = draw(st.sampled_from(PORTS))
    dst = draw(st.sampled_from(DSTS))
    kind = draw(st.integers(0, 3))
    sport = draw(st.sampled_from([40000, 40001, 5000, 8080]))
    dport = draw(st.sampled_from([8080, 5000, 5005, 22, 40000]))
    flags = draw(st.sampled_from(["S", "SA", "A", "PA", "FA", "R", ""]))
    if kind == 3:
        raw = bytes(Ether(src=mac(port), dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=IPS[port], pdst=dst))
    else:
        raw = frame(
            port, dst, _l4(kind, sport, dport, flags), ttl=draw(st.sampled_from([1, 2, 64]))
        )
    mutation = draw(st.integers(0, 4))
    if mutation == 1:  # flip bytes
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] = draw(st.integers(0, 255))
        raw = bytes(b)
    elif mutation == 2:  # truncate
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif mutation == 3:  # garbage tail / padding
        raw = raw + draw(st.binary(max_size=40))
    elif mutation == 4 and draw(st.booleans()):  # pure noise
        raw = draw(st.binary(max_size=120))
    return draw(st.sampled_from(PORTS + [7, -3])) if mutation == 4 else port, raw


def l4_checksum_ok(ip: bytes) -> bool | None:
    """True/False for TCP/UDP checksums of an unfragmented packet, None otherwise."""
    ihl = (ip[0] & 0xF) * 4
    tot = int.from_bytes(ip[2:4], "big")
    if int.from_bytes(ip[6:8], "big") & 0x3FFF or ip[9] not in (6, 17):
        return None
    seg = ip[ihl:tot]
    if ip[9] == 17 and seg[6:8] == b"\x00\x00":
        return True
    pseudo = ip[12:20] + bytes([0, ip[9]]) + len(seg).to_bytes(2, "big")
    return internet_checksum(pseudo + seg) == 0


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(frames(), min_size=1, max_size=40), st.lists(st.floats(0, 500), min_size=1, max_size=5)
)
def test_fuzz_never_raises_and_emits_well_formed(
    batch: list[tuple[int, bytes]], ticks: list[float]
) -> None:
    fab = Fabric(make_plan(conntrack_max=8, flow_log_interval=5))
    now = 0.0
    for i, (port, raw) in enumerate(batch):
        now += 0.25
        out = fab.handle(port, raw, now)
        for out_port, emitted in out:
            b = bytes(emitted)
            assert 0 <= out_port < 5
            e = Ether(b)
            assert e.dst == mac(out_port)
            if e.type == 0x0806:
                assert e[ARP].op == 2
                continue
            assert e.type == 0x0800
            ip = b[14:]
            ihl = (ip[0] & 0xF) * 4
            assert ip[0] >> 4 == 4 and ihl >= 20
            assert internet_checksum(ip[:ihl]) == 0
            assert 14 + int.from_bytes(ip[2:4], "big") <= len(b)
            in_ip = raw[14:]
            if ICMP in e and e[IP].src.endswith(".1"):  # router's own echo reply
                assert internet_checksum(ip[ihl : int.from_bytes(ip[2:4], "big")]) == 0
                continue
            assert ip[8] == in_ip[8] - 1  # TTL
            assert ip[ihl:] == in_ip[ihl:]  # L4 untouched
            ok_in = l4_checksum_ok(in_ip)
            if ok_in:
                assert l4_checksum_ok(ip)
        if i % 10 == 9:
            fab.tick(now + ticks[i % len(ticks)])
        assert fab.conntrack.count <= 8
        assert len(fab._fast) <= 2 * fab.conntrack.count
        assert len(fab._frags) <= 4096
    for t in ticks:
        fab.tick(now + t)
    fab.tick(now + 10**6)
    assert fab.conntrack.count == 0 and len(fab._fast) == 0
    fab.drain_flow_logs()


@settings(max_examples=100, deadline=None)
@given(
    sport=st.integers(1024, 65535),
    payload=st.binary(max_size=300),
    ttl=st.integers(2, 255),
    tos=st.integers(0, 255),
    ident=st.integers(0, 65535),
)
def test_fast_path_equals_slow_path(
    sport: int, payload: bytes, ttl: int, tos: int, ident: int
) -> None:
    fab = Fabric(make_plan())
    fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", tcp(sport, 8080, "S")), 1.0)
    fab.handle(APP1, frame(APP1, "10.0.1.10", tcp(8080, sport, "SA")), 1.0)
    data = frame(CLIENT, "10.0.1.11", tcp(sport, 8080, "PA", payload), ttl=ttl, tos=tos, id=ident)
    assert fab.counters["fastpath.entries"] == 1  # the SYN-ACK's direction
    slow = fab.handle(CLIENT, data, 2.0)  # first data packet: slow path, installs its entry
    assert fab._fast_forwarded == 0
    assert fab.counters["fastpath.entries"] == 2
    before = fab._fast_forwarded
    fast = fab.handle(CLIENT, data, 3.0)
    assert fab._fast_forwarded == before + 1
    assert [(p, bytes(b)) for p, b in fast] == [(p, bytes(b)) for p, b in slow]
    e = Ether(bytes(fast[0][1]))
    assert e[IP].ttl == ttl - 1 and e[TCP].sport == sport
    ref = e.copy()
    del ref[IP].chksum
    assert Ether(bytes(ref))[IP].chksum == e[IP].chksum


def test_fast_path_refuses_bad_header_checksum_and_flags(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")), 1.0)
    fab.handle(APP1, frame(APP1, "10.0.1.10", tcp(8080, 40000, "SA")), 1.0)
    good = frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "A", b"x"))
    assert fab.handle(CLIENT, good, 2.0)
    bad = good[:24] + bytes([good[24] ^ 0xFF]) + good[25:]
    assert fab.handle(CLIENT, bad, 2.0) == []
    assert fab.counters["dropped.bad-ip-checksum"] == 1
    # UDP stream goes fast too once it is a stream
    for t in (3.0, 4.0):
        fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", udp(4000, 5000)), t)
        fab.handle(APP1, frame(APP1, "10.0.1.10", udp(5000, 4000)), t)
    assert fab.counters["fastpath.entries"] == 3  # the reply half became a stream
    fab.handle(CLIENT, frame(CLIENT, "10.0.1.11", udp(4000, 5000)), 5.0)
    assert fab.counters["fastpath.entries"] == 4
