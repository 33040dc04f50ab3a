"""Proxy protocol version 2 headers, as a Network Load Balancer writes them (pure).

Layout (HAProxy "The PROXY protocol", section 2.2,
https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt; AWS ELB guide,
"Edit target group attributes for your Network Load Balancer" > "Proxy
protocol", https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol):

    12 bytes  signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
     1 byte   version (high nibble, 2) | command (low nibble: 0 LOCAL, 1 PROXY)
     1 byte   family (high nibble: 1 AF_INET) | transport (low nibble: 1 STREAM)
     2 bytes  length of what follows, big-endian
    12 bytes  AF_INET: source address, destination address, source port,
              destination port (network byte order)
     ...      TLVs: type (1 byte), length (2 bytes, big-endian), value

AWS facts:
- the NLB prepends the header to the TCP data of every connection to a target
  when the target group's `proxy_protocol_v2.enabled` is true; it never
  overwrites data, so a target that does not parse the header reads it as data;
- source = the client, destination = the load balancer's listener address and
  port; for traffic through a VPC endpoint (PrivateLink) the header carries the
  TLV type 0xEA (PP2_TYPE_AWS) whose value is the subtype byte 0x01
  (PP2_SUBTYPE_AWS_VPCE_ID) followed by the endpoint id in ASCII (`vpce-…`);
- health-check connections carry a header without client information: the
  LOCAL command with family UNSPEC (the HAProxy spec's form for a connection the
  proxy opens on its own behalf).

`StreamInsert` does the sequence-space work of inserting a header into a TCP
connection the fabric forwards; `frames` applies it to a forwarded Ethernet
frame (the core calls it for flows of target groups with proxy protocol on).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
VERSION = 0x2
CMD_LOCAL = 0x0
CMD_PROXY = 0x1
FAM_UNSPEC = 0x00
FAM_INET_STREAM = 0x11  # AF_INET << 4 | STREAM
FAM_INET_DGRAM = 0x12
PP2_TYPE_AWS = 0xEA
PP2_SUBTYPE_AWS_VPCE_ID = 0x01
HEADER_LEN = 16  # signature + ver/cmd + fam + len
INET_ADDR_LEN = 12
MAX_LEN = HEADER_LEN + 0xFFFF


class Ppv2Error(ValueError):
    """Bytes that start like a PPv2 header but are not a valid one."""


@dataclass(frozen=True)
class ProxyHeader:
    """What a PPv2 header says. `command` is `PROXY` or `LOCAL`; addresses are None
    for LOCAL (and for families other than AF_INET, which the emulator never sends)."""

    command: str
    src: str | None = None
    dst: str | None = None
    sport: int | None = None
    dport: int | None = None
    vpce_id: str | None = None
    tlvs: tuple[tuple[int, bytes], ...] = field(default=())
    length: int = 0
    """Bytes the header takes at the start of the stream (16 + its length field)."""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"command": self.command, "length": self.length}
        if self.src is not None:
            out.update(source=f"{self.src}:{self.sport}", destination=f"{self.dst}:{self.dport}")
        if self.vpce_id is not None:
            out["vpce_id"] = self.vpce_id
        if self.tlvs:
            out["tlvs"] = [{"type": t, "value": v.hex()} for t, v in self.tlvs]
        return out


def build(src: str, sport: int, dst: str, dport: int, *, vpce_id: str | None = None) -> bytes:
    """The PROXY header for one client connection (TCP over IPv4)."""
    body = (
        ipaddress.IPv4Address(src).packed
        + ipaddress.IPv4Address(dst).packed
        + struct.pack("!HH", sport, dport)
    )
    if vpce_id is not None:
        body += tlv(PP2_TYPE_AWS, bytes([PP2_SUBTYPE_AWS_VPCE_ID]) + vpce_id.encode("ascii"))
    return _frame(CMD_PROXY, FAM_INET_STREAM, body)


def build_local() -> bytes:
    """The header a health-check connection starts with: LOCAL, no addresses."""
    return _frame(CMD_LOCAL, FAM_UNSPEC, b"")


def tlv(kind: int, value: bytes) -> bytes:
    if not 0 <= kind <= 0xFF or len(value) > 0xFFFF:
        raise ValueError("a TLV has a 1-byte type and at most 65535 bytes of value")
    return struct.pack("!BH", kind, len(value)) + value


def _frame(command: int, family: int, body: bytes) -> bytes:
    return SIGNATURE + struct.pack("!BBH", VERSION << 4 | command, family, len(body)) + body


def starts_like(data: bytes) -> bool:
    """Whether `data` (the first bytes of a stream) may be a PPv2 header: a prefix of
    the signature, or the whole signature; False as soon as a byte differs."""
    n = min(len(data), len(SIGNATURE))
    return data[:n] == SIGNATURE[:n]


def needed(data: bytes) -> int:
    """How many bytes the header starting `data` takes in all, once 16 are known;
    0 while fewer than 16 bytes are there."""
    if len(data) < HEADER_LEN:
        return 0
    return HEADER_LEN + struct.unpack_from("!H", data, 14)[0]


def parse(data: bytes) -> ProxyHeader:
    """The header at the start of `data` (which must hold all of it; see `needed`)."""
    if not data.startswith(SIGNATURE):
        raise Ppv2Error("no proxy protocol v2 signature")
    if len(data) < HEADER_LEN:
        raise Ppv2Error("truncated proxy protocol v2 header")
    ver_cmd, family, length = struct.unpack_from("!BBH", data, 12)
    if ver_cmd >> 4 != VERSION:
        raise Ppv2Error(f"proxy protocol version {ver_cmd >> 4}, expected 2")
    command = ver_cmd & 0x0F
    if command not in (CMD_LOCAL, CMD_PROXY):
        raise Ppv2Error(f"unknown proxy protocol command {command:#x}")
    total = HEADER_LEN + length
    if len(data) < total:
        raise Ppv2Error(f"truncated proxy protocol v2 header ({len(data)} of {total} bytes)")
    body = data[HEADER_LEN:total]
    if command == CMD_LOCAL:
        # A receiver must ignore the addresses of a LOCAL header (HAProxy spec), and
        # TLVs are only defined after an address block: keep it simple and exact.
        return ProxyHeader("LOCAL", length=total)
    src = dst = None
    sport = dport = None
    rest = body
    if family in (FAM_INET_STREAM, FAM_INET_DGRAM):
        if len(body) < INET_ADDR_LEN:
            raise Ppv2Error("AF_INET header shorter than its 12 address bytes")
        src = str(ipaddress.IPv4Address(body[0:4]))
        dst = str(ipaddress.IPv4Address(body[4:8]))
        sport, dport = struct.unpack_from("!HH", body, 8)
        rest = body[INET_ADDR_LEN:]
    elif family != FAM_UNSPEC:
        raise Ppv2Error(f"address family {family:#04x} is not emulated (AF_INET only)")
    tlvs = _tlvs(rest)
    vpce_id = None
    for kind, value in tlvs:
        if kind == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
            vpce_id = value[1:].decode("ascii", "replace")
    return ProxyHeader("PROXY", src, dst, sport, dport, vpce_id, tuple(tlvs), total)


def _tlvs(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 3:
            raise Ppv2Error("truncated TLV")
        kind, length = struct.unpack_from("!BH", data, i)
        value = data[i + 3 : i + 3 + length]
        if len(value) != length:
            raise Ppv2Error(f"TLV {kind:#04x} claims {length} bytes, {len(value)} remain")
        out.append((kind, value))
        i += 3 + length
    return out


# -- inserting the header into a forwarded TCP stream ---------------------------------

_SEQ_MOD = 1 << 32
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_SACK = 5


def _seq_lt(a: int, b: int) -> bool:
    return ((a - b) % _SEQ_MOD) >= (1 << 31)


class StreamInsert:
    """Sequence-space bookkeeping for inserting `header` at the start of one TCP
    connection's byte stream from the client (through the NLB) to the target.

    The fabric forwards packets, so added bytes shift every later sequence number
    the client sends and every acknowledgment the target returns. Packets are IPv4
    packets (from the IP header on), already translated for their next hop; each
    method returns the packet(s) to send instead, with lengths and checksums made
    right. Pure: no clock, no I/O.

    - client -> target (`forward`): the SYN fixes the client's ISN; the ACK that
      completes the handshake is sent on carrying the header as its payload (so
      server-speaks-first protocols get it before any client data); every later
      segment moves `len(header)` up in sequence space. While the target has not
      acknowledged the header, a client segment at the stream start is preceded
      by the header again (its retransmission rides on the client's).
    - target -> client (`reverse`): acknowledgment numbers and SACK blocks move
      down by `len(header)`; an ACK that only acknowledges header bytes carries
      nothing for the client and is dropped (the client would count it as a
      duplicate ACK).
    """

    def __init__(self, header: bytes) -> None:
        self.header = header
        self.shift = len(header)
        self.isn: int | None = None  # the client's initial sequence number
        self.acked = False  # the target has acknowledged the whole header
        self.sent = False  # the header went out at least once

    # client -> target
    def forward(self, ip: bytes) -> list[bytes]:
        pkt = _Tcp(ip)
        if pkt.flags & _SYN:
            self.isn = pkt.seq
            return [ip]
        if self.isn is None:
            return [ip]  # not a connection we saw open: leave it alone
        start = (self.isn + 1) % _SEQ_MOD
        out: list[bytes] = []
        at_start = pkt.seq == start and not pkt.flags & _RST
        if at_start and not self.acked and (not self.sent or pkt.payload or pkt.flags & _FIN):
            if not pkt.payload and not pkt.flags & (_FIN | _RST):
                self.sent = True
                return [pkt.rebuild(payload=self.header)]  # the handshake's ACK carries it
            out.append(pkt.rebuild(payload=self.header, flags=_ACK))
            self.sent = True
        out.append(pkt.rebuild(seq=(pkt.seq + self.shift) % _SEQ_MOD))
        return out

    # target -> client
    def reverse(self, ip: bytes) -> bytes | None:
        pkt = _Tcp(ip)
        if self.isn is None or not pkt.flags & _ACK or pkt.flags & _SYN:
            return ip
        start = (self.isn + 1) % _SEQ_MOD
        data_start = (start + self.shift) % _SEQ_MOD
        if not _seq_lt(pkt.ack, data_start):
            self.acked = True
            ack = (pkt.ack - self.shift) % _SEQ_MOD
        else:
            ack = start  # acknowledges (part of) the header only: nothing of the client's
        header_only = ack == start and pkt.ack != start
        if header_only and not pkt.payload and not pkt.flags & (_FIN | _RST):
            return None
        return pkt.rebuild(ack=ack, sack_shift=-self.shift)


def frames(ins: StreamInsert, is_reply: bool, port: int, out: bytearray) -> list[tuple[int, bytes]]:
    """The frames to send for one forwarded (already translated) frame `out` of a
    connection with a header inserted: shifted, the header added, or nothing."""
    l2 = bytes(out[:14])
    total = (out[16] << 8) | out[17]
    ip = bytes(out[14 : 14 + total])
    if is_reply:
        r = ins.reverse(ip)
        return [] if r is None else [(port, bytearray(l2 + r))]  # type: ignore[list-item]
    return [(port, bytearray(l2 + x)) for x in ins.forward(ip)]  # type: ignore[misc]


class _Tcp:
    """One IPv4/TCP packet, read once, rebuilt with changes (slow path)."""

    def __init__(self, ip: bytes) -> None:
        self.ip = bytes(ip)
        self.ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        t = self.ihl
        self.seq, self.ack = struct.unpack_from("!II", ip, t + 4)
        self.doff = (ip[t + 12] >> 4) * 4
        self.flags = ip[t + 13]
        self.payload = self.ip[t + self.doff : total]

    def rebuild(
        self,
        *,
        seq: int | None = None,
        ack: int | None = None,
        payload: bytes | None = None,
        flags: int | None = None,
        sack_shift: int = 0,
    ) -> bytes:
        iph = bytearray(self.ip[: self.ihl])
        tcp = bytearray(self.ip[self.ihl : self.ihl + self.doff])
        data = self.payload if payload is None else payload
        if seq is not None:
            struct.pack_into("!I", tcp, 4, seq)
        if ack is not None:
            struct.pack_into("!I", tcp, 8, ack)
        if flags is not None:
            tcp[13] = flags
        if sack_shift:
            _shift_sack(tcp, sack_shift)
        struct.pack_into("!H", iph, 2, len(iph) + len(tcp) + len(data))
        struct.pack_into("!H", iph, 10, 0)
        struct.pack_into("!H", iph, 10, _checksum(bytes(iph)))
        struct.pack_into("!H", tcp, 16, 0)
        pseudo = iph[12:20] + struct.pack("!BBH", 0, 6, len(tcp) + len(data))
        struct.pack_into("!H", tcp, 16, _checksum(bytes(pseudo) + bytes(tcp) + data))
        return bytes(iph) + bytes(tcp) + data


def _shift_sack(tcp: bytearray, delta: int) -> None:
    i, end = 20, len(tcp)
    while i < end:
        kind = tcp[i]
        if kind == 0:
            return
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end or tcp[i + 1] < 2:
            return
        length = tcp[i + 1]
        if kind == _SACK:
            for j in range(i + 2, min(i + length, end) - 7, 8):
                left, right = struct.unpack_from("!II", tcp, j)
                struct.pack_into(
                    "!II", tcp, j, (left + delta) % _SEQ_MOD, (right + delta) % _SEQ_MOD
                )
        i += length


def _checksum(data: bytes) -> int:
    from .checksum import internet_checksum

    return internet_checksum(data)
