"""gso.normalize against scapy-built wire frames: what the kernel's software GSO would send."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.gso import (
    F_DATA_VALID,
    F_NEEDS_CSUM,
    GSO_ECN,
    GSO_TCPV4,
    GSO_TCPV6,
    GSO_UDP,
    GSO_UDP_L4,
    normalize,
    pack_vnet_hdr,
    parse_vnet_hdr,
)

SRC, DST = "10.0.1.10", "10.0.2.10"
L2 = Ether(src="02:00:0a:00:00:00", dst="02:fa:0a:00:00:00")


def payload(n: int, seed: int = 7) -> bytes:
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def tcp_frame(data: bytes, flags: str = "PA", seq: int = 1000, ip_id: int = 0x1234) -> bytes:
    # The super frame's TCP checksum holds only a partial sum: garbage for our purpose.
    p = (
        L2
        / IP(src=SRC, dst=DST, id=ip_id, flags="DF", ttl=64)
        / TCP(
            sport=40000,
            dport=5201,
            seq=seq,
            ack=77,
            flags=flags,
            window=501,
            chksum=0xBEEF,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))],
        )
        / Raw(data)
    )
    return bytes(p)


def expected_tcp(
    data: bytes, mss: int, flags: str, seq: int = 1000, ip_id: int = 0x1234
) -> list[bytes]:
    out = []
    chunks = [data[i : i + mss] for i in range(0, len(data), mss)] or [b""]
    for i, chunk in enumerate(chunks):
        f = TCP(flags=flags).flags.value
        if i < len(chunks) - 1:
            f &= ~0x09
        if i:
            f &= ~0x80
        p = (
            L2
            / IP(src=SRC, dst=DST, id=(ip_id + i) & 0xFFFF, flags="DF", ttl=64)
            / TCP(
                sport=40000,
                dport=5201,
                seq=(seq + i * mss) & 0xFFFFFFFF,
                ack=77,
                flags=f,
                window=501,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))],
            )
            / Raw(chunk)
        )
        out.append(bytes(p))
    return out


def gso_tcp(mss: int, ecn: bool = False) -> bytes:
    return pack_vnet_hdr(F_NEEDS_CSUM, GSO_TCPV4 | (GSO_ECN if ecn else 0), 66, mss, 34, 16)


def l4_valid(frame: bytes, proto: int) -> bool:
    """The receiver's check: pseudo-header + L4 segment sums to 0xFFFF."""
    ip = frame[14:]
    ihl = (ip[0] & 0xF) * 4
    tot = int.from_bytes(ip[2:4], "big")
    l4 = ip[ihl:tot]
    pseudo = ip[12:20] + bytes([0, proto]) + len(l4).to_bytes(2, "big")
    return internet_checksum(pseudo + l4) == 0


@pytest.mark.parametrize(
    ("size", "mss"),
    [
        (4000, 1448),
        (1448 * 3, 1448),
        (1, 1448),
        (1449, 1448),
        (8949 * 7 + 3, 8949),
        (65000, 1448),
        (1001, 333),
        (999, 2),
    ],
)
@pytest.mark.parametrize("flags", ["PA", "A", "FPA", "CA", "CFPA"])
def test_tcp_segments_equal_scapy(size: int, mss: int, flags: str) -> None:
    data = payload(size)
    got = normalize(gso_tcp(mss), tcp_frame(data, flags))
    want = expected_tcp(data, mss, flags)
    assert len(got) == len(want) == -(-size // mss)
    for g, w in zip(got, want, strict=True):
        assert g == w
        assert l4_valid(g, 6)
    assert b"".join(bytes(Ether(g)[Raw]) for g in got) == data


def test_tcp_last_segment_keeps_fin_psh_first_keeps_cwr_and_wraps() -> None:
    data = payload(3000)
    got = [
        Ether(g)
        for g in normalize(
            gso_tcp(1000, ecn=True), tcp_frame(data, "CFPA", seq=0xFFFFFE00, ip_id=0xFFFF)
        )
    ]
    assert [str(p[TCP].flags) for p in got] == ["AC", "A", "FPA"]
    assert [p[TCP].seq for p in got] == [0xFFFFFE00, (0xFFFFFE00 + 1000) & 0xFFFFFFFF, 1488]
    assert [p[IP].id for p in got] == [0xFFFF, 0, 1]
    assert all(p[IP].len == 20 + 32 + 1000 for p in got)
    for p in got:
        ip = bytes(p[IP])[:20]
        assert internet_checksum(ip) == 0


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 9000),
    mss=st.integers(1, 9000),
    seed=st.integers(0, 255),
    seq=st.integers(0, 2**32 - 1),
    ip_id=st.integers(0, 0xFFFF),
)
def test_tcp_segments_property(size: int, mss: int, seed: int, seq: int, ip_id: int) -> None:
    data = payload(size, seed)
    got = normalize(gso_tcp(mss), tcp_frame(data, "PA", seq, ip_id))
    assert got == expected_tcp(data, mss, "PA", seq, ip_id)


def udp_frame(data: bytes, ip_id: int = 9) -> bytes:
    return bytes(
        L2 / IP(src=SRC, dst=DST, id=ip_id) / UDP(sport=5000, dport=5201, chksum=0x1111) / Raw(data)
    )


@pytest.mark.parametrize(
    ("size", "mss"), [(3000, 1472), (1472, 1472), (5, 1472), (8001, 1000), (999, 7)]
)
def test_udp_l4_segments_equal_scapy(size: int, mss: int) -> None:
    data = payload(size)
    got = normalize(pack_vnet_hdr(F_NEEDS_CSUM, GSO_UDP_L4, 42, mss, 34, 6), udp_frame(data))
    chunks = [data[i : i + mss] for i in range(0, size, mss)]
    want = [
        bytes(L2 / IP(src=SRC, dst=DST, id=9 + i) / UDP(sport=5000, dport=5201) / Raw(c))
        for i, c in enumerate(chunks)
    ]
    assert got == want
    assert all(l4_valid(g, 17) for g in got)


def _partial(frame: bytes, csum_at: int, proto: int) -> bytes:
    """What the host's stack hands the veth with tx checksum offload: the field
    holds the folded pseudo-header sum, not complemented."""
    ip = frame[14:34]
    l4len = len(frame) - 34
    pseudo = ip[12:20] + bytes([0, proto]) + l4len.to_bytes(2, "big")
    partial = 0xFFFF - internet_checksum(pseudo)
    return frame[:csum_at] + partial.to_bytes(2, "big") + frame[csum_at + 2 :]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 100, 1447, 8948])
def test_needs_csum_tcp_is_completed(size: int) -> None:
    want = bytes(L2 / IP(src=SRC, dst=DST) / TCP(sport=1, dport=2, flags="A") / Raw(payload(size)))
    got = normalize(pack_vnet_hdr(F_NEEDS_CSUM, 0, 0, 0, 34, 16), _partial(want, 34 + 16, 6))
    assert got == [want]


@pytest.mark.parametrize("size", [1, 2, 3, 1472])
def test_needs_csum_udp_is_completed(size: int) -> None:
    want = bytes(L2 / IP(src=SRC, dst=DST) / UDP(sport=1, dport=2) / Raw(payload(size, 3)))
    got = normalize(pack_vnet_hdr(F_NEEDS_CSUM, 0, 0, 0, 34, 6), _partial(want, 34 + 6, 17))
    assert got == [want]


def test_plain_and_data_valid_frames_pass_unchanged() -> None:
    f = udp_frame(b"x")
    assert normalize(pack_vnet_hdr(), f)[0] is f
    assert normalize(pack_vnet_hdr(F_DATA_VALID), f)[0] is f


@pytest.mark.parametrize(
    ("vnet", "frame", "reason"),
    [
        (pack_vnet_hdr(F_NEEDS_CSUM, GSO_TCPV6, 0, 1000, 54, 16), b"\x00" * 200, "gso-tcpv6"),
        (pack_vnet_hdr(F_NEEDS_CSUM, GSO_UDP, 0, 1000, 34, 6), b"\x00" * 200, "gso-ufo"),
        (pack_vnet_hdr(F_NEEDS_CSUM, 9, 0, 1000, 34, 6), b"\x00" * 200, "gso-unknown"),
        (pack_vnet_hdr(F_NEEDS_CSUM, GSO_TCPV4, 0, 0, 34, 16), tcp_frame(b"a" * 10), "gso-size-0"),
        (gso_tcp(100), udp_frame(b"a" * 300), "gso-not-tcp"),
        (
            pack_vnet_hdr(F_NEEDS_CSUM, GSO_UDP_L4, 0, 100, 34, 6),
            tcp_frame(b"a" * 300),
            "gso-not-udp",
        ),
        (gso_tcp(100), bytes(Ether(type=0x86DD)) + b"\x60" + b"\x00" * 100, "gso-not-ipv4"),
        (gso_tcp(100), tcp_frame(b"a" * 300)[:40], "gso-truncated"),
        (pack_vnet_hdr(F_NEEDS_CSUM, 0, 0, 0, 34, 200), udp_frame(b"a"), "csum-offset"),
    ],
)
def test_what_cannot_be_normalized_is_dropped_and_counted(
    vnet: bytes, frame: bytes, reason: str
) -> None:
    drops: dict[str, int] = {}
    assert normalize(vnet, frame, drops) == []
    assert drops == {reason: 1}


def test_vlan_tagged_gso_frame_is_segmented_after_the_tag() -> None:
    from scapy.layers.l2 import Dot1Q

    data = payload(2500)
    p = bytes(L2 / Dot1Q(vlan=5) / IP(src=SRC, dst=DST, id=1) / TCP(flags="A") / Raw(data))
    got = normalize(gso_tcp(1200), p)
    assert [len(Ether(g)[Raw]) for g in got] == [1200, 1200, 100]
    assert all(Ether(g)[Dot1Q].vlan == 5 for g in got)


def test_parse_vnet_hdr_is_little_endian() -> None:
    h = parse_vnet_hdr(bytes([1, 0x81, 0x42, 0, 0xA8, 5, 0x22, 0, 0x10, 0]))
    assert (h.flags, h.gso_type, h.hdr_len, h.gso_size, h.csum_start, h.csum_offset) == (
        1,
        0x81,
        0x42,
        1448,
        34,
        16,
    )
