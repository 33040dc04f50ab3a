"""TCP resets the NLB sends itself (pure): the answer to a packet of a connection
it does not know, and the resets of a connection whose target turned unhealthy.

Rules (RFC 9293 section 3.10.7.1, "reset generation"; ELB guide, "Health checks
for Network Load Balancer target groups": "If a target becomes unhealthy, the
load balancer sends a TCP RST for packets received on the client connections
associated with the target"): a segment carrying an ACK is answered by a RST
whose sequence number is that acknowledgment number (exactly what the sender
expects next, so the sender's stack accepts it); a segment without ACK by a
RST|ACK acknowledging it; a RST is never answered.

Packets are IPv4 packets from the IP header on; the results too.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .checksum import internet_checksum
from .packet import PROTO_TCP, TCP_RST, Packet

if TYPE_CHECKING:
    from .tables import EniState

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_SEQ_MOD = 1 << 32
TTL = 64


def terminate(
    frame: bytes, p: Packet, sender: EniState, forwarded: list[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """NLB connection termination (target unhealthy), for one packet of the flow:
    its sender gets the RST that answers it, the other side (`forwarded`: the packet
    as the fabric would have sent it on) a RST at the packet's place in its stream.
    A RST, or a packet of another protocol, just goes on."""
    if p.proto != PROTO_TCP or p.tcp_flags & TCP_RST:
        return forwarded
    out: list[tuple[int, bytes]] = []
    back = answer(frame[14 : 14 + p.tot_len])
    if back is not None:
        out.append((sender.port, sender.l2_to + b"\x08\x00" + back))
    for port, f in forwarded[-1:]:
        out.append((port, bytes(f[:14]) + along(bytes(f[14:]))))
    return out


def answer(ip: bytes) -> bytes | None:
    """The RST that answers `ip` (sent back to its sender), or None for a RST."""
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    seq, ack = struct.unpack_from("!II", ip, ihl + 4)
    flags = ip[ihl + 13]
    if flags & _RST:
        return None
    sport, dport = struct.unpack_from("!HH", ip, ihl)
    src, dst = ip[12:16], ip[16:20]
    if flags & _ACK:
        return _segment(dst, src, dport, sport, ack, 0, _RST)
    doff = (ip[ihl + 12] >> 4) * 4
    length = total - ihl - doff + (1 if flags & _SYN else 0) + (1 if flags & _FIN else 0)
    return _segment(dst, src, dport, sport, 0, (seq + length) % _SEQ_MOD, _RST | _ACK)


def along(ip: bytes) -> bytes:
    """A RST in the direction of `ip`, at its sequence number (the far side of a
    connection being terminated)."""
    ihl = (ip[0] & 0x0F) * 4
    sport, dport, seq = struct.unpack_from("!HHI", ip, ihl)
    return _segment(ip[12:16], ip[16:20], sport, dport, seq, 0, _RST)


def _segment(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int
) -> bytes:
    tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 0, 0, 0))
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    struct.pack_into("!H", tcp, 16, internet_checksum(pseudo + bytes(tcp)))
    iph = bytearray(struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, TTL, 6, 0))
    iph += src + dst
    struct.pack_into("!H", iph, 10, internet_checksum(bytes(iph)))
    return bytes(iph) + bytes(tcp)
