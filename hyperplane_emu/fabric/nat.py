"""Address translation arithmetic: NAT source ports, checksum deltas, the rewrite.

How it works: a translated flow (NLB without client IP preservation,
PrivateLink, VPC links, the internet gateway) stores in each `FlowHalf` the 12
bytes ``src, dst, sport, dport`` its packets must carry after the fabric, and
two one's-complement deltas (RFC 1624: the sum of ``~old + new`` over the
changed 16-bit words), one for the IPv4 header (addresses) and one for the
TCP/UDP checksum (pseudo-header addresses and ports). The old words are the
same for every packet of a half, so the deltas are computed once when the flow
opens (`set_nat`) and forwarding a packet costs two slice writes and two adds
(`translate`); no checksum is ever recomputed. `rewrite` is the untranslated
forward (Ethernet header, TTL), shared by the slow path and the tests.
"""

from __future__ import annotations

from typing import NamedTuple

from .checksum import TTL_DECREMENT_CSUM
from .conntrack import Flow, FlowHalf, FlowKey, Via
from .nlb import NAT_PORTS, TargetState
from .packet import PROTO_TCP, PROTO_UDP, U16
from .ppv2 import StreamInsert
from .tables import VpcState

PathLog = tuple[tuple[str, bool], ...]
"""The ENIs along a translated path that record it in their flow logs, in the request
direction: ``(ENI id, far)``, where ``far`` means the ENI sees the translated 5-tuple
(the receiver's side) and not the sender's own. No 5-tuples: `FlowHalf.path_view`
derives them from the flow's fields when a record is written, so every flow on one
path shares one `PathLog` (`translate_flow` interns them)."""

_PATHS: dict[PathLog, tuple[PathLog, PathLog]] = {}
"""Interned path logs: request view -> (it, the reply's view). Bounded by the
topology's paths; `PATHS_MAX` guards against a topology that keeps changing."""
PATHS_MAX = 4096


class Translation(NamedTuple):
    """What a translated flow looks like on its far side, and what it went through.

    The receiver sees ``src:sport -> dst:dport`` inside ``vpc``; ``via`` is the
    endpoint, load balancer, gateway or link it crossed (`Fabric.set_endpoint_state`
    finds flows by it); ``idle`` caps the TCP idle timeout (NLB: 350 s); ``log`` is
    what each ENI on the way records in its flow log, in the request direction;
    ``target`` is the NLB target chosen (connection termination finds flows by it);
    ``insert`` a proxy protocol v2 header to insert into the TCP stream."""

    vpc: VpcState
    src: int
    sport: int
    dst: int
    dport: int
    via: Via
    idle: int
    log: PathLog
    target: TargetState | None = None
    insert: StreamInsert | None = None


def pack(src: int, dst: int, sport: int, dport: int) -> bytes:
    return (
        src.to_bytes(4, "big")
        + dst.to_bytes(4, "big")
        + sport.to_bytes(2, "big")
        + dport.to_bytes(2, "big")
    )


def fold(x: int) -> int:
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def set_nat(half: FlowHalf, old: tuple[int, int, int, int], new: tuple[int, int, int, int]) -> None:
    """Translation of one direction, ``(src, dst, sport, dport)`` old -> new, with its
    RFC 1624 deltas: sum(~old + new) per word."""
    o = pack(*old)
    n = pack(*new)
    words = [
        (~((o[i] << 8) | o[i + 1]) & 0xFFFF) + ((n[i] << 8) | n[i + 1]) for i in range(0, 12, 2)
    ]
    half.nat = n
    half.ipd = U16[fold(sum(words[:4]))]  # IP header: the two addresses
    half.l4d = U16[fold(sum(words))]  # TCP/UDP: pseudo-header addresses and the ports


def translate_addresses(out: bytearray, h: FlowHalf, c: int) -> int:
    """A non-first fragment (no L4 header): write the addresses; return the IP checksum."""
    assert h.nat is not None
    out[26:34] = h.nat[:8]
    s = (~c & 0xFFFF) + h.ipd
    return ~fold(s) & 0xFFFF


def translate(out: bytearray, h: FlowHalf, c: int, proto: int, l4: int) -> int:
    """Write the translated addresses and ports; fix the L4 checksum; return the IP one."""
    nat = h.nat
    assert nat is not None
    out[26:34] = nat[:8]
    out[l4 : l4 + 4] = nat[8:]
    o = l4 + (16 if proto == PROTO_TCP else 6)
    old = (out[o] << 8) | out[o + 1]
    if not (proto == PROTO_UDP and old == 0):  # UDP checksum 0: none was computed
        n = ~fold((~old & 0xFFFF) + h.l4d) & 0xFFFF
        if proto == PROTO_UDP and n == 0:
            n = 0xFFFF
        out[o] = n >> 8
        out[o + 1] = n & 0xFF
    return ~fold((~c & 0xFFFF) + h.ipd) & 0xFFFF


def rewrite(frame: bytes, l2: bytes) -> bytearray:
    """The forwarded copy: Ethernet dst+src replaced, TTL - 1, IP checksum patched."""
    out = bytearray(frame)
    out[0:12] = l2
    out[22] -= 1
    c = TTL_DECREMENT_CSUM[(frame[24] << 8) | frame[25]]
    out[24] = c >> 8
    out[25] = c & 0xFF
    return out


def nat_port(
    table: dict[FlowKey, FlowHalf],
    vpc_index: int,
    proto: int,
    t_ip: int,
    t_port: int,
    src: int,
    h: int,
) -> int | None:
    """A source port on `src` that no flow to t_ip:t_port uses (probe from a hash)."""
    lo, hi = NAT_PORTS
    span = hi - lo + 1
    start = h % span
    for i in range(256):
        port = lo + (start + i * 7919) % span
        if (vpc_index, proto, t_ip, src, t_port, port) not in table:
            return U16[port]
    return None


def translate_flow(flow: Flow, t: Translation) -> None:
    """Make `flow` (not yet in the table) a translated one: its reply key in the far VPC,
    what it goes through, its idle cap, both halves' rewrites and flow-log views."""
    flow.rkey = (t.vpc.index, flow.proto, t.dst, t.src, t.dport, t.sport)
    flow.via = t.via
    flow.target = t.target
    flow.ppv2 = t.insert
    if flow.proto == PROTO_TCP:
        flow.max_idle = float(t.idle)
    near = (flow.src, flow.dst, flow.sport, flow.dport)
    far = (t.src, t.dst, t.sport, t.dport)
    set_nat(flow.orig, near, far)
    set_nat(flow.reply, (far[1], far[0], far[3], far[2]), (near[1], near[0], near[3], near[2]))
    views = _PATHS.get(t.log)
    if views is None:
        if len(_PATHS) >= PATHS_MAX:
            _PATHS.clear()
        views = _PATHS[t.log] = (t.log, tuple(reversed(t.log)))
    flow.orig.log, flow.reply.log = views
