"""RFC 1624 incremental updates must equal a full recomputation (scapy's and ours)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from hyperplane_emu.fabric.checksum import (
    TTL_DECREMENT_CSUM,
    csum_replace16,
    internet_checksum,
)
from hyperplane_emu.fabric.conntrack import Flow, FlowHalf
from hyperplane_emu.fabric.nat import rewrite as _rewrite
from hyperplane_emu.fabric.nat import set_nat, translate

words = st.integers(0, 0xFFFF)
addrs = st.integers(1, 2**32 - 2)
ports = st.integers(1, 0xFFFF)


def _ip(n: int) -> str:
    return str(ipaddress.IPv4Address(n))


def test_internet_checksum_known_header() -> None:
    # RFC 1071-style example: a header with its checksum field in place sums to zero.
    hdr = bytes(IP(src="10.0.1.10", dst="10.0.2.10", ttl=64))[:20]
    assert internet_checksum(hdr) == 0
    zeroed = hdr[:10] + b"\x00\x00" + hdr[12:]
    assert internet_checksum(zeroed) == int.from_bytes(hdr[10:12], "big")


@settings(max_examples=3000)
@given(data=st.lists(words, min_size=2, max_size=30), idx=st.integers(0, 29), new=words)
def test_replace16_equals_full_recompute(data: list[int], idx: int, new: int) -> None:
    idx %= len(data)
    buf = b"".join(w.to_bytes(2, "big") for w in data)
    before = internet_checksum(buf)
    data2 = list(data)
    data2[idx] = new
    after = internet_checksum(b"".join(w.to_bytes(2, "big") for w in data2))
    inc = csum_replace16(before, data[idx], new)
    # One's complement has two zeros; RFC 1624 eq. 3 never yields 0x0000 for
    # a non-zero sum, so compare modulo the zero ambiguity.
    assert inc == after or {inc, after} == {0, 0xFFFF}


@settings(max_examples=1000)
@given(
    old=st.tuples(addrs, addrs, ports, ports),
    new=st.tuples(addrs, addrs, ports, ports),
    udp=st.booleans(),
    payload=st.binary(max_size=40),
)
def test_nat_deltas_equal_full_recompute(
    old: tuple[int, int, int, int], new: tuple[int, int, int, int], udp: bool, payload: bytes
) -> None:
    """set_nat's RFC 1624 deltas + translate give the checksums scapy computes afresh."""
    src, dst, sport, dport = old
    l4 = UDP(sport=sport, dport=dport) if udp else TCP(sport=sport, dport=dport)
    frame = bytes(Ether() / IP(src=_ip(src), dst=_ip(dst)) / l4 / payload)
    half = FlowHalf(Flow(0, 17 if udp else 6, src, dst, sport, dport, 0, 0.0), False, 0.0)
    set_nat(half, old, new)
    out = bytearray(frame)
    c = translate(out, half, (out[24] << 8) | out[25], 17 if udp else 6, 34)
    out[24:26] = c.to_bytes(2, "big")
    nsrc, ndst, nsport, ndport = new
    l4n = UDP(sport=nsport, dport=ndport) if udp else TCP(sport=nsport, dport=ndport)
    want = Ether(bytes(Ether() / IP(src=_ip(nsrc), dst=_ip(ndst)) / l4n / payload))
    got = Ether(bytes(out))
    assert got[IP].src == _ip(nsrc) and got[IP].dst == _ip(ndst)
    assert got[IP].chksum == want[IP].chksum
    have, expect = (
        (got[UDP].chksum, want[UDP].chksum) if udp else (got[TCP].chksum, want[TCP].chksum)
    )
    assert have == expect or {have, expect} == {0, 0xFFFF}


@settings(max_examples=2000)
@given(
    ttl=st.integers(2, 255),
    ident=words,
    tos=st.integers(0, 255),
    src=st.integers(0, 2**32 - 1),
    dst=st.integers(0, 2**32 - 1),
    flags=st.sampled_from([0, 2]),
    plen=st.integers(0, 64),
)
def test_ttl_decrement_matches_scapy(
    ttl: int, ident: int, tos: int, src: int, dst: int, flags: int, plen: int
) -> None:
    pkt = (
        Ether()
        / IP(src=_ip(src), dst=_ip(dst), ttl=ttl, id=ident, tos=tos, flags=flags)
        / TCP()
        / (b"z" * plen)
    )
    raw = bytes(pkt)
    out = bytes(_rewrite(raw, b"\x02" * 12))
    ref = Ether(raw)
    ref[IP].ttl -= 1
    del ref[IP].chksum
    expected = bytes(ref)[14:34]
    assert out[14:34] == expected
    assert internet_checksum(out[14:34]) == 0
    assert out[34:] == raw[34:]  # TCP untouched


def test_ttl_table_covers_every_checksum() -> None:
    assert len(TTL_DECREMENT_CSUM) == 65536
    for hc in (0, 1, 0xFEFF, 0xFF00, 0xFFFE, 0xFFFF):
        assert TTL_DECREMENT_CSUM[hc] == csum_replace16(hc, 0x4006, 0x3F06)


def _reference_checksum(b: bytes) -> int:
    if len(b) & 1:
        b += b"\x00"
    s = sum(int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


@settings(max_examples=3000)
@given(data=st.binary(max_size=200))
def test_internet_checksum_equals_word_sum(data: bytes) -> None:
    assert internet_checksum(data) == _reference_checksum(data)


def test_internet_checksum_edge_values() -> None:
    for b in (b"", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff\xff", b"\x00\x01\xff\xfe", b"\x80"):
        assert internet_checksum(b) == _reference_checksum(b)
