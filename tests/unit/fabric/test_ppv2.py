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
