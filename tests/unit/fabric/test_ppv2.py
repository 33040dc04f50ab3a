"""Proxy protocol v2 header bytes (fabric/ppv2.py), checked byte for byte."""

from __future__ import annotations

import struct

import pytest

from hyperplane_emu.fabric import ppv2

VPCE = "vpce-0123456789abcdef0"


def test_proxy_header_bytes_are_the_spec_layout() -> None:
    h = ppv2.build("10.0.2.7", 40112, "10.0.1.50", 80)
    assert h[:12] == bytes.fromhex("0d0a0d0a000d0a515549540a")
    assert h[12] == 0x21  # version 2, PROXY
    assert h[13] == 0x11  # AF_INET, STREAM
    assert struct.unpack("!H", h[14:16])[0] == 12 == len(h) - 16
    assert h[16:20] == bytes([10, 0, 2, 7]) and h[20:24] == bytes([10, 0, 1, 50])
    assert struct.unpack("!HH", h[24:28]) == (40112, 80)


def test_aws_vpce_tlv_is_type_ea_subtype_01_then_ascii_id() -> None:
    h = ppv2.build("10.0.2.7", 40112, "10.0.1.50", 80, vpce_id=VPCE)
    tlv = h[28:]
    assert tlv[0] == 0xEA
    assert struct.unpack("!H", tlv[1:3])[0] == 1 + len(VPCE)
    assert tlv[3] == 0x01 and tlv[4:] == VPCE.encode("ascii")
    assert struct.unpack("!H", h[14:16])[0] == 12 + 3 + 1 + len(VPCE)


def test_local_header_for_health_checks() -> None:
    h = ppv2.build_local()
    assert h == ppv2.SIGNATURE + bytes([0x20, 0x00, 0x00, 0x00])
    parsed = ppv2.parse(h)
    assert parsed.command == "LOCAL" and parsed.src is None and parsed.length == 16


def test_round_trip_with_trailing_data() -> None:
    h = ppv2.build("192.0.2.1", 1, "10.0.0.9", 65535, vpce_id=VPCE)
    parsed = ppv2.parse(h + b"GET / HTTP/1.1\r\n")
    assert parsed.command == "PROXY"
    assert (parsed.src, parsed.sport, parsed.dst, parsed.dport) == (
        "192.0.2.1",
        1,
        "10.0.0.9",
        65535,
    )
    assert parsed.vpce_id == VPCE and parsed.length == len(h)
    assert parsed.as_dict() == {
        "command": "PROXY",
        "length": len(h),
        "source": "192.0.2.1:1",
        "destination": "10.0.0.9:65535",
        "vpce_id": VPCE,
        "tlvs": [{"type": 0xEA, "value": (b"\x01" + VPCE.encode()).hex()}],
    }


def test_other_tlvs_are_kept_and_not_taken_for_a_vpce() -> None:
    body = bytes([10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack("!HH", 5, 6)
    body += ppv2.tlv(0x04, b"") + ppv2.tlv(0xEA, b"\x02zz")
    raw = ppv2.SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
    parsed = ppv2.parse(raw)
    assert parsed.vpce_id is None and parsed.tlvs == ((0x04, b""), (0xEA, b"\x02zz"))


def test_incremental_detection() -> None:
    h = ppv2.build("10.0.2.7", 1, "10.0.1.50", 2)
    assert ppv2.starts_like(h[:1]) and ppv2.starts_like(h[:11]) and ppv2.starts_like(h)
    assert not ppv2.starts_like(b"GET / HTTP/1.1")
    assert not ppv2.starts_like(b"\r\n\r\nx")
    assert ppv2.needed(h[:15]) == 0 and ppv2.needed(h[:16]) == len(h)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"hello", "signature"),
        (ppv2.SIGNATURE + b"\x21", "truncated"),
        (ppv2.SIGNATURE + bytes([0x11, 0x11, 0, 0]), "version 1"),
        (ppv2.SIGNATURE + bytes([0x2F, 0x11, 0, 0]), "command"),
        (ppv2.SIGNATURE + bytes([0x21, 0x11, 0, 12]) + b"\x00" * 4, "truncated"),
        (ppv2.SIGNATURE + bytes([0x21, 0x11, 0, 4]) + b"\x00" * 4, "12 address bytes"),
        (ppv2.SIGNATURE + bytes([0x21, 0x21, 0, 0]), "family"),
        (ppv2.SIGNATURE + bytes([0x21, 0x11, 0, 14]) + b"\x00" * 12 + b"\xea\x00", "TLV"),
        (ppv2.SIGNATURE + bytes([0x21, 0x11, 0, 15]) + b"\x00" * 12 + b"\xea\x00\x09", "claims"),
    ],
)
def test_bad_headers_are_refused(raw: bytes, why: str) -> None:
    with pytest.raises(ppv2.Ppv2Error, match=why):
        ppv2.parse(raw)


# -- StreamInsert: the header inside a forwarded TCP connection ------------------------

from hyperplane_emu.fabric.checksum import internet_checksum  # noqa: E402

CLIENT, TARGET = bytes([10, 0, 2, 7]), bytes([10, 0, 1, 20])
F, S, R, P, A = 0x01, 0x02, 0x04, 0x08, 0x10


def seg(
    seq: int,
    ack: int,
    flags: int,
    data: bytes = b"",
    *,
    reverse: bool = False,
    sack: tuple[tuple[int, int], ...] = (),
) -> bytes:
    src, dst = (TARGET, CLIENT) if reverse else (CLIENT, TARGET)
    opts = b""
    if sack:
        opts = bytes([1, 1, 5, 2 + 8 * len(sack)]) + b"".join(
            struct.pack("!II", left, right) for left, right in sack
        )
    tcp = bytearray(
        struct.pack(
            "!HHIIBBHHH", 40112, 8080, seq, ack, (5 + len(opts) // 4) << 4, flags, 65535, 0, 0
        )
        + opts
    )
    ip = bytearray(
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(data), 1, 0, 64, 6, 0, src, dst)
    )
    struct.pack_into("!H", ip, 10, internet_checksum(bytes(ip)))
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(data))
    struct.pack_into("!H", tcp, 16, internet_checksum(pseudo + bytes(tcp) + data))
    return bytes(ip) + bytes(tcp) + data


def fields(ip: bytes) -> tuple[int, int, int, bytes]:
    assert internet_checksum(ip[:20]) == 0, "IP header checksum"
    total = struct.unpack_from("!H", ip, 2)[0]
    assert total == len(ip)
    tcp = ip[20:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
    assert internet_checksum(pseudo + tcp) == 0, "TCP checksum"
    seq, ack = struct.unpack_from("!II", tcp, 4)
    doff = (tcp[12] >> 4) * 4
    return seq, ack, tcp[13], tcp[doff:]


HEADER = ppv2.build("10.0.2.7", 40112, "10.0.1.50", 80, vpce_id=VPCE)
N = len(HEADER)


def test_handshake_ack_carries_the_header_and_later_data_moves_up() -> None:
    ins = ppv2.StreamInsert(HEADER)
    syn = seg(1000, 0, S)
    assert ins.forward(syn) == [syn]
    synack = seg(5000, 1001, S | A, reverse=True)
    assert ins.reverse(synack) == synack
    (hs,) = ins.forward(seg(1001, 5001, A))
    assert fields(hs) == (1001, 5001, A, HEADER)
    # The target acknowledges the header alone: nothing for the client, dropped.
    assert ins.reverse(seg(5001, 1001 + N, A, reverse=True)) is None
    (data,) = ins.forward(seg(1001, 5001, P | A, b"hello"))
    assert fields(data) == (1001 + N, 5001, P | A, b"hello")
    back = ins.reverse(seg(5001, 1001 + N + 5, P | A, b"world", reverse=True))
    assert back is not None and fields(back) == (5001, 1006, P | A, b"world")
    (fin,) = ins.forward(seg(1006, 5006, F | A))
    assert fields(fin)[:3] == (1006 + N, 5006, F | A)


def test_unacknowledged_header_is_resent_before_the_first_data() -> None:
    ins = ppv2.StreamInsert(HEADER)
    ins.forward(seg(1000, 0, S))
    ins.forward(seg(1001, 5001, A))  # header sent, target has not acknowledged it
    first, second = ins.forward(seg(1001, 5001, P | A, b"GET /"))
    assert fields(first) == (1001, 5001, A, HEADER)
    assert fields(second) == (1001 + N, 5001, P | A, b"GET /")
    # The client retransmits its data: the header goes again with it.
    again = ins.forward(seg(1001, 5001, P | A, b"GET /"))
    assert [fields(p)[0] for p in again] == [1001, 1001 + N]
    # Once acknowledged, a retransmission is only shifted.
    ins.reverse(seg(5001, 1001 + N + 5, A, reverse=True))
    (only,) = ins.forward(seg(1001, 5001, P | A, b"GET /"))
    assert fields(only)[0] == 1001 + N


def test_target_side_stream_is_header_then_client_bytes() -> None:
    ins = ppv2.StreamInsert(HEADER)
    sent: list[bytes] = []
    for p in (seg(7, 0, S), seg(8, 1, A), seg(8, 1, P | A, b"abc"), seg(11, 1, P | A, b"def")):
        sent += ins.forward(p)
    stream: dict[int, bytes] = {}
    for p in sent:
        seq, _, flags, data = fields(p)
        if data:
            stream[seq] = data
    joined = b"".join(stream[k] for k in sorted(stream))
    assert joined == HEADER + b"abcdef"


def test_sequence_numbers_wrap() -> None:
    isn = (1 << 32) - 3
    ins = ppv2.StreamInsert(HEADER)
    ins.forward(seg(isn, 0, S))
    (hs,) = ins.forward(seg((isn + 1) % (1 << 32), 9, A))
    assert fields(hs)[0] == (1 << 32) - 2
    ins.reverse(seg(9, (isn + 1 + N) % (1 << 32), A, reverse=True))
    (d,) = ins.forward(seg((isn + 1) % (1 << 32), 9, P | A, b"x"))
    assert fields(d)[0] == (isn + 1 + N) % (1 << 32)
    back = ins.reverse(seg(9, (isn + 2 + N) % (1 << 32), A, reverse=True))
    assert back is not None and fields(back)[1] == (isn + 2) % (1 << 32)


def test_sack_blocks_from_the_target_move_down() -> None:
    ins = ppv2.StreamInsert(HEADER)
    ins.forward(seg(1000, 0, S))
    ins.forward(seg(1001, 5001, A))
    back = ins.reverse(seg(5001, 1001 + N, A, reverse=True, sack=((1001 + N + 10, 1001 + N + 20),)))
    # A pure ACK of the header alone is dropped, SACK or not.
    assert back is None
    back = ins.reverse(
        seg(5001, 1001 + N + 5, A, reverse=True, sack=((1001 + N + 10, 1001 + N + 20),))
    )
    assert back is not None
    tcp = back[20:]
    assert struct.unpack_from("!II", tcp, 20 + 4) == (1011, 1021)
    fields(back)


def test_client_reset_is_shifted_never_given_the_header() -> None:
    ins = ppv2.StreamInsert(HEADER)
    ins.forward(seg(1000, 0, S))
    (rst,) = ins.forward(seg(1001, 0, R))
    assert fields(rst) == (1001 + N, 0, R, b"")


def test_packets_of_an_unseen_connection_pass_unchanged() -> None:
    ins = ppv2.StreamInsert(HEADER)
    p = seg(1, 2, P | A, b"zz")
    assert ins.forward(p) == [p]
    r = seg(2, 3, A, reverse=True)
    assert ins.reverse(r) == r
