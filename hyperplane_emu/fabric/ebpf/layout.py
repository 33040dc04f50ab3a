"""Byte layouts shared with fastpath.bpf.c (`struct he_flow_key`, `struct he_flow_val`).

Pure Python (no libbpf): packing a key or an action, unpacking counters. The C
side asserts the same sizes with `_Static_assert`; tests/unit/test_ebpf_layout.py
checks the offsets against the object's BTF when it is built.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# struct he_flow_key: u32 ifindex, u8 proto, u8 pad[3], u8 tuple[12] (saddr, daddr,
# sport, dport exactly as on the wire). ifindex is host order (the kernel's u32).
KEY = struct.Struct("=IB3x12s")
# struct he_flow_val: rmac[6], l2[12], nat, pad, nat_tuple[12], out_ifindex,
# tcp_flags_seen, packets, bytes, last_ns.
VALUE = struct.Struct("=6s12sBx12sIIQQQ")
KEY_SIZE = 20
VALUE_SIZE = 64
# Offsets of the fields in struct he_flow_val (what the BTF says, see the tests).
VALUE_OFFSETS = {
    "rmac": 0,
    "l2": 6,
    "nat": 18,
    "nat_tuple": 20,
    "out_ifindex": 32,
    "tcp_flags_seen": 36,
    "packets": 40,
    "bytes": 48,
    "last_ns": 56,
}
COUNTERS = struct.Struct("=IQQQ")  # tcp_flags_seen, packets, bytes, last_ns at offset 36
COUNTERS_OFFSET = 36
assert KEY.size == KEY_SIZE and VALUE.size == VALUE_SIZE

# he_stats indexes (enum he_stat).
STATS = ("forwarded", "miss", "pass_flags", "pass_other", "disabled")

KernelKey = tuple[int, int, bytes]  # (ingress ifindex, proto, raw 12 bytes src,dst,sport,dport)


@dataclass(frozen=True, slots=True)
class FlowAction:
    """What the program does with a packet of the flow.

    rmac: the router MAC the sender addresses (the frame's dst MAC must equal it);
    l2: new dst MAC + new src MAC (12 bytes); nat: new saddr, daddr, sport, dport
    (12 bytes, wire order) or None; out_ifindex: fabric-side veth of the receiver.
    """

    rmac: bytes
    l2: bytes
    nat: bytes | None
    out_ifindex: int


@dataclass(frozen=True, slots=True)
class FlowCounters:
    """Counters the program keeps. packets: wire packets (GSO segments counted);
    bytes: their IP bytes; last_ns: CLOCK_MONOTONIC ns of the last forwarded packet
    (0: none yet; see `monotonic_offset`). tcp_flags: OR of TCP flags seen, including
    SYN/FIN/RST of packets passed to the slow path."""

    packets: int
    bytes: int
    last_ns: int
    tcp_flags: int = 0


def pack_key(key: KernelKey) -> bytes:
    ifindex, proto, tuple12 = key
    if len(tuple12) != 12:
        raise ValueError(f"flow key tuple must be 12 bytes, got {len(tuple12)}")
    return KEY.pack(ifindex, proto, tuple12)


def unpack_key(raw: bytes | memoryview) -> KernelKey:
    ifindex, proto, tuple12 = KEY.unpack(raw)
    return (ifindex, proto, tuple12)


def pack_action(action: FlowAction) -> bytes:
    """The map value for `action`, counters zero."""
    if len(action.rmac) != 6 or len(action.l2) != 12:
        raise ValueError("rmac must be 6 bytes and l2 12 bytes")
    if action.nat is not None and len(action.nat) != 12:
        raise ValueError(f"nat tuple must be 12 bytes, got {len(action.nat)}")
    nat = action.nat or bytes(12)
    return VALUE.pack(
        action.rmac, action.l2, int(action.nat is not None), nat, action.out_ifindex, 0, 0, 0, 0
    )


def unpack_action(raw: bytes | memoryview) -> tuple[FlowAction, FlowCounters]:
    rmac, l2, nat, tup, out, flags, packets, nbytes, last = VALUE.unpack(raw)
    action = FlowAction(rmac=rmac, l2=l2, nat=tup if nat else None, out_ifindex=out)
    return action, FlowCounters(packets, nbytes, last, flags)


def unpack_counters(raw: bytes | memoryview, offset: int = 0) -> FlowCounters:
    flags, packets, nbytes, last = COUNTERS.unpack_from(raw, offset + COUNTERS_OFFSET)
    return FlowCounters(packets, nbytes, last, flags)
