"""Events the fabric core queues for its driver: drops, flow-log records, trace hops.

Plain immutable records (NamedTuple: cheap to build, cheap to JSON). They are
only built on the slow path or when a window is flushed, never per packet on
the established fast path. Drops and trace hops wait in `Fabric.events`, a
bounded queue: what a full queue pushes out is counted (``events.dropped``).
`FiveTuple.sport`/`dport` are -1 where ports do not apply (ICMP other than
echo, other protocols, non-first fragments).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class FiveTuple(NamedTuple):
    proto: int
    src: int  # IPv4 address as int
    dst: int
    sport: int
    dport: int

    def __str__(self) -> str:
        s = ipaddress.IPv4Address(self.src)
        d = ipaddress.IPv4Address(self.dst)
        if self.sport < 0:
            return f"{s} > {d} proto {self.proto}"
        return f"{s}:{self.sport} > {d}:{self.dport} proto {self.proto}"


class DropEvent(NamedTuple):
    """A packet the fabric did not forward, and why (``reason`` = counter suffix)."""

    time: float
    reason: str
    eni_id: str | None  # the ENI that received it, or whose SG rejected it
    flow: FiveTuple | None
    detail: str = ""


class FlowLogRecord(NamedTuple):
    """One VPC Flow Logs line for ``eni_id`` (format chosen per ENI, v2 by default)."""

    eni_id: str
    line: str


class TraceHop(NamedTuple):
    """One hop of a flow's path, as `trace` prints it in a table.

    ``step`` names the element ("egress-sg", "route", "ingress-sg", "deliver",
    "reply", "drop", and on translated paths "privatelink", "nat", "nlb",
    "vgw", "internet-gateway", "vpc-link"), ``where`` the ENI / VPC / endpoint /
    gateway it happened at, ``action`` ACCEPT / REJECT / FORWARD / DROP,
    ``detail`` the rule id, route or rewrite, human-readable.
    """

    time: float
    flow: FiveTuple
    step: str
    where: str
    action: str
    detail: str

    def __str__(self) -> str:
        return f"{self.step} {self.where} {self.action} {self.detail}".rstrip()


Event = DropEvent | FlowLogRecord | TraceHop
