"""Slow-path parsing of Ethernet/IPv4 frames into a `Packet`, or a drop reason.

Hand-written slicing, no scapy, and it never raises: anything malformed comes
back as a `DropReason` that the core counts as ``dropped.<reason>``. The fast
path in `core` does not call this; it only reads the few bytes it needs.

Decisions (documented in docs/fabric.md):
- 802.1Q/802.1ad tagged frames are dropped (``vlan-tagged``): an ENI is an
  untagged interface on AWS.
- IPv6 is dropped (``ipv6-not-enabled``): the emulated VPCs are IPv4-only.
- Non-first fragments carry no ports; `Packet.sport`/`dport` are -1 and the core
  matches them to the flow of their first fragment by (src, dst, proto, IP id).
"""

from __future__ import annotations

from .checksum import internet_checksum
from .events import FiveTuple
from .reasons import DropReason

ETH_HLEN = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPES_VLAN = frozenset({0x8100, 0x88A8, 0x9100})

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17

U16: tuple[int, ...] = tuple(range(65536))
"""One shared int object per 16-bit value (CPython caches only -5..256): ports and
checksum deltas that flows keep come from here, 32 bytes each saved per flow
(~2.5 MB once, against ~190 bytes a flow)."""

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10


class Packet:
    """The fields of one IPv4 packet the fabric decides on (slow path only)."""

    __slots__ = (
        "ihl",
        "tot_len",
        "ip_id",
        "ttl",
        "proto",
        "src",
        "dst",
        "sport",
        "dport",
        "tcp_flags",
        "icmp_type",
        "icmp_code",
        "first_fragment",
        "later_fragment",
    )

    def __init__(self) -> None:
        self.ihl = 20
        self.tot_len = 0
        self.ip_id = 0
        self.ttl = 0
        self.proto = 0
        self.src = 0
        self.dst = 0
        self.sport = -1  # -1: does not apply (no ports / non-first fragment)
        self.dport = -1
        self.tcp_flags = 0
        self.icmp_type = -1
        self.icmp_code = -1
        self.first_fragment = False  # offset 0 with MF set
        self.later_fragment = False  # offset > 0: no L4 header

    def five(self) -> FiveTuple:
        """The packet's 5-tuple for events and flow logs (ports -1 where none apply)."""
        if self.proto == PROTO_TCP or self.proto == PROTO_UDP:
            return FiveTuple(self.proto, self.src, self.dst, self.sport, self.dport)
        return FiveTuple(self.proto, self.src, self.dst, -1, -1)

    def sg_ports(self) -> tuple[int, int]:
        """What a security group rule matches: destination port, or ICMP type and code."""
        if self.proto == PROTO_ICMP:
            return self.icmp_type, self.icmp_code
        return self.dport, 0


def ethertype(frame: bytes) -> int:
    """Ethertype of ``frame`` or -1 if it is shorter than an Ethernet header."""
    if len(frame) < ETH_HLEN:
        return -1
    return (frame[12] << 8) | frame[13]


def parse_ipv4(frame: bytes) -> Packet | DropReason:
    """Parse the IPv4 packet in an untagged Ethernet frame (ethertype checked by caller)."""
    n = len(frame)
    if n < ETH_HLEN + 20:
        return DropReason.TRUNCATED
    vihl = frame[14]
    if vihl >> 4 != 4:
        return DropReason.BAD_IP_VERSION
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        return DropReason.BAD_IHL
    tot_len = (frame[16] << 8) | frame[17]
    if tot_len < ihl or ETH_HLEN + ihl > n:
        return DropReason.BAD_IHL if ihl > tot_len else DropReason.TRUNCATED
    if ETH_HLEN + tot_len > n:
        return DropReason.TRUNCATED
    if internet_checksum(frame[ETH_HLEN : ETH_HLEN + ihl]) != 0:
        return DropReason.BAD_IP_CHECKSUM
    p = Packet()
    p.ihl = ihl
    p.tot_len = tot_len
    p.ip_id = (frame[18] << 8) | frame[19]
    frag = ((frame[20] << 8) | frame[21]) & 0x3FFF
    p.ttl = frame[22]
    p.proto = proto = frame[23]
    p.src = int.from_bytes(frame[26:30], "big")
    p.dst = int.from_bytes(frame[30:34], "big")
    if frag & 0x1FFF:
        p.later_fragment = True
        return p
    p.first_fragment = bool(frag & 0x2000)
    l4 = ETH_HLEN + ihl
    l4_len = tot_len - ihl
    if proto == PROTO_TCP:
        if l4_len < 20:
            return DropReason.TRUNCATED_L4
        doff = (frame[l4 + 12] >> 4) * 4
        if doff < 20 or doff > l4_len:
            return DropReason.BAD_TCP_OFFSET
        p.sport = U16[(frame[l4] << 8) | frame[l4 + 1]]
        p.dport = U16[(frame[l4 + 2] << 8) | frame[l4 + 3]]
        p.tcp_flags = frame[l4 + 13]
    elif proto == PROTO_UDP:
        if l4_len < 8:
            return DropReason.TRUNCATED_L4
        p.sport = U16[(frame[l4] << 8) | frame[l4 + 1]]
        p.dport = U16[(frame[l4 + 2] << 8) | frame[l4 + 3]]
    elif proto == PROTO_ICMP:
        if l4_len < 8:
            return DropReason.TRUNCATED_L4
        p.icmp_type = frame[l4]
        p.icmp_code = frame[l4 + 1]
        # Echo request/reply are tracked by their identifier, as AWS tracks them.
        if p.icmp_type in (0, 8):
            # sport = dport = id so that the reply's reversed key equals the request's.
            p.sport = p.dport = (frame[l4 + 4] << 8) | frame[l4 + 5]
    return p
