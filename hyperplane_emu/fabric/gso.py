"""What a PACKET_VNET_HDR frame stands for on the wire (sans-IO).

With veth offloads on, an AF_PACKET socket sees skbs, not wire frames: a host's
TCP stack hands the veth one 64 KiB "super frame" (TSO/GSO) and leaves the
TCP/UDP checksum to hardware that does not exist (CHECKSUM_PARTIAL). With
PACKET_VNET_HDR the kernel puts a 10-byte ``struct virtio_net_hdr`` (little
endian on this host: ``vio_le()``) before every frame that says so:

    u8 flags        VIRTIO_NET_HDR_F_NEEDS_CSUM (1), _DATA_VALID (2)
    u8 gso_type     NONE 0, TCPV4 1, UDP (UFO) 3, TCPV6 4, UDP_L4 5, | ECN 0x80
    u16 hdr_len     the skb's linear length (not used here)
    u16 gso_size    payload bytes per segment (the MSS)
    u16 csum_start  offset of the L4 header from the frame's first byte
    u16 csum_offset where, from csum_start, the checksum field is

`normalize(vnet, frame)` returns the wire frames the skb stands for, exactly
as the kernel's software segmentation (``inet_gso_segment`` +
``tcp_gso_segment`` / ``__udp_gso_segment``) and ``skb_checksum_help`` would
produce them, so the fabric core, flow logs and captures see what a NIC would
have put on the wire: one frame per segment, every checksum complete.

Checksums use the identity behind `checksum.internet_checksum`: a run of
16-bit words read as one big integer is congruent, mod 0xFFFF, to their
one's-complement sum. One ``int.from_bytes`` and one ``%`` per segment
payload, both linear C loops; nothing iterates over words in Python.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .checksum import internet_checksum

__all__ = [
    "VNET_HDR_LEN",
    "F_NEEDS_CSUM",
    "F_DATA_VALID",
    "GSO_NONE",
    "GSO_TCPV4",
    "GSO_UDP",
    "GSO_TCPV6",
    "GSO_UDP_L4",
    "GSO_ECN",
    "VnetHdr",
    "parse_vnet_hdr",
    "pack_vnet_hdr",
    "normalize",
]

VNET_HDR_LEN = 10
F_NEEDS_CSUM = 0x01
F_DATA_VALID = 0x02
GSO_NONE = 0
GSO_TCPV4 = 1
GSO_UDP = 3
GSO_TCPV6 = 4
GSO_UDP_L4 = 5
GSO_ECN = 0x80

_HDR = struct.Struct("<BBHHHH")
_TCP_FIN, _TCP_PSH, _TCP_CWR = 0x01, 0x08, 0x80

# Drop reasons (the caller counts them: `normalize(..., drops)`).
_GSO_REASONS = {GSO_UDP: "gso-ufo", GSO_TCPV6: "gso-tcpv6"}


@dataclass(frozen=True, slots=True)
class VnetHdr:
    flags: int
    gso_type: int
    hdr_len: int
    gso_size: int
    csum_start: int
    csum_offset: int


def parse_vnet_hdr(data: bytes | bytearray | memoryview) -> VnetHdr:
    """The header at the start of ``data`` (at least 10 bytes)."""
    return VnetHdr(*_HDR.unpack_from(data))


def pack_vnet_hdr(
    flags: int = 0,
    gso_type: int = GSO_NONE,
    hdr_len: int = 0,
    gso_size: int = 0,
    csum_start: int = 0,
    csum_offset: int = 0,
) -> bytes:
    return _HDR.pack(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def normalize(
    vnet: bytes | bytearray | memoryview, frame: bytes, drops: dict[str, int] | None = None
) -> list[bytes]:
    """The wire frames ``frame`` (received with header ``vnet``) stands for.

    ``[frame]`` for a plain frame; one frame with its checksum completed for
    NEEDS_CSUM; the segments for TCPv4 and UDP_L4 GSO. Anything else (TCPv6,
    UFO, an unknown type, headers that do not parse) gives ``[]`` and adds one
    to ``drops[reason]``.
    """
    flags, gso_type, _, gso_size, csum_start, csum_offset = _HDR.unpack_from(vnet)
    if gso_type == GSO_NONE:
        if not flags & F_NEEDS_CSUM:
            return [frame]
        done = complete_checksum(frame, csum_start, csum_offset)
        if done is None:
            return _drop(drops, "csum-offset")
        return [done]
    kind = gso_type & ~GSO_ECN
    if kind not in (GSO_TCPV4, GSO_UDP_L4):
        return _drop(drops, _GSO_REASONS.get(kind, "gso-unknown"))
    if gso_size == 0:
        return _drop(drops, "gso-size-0")
    nh = _l3_offset(frame)
    if nh < 0 or len(frame) < nh + 20 or frame[nh] >> 4 != 4:
        return _drop(drops, "gso-not-ipv4")
    ihl = (frame[nh] & 0x0F) * 4
    proto = frame[nh + 9]
    if kind == GSO_TCPV4:
        if proto != 6:
            return _drop(drops, "gso-not-tcp")
        out = _segment_tcp4(frame, nh, ihl, gso_size)
    else:
        if proto != 17:
            return _drop(drops, "gso-not-udp")
        out = _segment_udp4(frame, nh, ihl, gso_size)
    if out is None:
        return _drop(drops, "gso-truncated")
    return out


def complete_checksum(frame: bytes, csum_start: int, csum_offset: int) -> bytes | None:
    """``skb_checksum_help``: the field at csum_start+csum_offset holds the
    pseudo-header sum; add everything from csum_start to the end, store the
    complement (0 is sent as 0xFFFF, as the kernel does). None if out of range."""
    at = csum_start + csum_offset
    if csum_offset < 0 or at + 2 > len(frame):
        return None
    mv = memoryview(frame)
    s = _sum(mv[csum_start:])
    c = 0xFFFF - s or 0xFFFF
    return b"".join((mv[:at], c.to_bytes(2, "big"), mv[at + 2 :]))


def _drop(drops: dict[str, int] | None, reason: str) -> list[bytes]:
    if drops is not None:
        drops[reason] = drops.get(reason, 0) + 1
    return []


def _l3_offset(frame: bytes) -> int:
    if len(frame) < 14:
        return -1
    et = (frame[12] << 8) | frame[13]
    if et == 0x0800:
        return 14
    if et in (0x8100, 0x88A8) and len(frame) >= 18 and frame[16:18] == b"\x08\x00":
        return 18
    return -1


def _sum(data: bytes | bytearray | memoryview) -> int:
    """One's-complement sum of ``data`` (odd length padded with a zero byte),
    as an int in 1..0xFFFF, or 0 only for all-zero data."""
    n = int.from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8
    s = n % 0xFFFF
    if s == 0 and n:
        return 0xFFFF
    return s


def _fold(s: int) -> int:
    """A sum of non-negative partial sums, folded mod 0xFFFF to 1..0xFFFF."""
    s %= 0xFFFF
    return s or 0xFFFF


def _segment_tcp4(frame: bytes, nh: int, ihl: int, mss: int) -> list[bytes] | None:
    th = nh + ihl
    if ihl < 20 or len(frame) < th + 20:
        return None
    doff = (frame[th + 12] >> 4) * 4
    data = th + doff
    if doff < 20 or len(frame) < data:
        return None
    mv = memoryview(frame)
    total = len(frame) - data
    ip_id = (frame[nh + 4] << 8) | frame[nh + 5]
    seq = int.from_bytes(frame[th + 4 : th + 8], "big")
    flags = frame[th + 13]
    hdr = bytearray(frame[:data])
    hdr[th + 16 : th + 18] = b"\x00\x00"
    # Pseudo-header words that do not change: addresses and protocol.
    pseudo = _sum(frame[nh + 12 : nh + 20]) + 6
    pack_h = struct.Struct("!H").pack_into
    pack_i = struct.Struct("!I").pack_into
    nseg = max(1, -(-total // mss))
    out: list[bytes] = []
    off = 0
    last = nseg - 1
    for i in range(nseg):
        plen = min(mss, total - off)
        pack_h(hdr, nh + 2, ihl + doff + plen)
        pack_h(hdr, nh + 4, (ip_id + i) & 0xFFFF)
        hdr[nh + 10] = hdr[nh + 11] = 0
        pack_h(hdr, nh + 10, internet_checksum(hdr[nh:th]))
        pack_i(hdr, th + 4, (seq + off) & 0xFFFFFFFF)
        f = flags
        if i < last:
            f &= ~(_TCP_FIN | _TCP_PSH)
        if i:
            f &= ~_TCP_CWR
        hdr[th + 13] = f
        hdr[th + 16] = hdr[th + 17] = 0
        payload = mv[data + off : data + off + plen]
        s = _fold(pseudo + doff + plen + _sum(hdr[th:data]) + _sum(payload))
        pack_h(hdr, th + 16, 0xFFFF - s)
        out.append(bytes(hdr) + payload)
        off += plen
    return out


def _segment_udp4(frame: bytes, nh: int, ihl: int, mss: int) -> list[bytes] | None:
    uh = nh + ihl
    data = uh + 8
    if ihl < 20 or len(frame) < data:
        return None
    mv = memoryview(frame)
    total = len(frame) - data
    ip_id = (frame[nh + 4] << 8) | frame[nh + 5]
    hdr = bytearray(frame[:data])
    pseudo = _sum(frame[nh + 12 : nh + 20]) + 17
    ports = _sum(frame[uh : uh + 4])
    pack_h = struct.Struct("!H").pack_into
    nseg = max(1, -(-total // mss))
    out: list[bytes] = []
    off = 0
    for i in range(nseg):
        plen = min(mss, total - off)
        ulen = 8 + plen
        pack_h(hdr, nh + 2, ihl + ulen)
        pack_h(hdr, nh + 4, (ip_id + i) & 0xFFFF)
        hdr[nh + 10] = hdr[nh + 11] = 0
        pack_h(hdr, nh + 10, internet_checksum(hdr[nh:uh]))
        pack_h(hdr, uh + 4, ulen)
        payload = mv[data + off : data + off + plen]
        # Pseudo-header length and the UDP length field: ulen counted twice.
        s = _fold(pseudo + ports + 2 * ulen + _sum(payload))
        pack_h(hdr, uh + 6, 0xFFFF - s or 0xFFFF)
        out.append(bytes(hdr) + payload)
        off += plen
    return out
