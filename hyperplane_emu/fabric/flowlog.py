"""VPC Flow Logs: per-window aggregation and record formatting.

AWS (VPC User Guide, "Flow log records"): one record per ENI, per
direction-specific 5-tuple and action, per aggregation window; default
format version 2::

    version account-id interface-id srcaddr dstaddr srcport dstport protocol
    packets bytes start end action log-status

``start``/``end`` are the epoch seconds of the first/last packet seen in the
window; ``bytes`` counts IP bytes. ICMP and other port-less protocols show
``0 0`` as ports (as AWS's own ICMP examples do). A flow between two ENIs is
recorded on both: egress on the sender, ingress on the receiver. A packet
that a security group rejects gets a REJECT record on the ENI whose group
rejected it (and, for an ingress rejection, an ACCEPT on the sender, whose
egress allowed it).

Per-packet cost: accepted packets of a tracked flow only bump counters in
their `FlowHalf`; they become records when a window is flushed or the flow
expires. Rejected packets go through a bounded dict; when it is full further
rejected tuples are counted (``flowlog.skipped``) rather than stored, the
emulator's counterpart of AWS's SKIPDATA.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .conntrack import Flow, FlowHalf
from .events import FiveTuple, FlowLogRecord

V2_FIELDS: tuple[str, ...] = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
"""AWS's default format."""

V2_PKT_FIELDS: tuple[str, ...] = V2_FIELDS + ("pkt-srcaddr", "pkt-dstaddr")
"""Default fields plus the v3 packet-level addresses (differ from srcaddr/dstaddr
once NAT hops exist; equal for ENI-to-ENI traffic)."""

FORMATS: dict[str, tuple[str, ...]] = {"v2": V2_FIELDS, "v2+pkt": V2_PKT_FIELDS}

ACCEPT = "ACCEPT"
REJECT = "REJECT"

_AggKey = tuple[str, str, FiveTuple]
"""(eni id, action, 5-tuple as seen on the wire)."""


class FlowLogger:
    """Aggregates packets into records; `flush` returns them per window."""

    def __init__(
        self,
        interval: float,
        accounts: dict[str, str],
        formats: dict[str, tuple[str, ...]] | None = None,
        *,
        max_pending: int = 65536,
        clock_start: float = 0.0,
    ) -> None:
        self.interval = max(1.0, float(interval))
        self.accounts = accounts  # eni id -> account id
        self.formats = formats or {}  # eni id -> field list; default V2_FIELDS
        self.max_pending = max_pending
        self.window_start = clock_start
        self.skipped = 0
        self._pending: dict[_AggKey, list[float]] = {}

    def due(self, now: float) -> bool:
        return now >= self.window_start + self.interval

    def add(self, eni_id: str, action: str, ft: FiveTuple, nbytes: int, now: float) -> None:
        """Count one packet outside a tracked flow's counters (rejects, untracked-full)."""
        self._accumulate(eni_id, action, ft, 1, nbytes, now, now)

    def retire(self, flow: Flow) -> None:
        """Move a flow's unflushed counters into pending records (flow expiring)."""
        for half in (flow.orig, flow.reply):
            self._take(flow, half)

    def flush(self, now: float, flows: Iterable[Flow]) -> list[FlowLogRecord]:
        """Close the window: records for every ENI that saw traffic in it."""
        for flow in flows:
            self._take(flow, flow.orig)
            self._take(flow, flow.reply)
        records: list[FlowLogRecord] = []
        for (eni_id, action, ft), (pk, by, first, last) in self._pending.items():
            records.append(
                FlowLogRecord(eni_id, self.format(eni_id, action, ft, pk, by, first, last))
            )
        self._pending.clear()
        # Windows are aligned on the clock so records of one window share bounds.
        if now >= self.window_start + self.interval:
            # Arithmetic, not a loop: clock_start may be 0 and now an epoch time.
            self.window_start += ((now - self.window_start) // self.interval) * self.interval
        return records

    def format(
        self,
        eni_id: str,
        action: str,
        ft: FiveTuple,
        pk: float,
        by: float,
        first: float,
        last: float,
    ) -> str:
        src = str(ipaddress.IPv4Address(ft.src))
        dst = str(ipaddress.IPv4Address(ft.dst))
        values = {
            "version": "2",
            "account-id": self.accounts.get(eni_id, "-"),
            "interface-id": eni_id,
            "srcaddr": src,
            "dstaddr": dst,
            "srcport": str(ft.sport) if ft.sport >= 0 else "0",
            "dstport": str(ft.dport) if ft.dport >= 0 else "0",
            "protocol": str(ft.proto),
            "packets": str(int(pk)),
            "bytes": str(int(by)),
            "start": str(int(first)),
            "end": str(int(last)),
            "action": action,
            "log-status": "OK",
            "pkt-srcaddr": src,
            "pkt-dstaddr": dst,
        }
        fields = self.formats.get(eni_id, V2_FIELDS)
        return " ".join(values.get(f, "-") for f in fields)

    def _take(self, flow: Flow, half: FlowHalf) -> None:
        if not half.pk:
            return
        if half.log is not None:
            for eni_id, ft in half.log:
                self._accumulate(eni_id, ACCEPT, ft, half.pk, half.by, half.first, half.last)
            half.pk = 0
            half.by = 0
            return
        if half.is_reply:
            ft = FiveTuple(
                flow.proto, flow.dst, flow.src, _port(flow, flow.dport), _port(flow, flow.sport)
            )
        else:
            ft = FiveTuple(
                flow.proto, flow.src, flow.dst, _port(flow, flow.sport), _port(flow, flow.dport)
            )
        for eni in (half.in_eni, half.out_eni):
            eni_id = getattr(eni, "id", None)
            if eni_id is not None:
                self._accumulate(eni_id, ACCEPT, ft, half.pk, half.by, half.first, half.last)
        half.pk = 0
        half.by = 0

    def _accumulate(
        self, eni_id: str, action: str, ft: FiveTuple, pk: int, by: int, first: float, last: float
    ) -> None:
        key = (eni_id, action, ft)
        agg = self._pending.get(key)
        if agg is None:
            if len(self._pending) >= self.max_pending:
                self.skipped += pk
                return
            self._pending[key] = [pk, by, first, last]
            return
        agg[0] += pk
        agg[1] += by
        if first < agg[2]:
            agg[2] = first
        if last > agg[3]:
            agg[3] = last


def _port(flow: Flow, port: int) -> int:
    # ICMP echo flows are keyed by identifier, which is not a port to flow logs.
    return port if flow.proto in (6, 17) else -1
