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
emulator's counterpart of AWS's capacity limit: each ENI that lost records in a
window gets one SKIPDATA record for it.

Custom formats (VPC User Guide, "Flow log records" > "Available fields",
https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html, and
"Flow log record examples", .../flow-logs-records-examples.html):

- a format is ``${field} ${field} ...`` with AWS's field names, v2 to v5
  (`FIELD_VERSIONS`); a field that does not apply is written ``-``;
- ``version`` is 2 for the default format, else the highest version among the
  fields of the custom format;
- ``tcp-flags`` is the OR, over the aggregation interval, of FIN (1), SYN (2),
  RST (4) and SYN-ACK (18) seen on the record's packets; ACK or PSH alone count 0
  (`record_flags` maps one packet's flags);
- ``flow-direction`` is ingress/egress relative to the record's ENI;
  ``traffic-path`` is for egress only (1: another resource of the same VPC,
  2: internet gateway or gateway endpoint, 3: virtual private gateway, ...);
- an ENI with a flow log that saw nothing in a window gets a NODATA record
  (``2 <account> <eni> - - - - - - - <start> <end> - NODATA``), one that lost
  records a SKIPDATA record of the same shape. NODATA records are written for
  the ENIs named in ``nodata`` (those of the topology's explicit `flow_logs`),
  not for the emulator's implicit log on every ENI, which would otherwise fill
  every window with them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from hyperplane_emu.flowlogfields import (
    FIELD_VERSIONS,
    FIELDS_NOT_EMULATED,
    V2_FIELDS,
    FormatError,
    format_version,
    parse_format,
)
from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import Plan

from .conntrack import Flow, FlowHalf
from .events import FiveTuple, FlowLogRecord

__all__ = [
    "ACCEPT",
    "FIELDS_NOT_EMULATED",
    "FIELD_VERSIONS",
    "FORMATS",
    "REJECT",
    "V2_FIELDS",
    "V2_PKT_FIELDS",
    "EniMeta",
    "az_id",
    "eni_meta",
    "flow_log_setup",
    "FlowLogger",
    "FormatError",
    "PacketExtra",
    "fields_of",
    "format_version",
    "parse_format",
    "record_flags",
    "reformat",
]

V2_PKT_FIELDS: tuple[str, ...] = V2_FIELDS + ("pkt-srcaddr", "pkt-dstaddr")
"""Default fields plus the v3 packet-level addresses: equal to srcaddr/dstaddr
(each ENI on a translated path records the tuple it sees on its own side)
unless the packet walk passes a `PacketExtra` with the packet's own."""

FORMATS: dict[str, tuple[str, ...]] = {"v2": V2_FIELDS, "v2+pkt": V2_PKT_FIELDS}

ACCEPT = "ACCEPT"
REJECT = "REJECT"
OK = "OK"
NODATA = "NODATA"
SKIPDATA = "SKIPDATA"

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10
TRAFFIC_PATH_SAME_VPC = "1"
TRAFFIC_PATH_IGW = "2"
TRAFFIC_PATH_VGW = "3"


def fields_of(fmt: str) -> tuple[str, ...]:
    """A format by name (`v2`, `v2+pkt`) or written out (`${version} ...`)."""
    return FORMATS[fmt] if fmt in FORMATS else parse_format(fmt)


def record_flags(tcp_flags: int) -> int:
    """What one packet adds to a record's tcp-flags: FIN, SYN, RST, and ACK only as
    part of SYN-ACK (AWS logs no ACK or PSH on their own)."""
    kept = tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST)
    if tcp_flags & TCP_SYN and tcp_flags & TCP_ACK:
        kept |= TCP_ACK
    return kept


class EniMeta(NamedTuple):
    """What v3-v5 fields say about the ENI a record belongs to (plan data)."""

    account_id: str = "-"
    vpc_id: str = "-"
    subnet_id: str = "-"
    instance_id: str = "-"  # "-" for ENIs no instance owns (NLB, endpoint, ...)
    az_id: str = "-"
    region: str = "-"
    ip: int = -1
    vpc_net: int = 0
    vpc_mask: int = -1  # with vpc_net: the VPC's CIDR, for traffic-path 1


class PacketExtra(NamedTuple):
    """Per-record facts only the packet walk knows; None fields are derived."""

    pkt_src: int | None = None  # the packet's own source when srcaddr is a NAT's
    pkt_dst: int | None = None
    traffic_path: str | None = None  # egress path code, when not within the VPC


_AggKey = tuple[str, str, FiveTuple, PacketExtra | None]
"""(eni id, action, 5-tuple as seen on the wire, packet-level extras)."""


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
        meta: dict[str, EniMeta] | None = None,
        nodata: Iterable[str] = (),
    ) -> None:
        self.interval = max(1.0, float(interval))
        self.accounts = accounts  # eni id -> account id
        self.formats = formats or {}  # eni id -> field list; default V2_FIELDS
        self.max_pending = max_pending
        self.window_start = clock_start
        self.skipped = 0
        self.meta: dict[str, EniMeta] = dict(meta or {})
        self.nodata = frozenset(nodata)
        self._skipped_by_eni: dict[str, int] = {}
        self._pending: dict[_AggKey, list[float]] = {}

    @classmethod
    def for_plan(
        cls,
        plan: Plan,
        accounts: dict[str, str],
        formats: dict[str, str] | None = None,
        clock_start: float = 0.0,
    ) -> FlowLogger:
        """The topology's flow logs (`flow_log_setup`: formats, NODATA ENIs, the
        shortest interval), plus `formats` by name per ENI (tests, tools)."""
        fields, nodata, window = flow_log_setup(plan)
        fields.update({k: FORMATS[v] for k, v in (formats or {}).items()})
        return cls(
            window, accounts, fields, clock_start=clock_start, meta=eni_meta(plan), nodata=nodata
        )

    def due(self, now: float) -> bool:
        return now >= self.window_start + self.interval

    def add(
        self,
        eni_id: str,
        action: str,
        ft: FiveTuple,
        nbytes: int,
        now: float,
        tcp_flags: int = 0,
        extra: PacketExtra | None = None,
    ) -> None:
        """Count one packet outside a tracked flow's counters (rejects, untracked-full).
        `tcp_flags` is the packet's raw flags byte (see `record_flags`)."""
        self._accumulate(eni_id, action, ft, 1, nbytes, now, now, record_flags(tcp_flags), extra)

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
        seen: set[str] = set()
        for (eni_id, action, ft, extra), agg in self._pending.items():
            pk, by, first, last, flags = agg
            seen.add(eni_id)
            records.append(
                FlowLogRecord(
                    eni_id,
                    self.format(eni_id, action, ft, pk, by, first, last, int(flags), extra),
                )
            )
        self._pending.clear()
        end = max(now, self.window_start)
        for eni_id, _lost in sorted(self._skipped_by_eni.items()):
            records.append(FlowLogRecord(eni_id, self.status_line(eni_id, SKIPDATA, end)))
            seen.add(eni_id)
        self._skipped_by_eni.clear()
        for eni_id in sorted(self.nodata - seen):
            records.append(FlowLogRecord(eni_id, self.status_line(eni_id, NODATA, end)))
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
        tcp_flags: int = 0,
        extra: PacketExtra | None = None,
    ) -> str:
        fields = self.formats.get(eni_id, V2_FIELDS)
        meta = self.meta.get(eni_id, EniMeta())
        src = str(ipaddress.IPv4Address(ft.src))
        dst = str(ipaddress.IPv4Address(ft.dst))
        # Relative to the ENI; without its address (no meta) a record counts as egress.
        egress = meta.ip < 0 or ft.src == meta.ip
        pkt_src = src if extra is None or extra.pkt_src is None else _ip(extra.pkt_src)
        pkt_dst = dst if extra is None or extra.pkt_dst is None else _ip(extra.pkt_dst)
        path = "-"
        if egress:
            if extra is not None and extra.traffic_path is not None:
                path = extra.traffic_path
            elif meta.vpc_mask >= 0 and (ft.dst & meta.vpc_mask) == meta.vpc_net:
                path = TRAFFIC_PATH_SAME_VPC
        values = {
            "version": str(format_version(fields)),
            "account-id": self.accounts.get(eni_id, meta.account_id),
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
            "log-status": OK,
            "vpc-id": meta.vpc_id,
            "subnet-id": meta.subnet_id,
            "instance-id": meta.instance_id,
            "tcp-flags": str(tcp_flags) if ft.proto == 6 else "0",
            "type": "IPv4",
            "pkt-srcaddr": pkt_src,
            "pkt-dstaddr": pkt_dst,
            "region": meta.region,
            "az-id": meta.az_id,
            "flow-direction": "egress" if egress else "ingress",
            "traffic-path": path,
        }
        return " ".join(values.get(f, "-") for f in fields)

    def status_line(self, eni_id: str, status: str, end: float) -> str:
        """A NODATA or SKIPDATA record: identity fields, `-` for traffic, the window."""
        fields = self.formats.get(eni_id, V2_FIELDS)
        meta = self.meta.get(eni_id, EniMeta())
        values = {
            "version": str(format_version(fields)),
            "account-id": self.accounts.get(eni_id, meta.account_id),
            "interface-id": eni_id,
            "start": str(int(self.window_start)),
            "end": str(int(end)),
            "log-status": status,
            "vpc-id": meta.vpc_id,
            "subnet-id": meta.subnet_id,
            "instance-id": meta.instance_id,
            "region": meta.region,
            "az-id": meta.az_id,
        }
        return " ".join(values.get(f, "-") for f in fields)

    def _take(self, flow: Flow, half: FlowHalf) -> None:
        if not half.pk:
            return
        # Flags are ORed per half by the packet walk (`record_flags`).
        flags = half.flags
        if half.log is not None:
            for eni_id, wire in half.path_view():
                ft, extra = _pass_through(self.meta.get(eni_id, EniMeta()).ip, half, wire)
                self._accumulate(
                    eni_id, ACCEPT, ft, half.pk, half.by, half.first, half.last, flags, extra
                )
            half.pk = 0
            half.by = 0
            _reset_flags(half)
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
            self._accumulate(eni.id, ACCEPT, ft, half.pk, half.by, half.first, half.last, flags)
        half.pk = 0
        half.by = 0
        _reset_flags(half)

    def _accumulate(
        self,
        eni_id: str,
        action: str,
        ft: FiveTuple,
        pk: int,
        by: int,
        first: float,
        last: float,
        flags: int = 0,
        extra: PacketExtra | None = None,
    ) -> None:
        key = (eni_id, action, ft, extra)
        agg = self._pending.get(key)
        if agg is None:
            if len(self._pending) >= self.max_pending:
                self.skipped += pk
                self._skipped_by_eni[eni_id] = self._skipped_by_eni.get(eni_id, 0) + pk
                return
            self._pending[key] = [pk, by, first, last, flags]
            return
        agg[0] += pk
        agg[1] += by
        if first < agg[2]:
            agg[2] = first
        if last > agg[3]:
            agg[3] = last
        agg[4] = int(agg[4]) | flags


def _pass_through(
    own: int, half: FlowHalf, wire: FiveTuple
) -> tuple[FiveTuple, PacketExtra | None]:
    """srcaddr/dstaddr vs pkt-srcaddr/pkt-dstaddr, as AWS defines them: `srcaddr` is
    the interface's own address for outgoing traffic and `dstaddr` its own for
    incoming traffic, while the pkt-* fields are the packet's real addresses. They
    differ only where an interface carries packets that are not its own: AWS's
    example is a NAT gateway's interface; here an NLB node's interface with client
    IP preservation (client -> target leaves it with the client's source). A target
    behind an NLB without preservation receives packets from the NLB's address,
    so its records say the NLB in both fields (the client is on the NLB's own
    interface records, or in a proxy protocol v2 header).
    docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html"""
    if own < 0 or own in (wire.src, wire.dst):
        return wire, None
    if half.is_reply:  # coming back in through the interface: its own address as dstaddr
        return wire._replace(dst=own), PacketExtra(pkt_dst=wire.dst)
    return wire._replace(src=own), PacketExtra(pkt_src=wire.src)


def _reset_flags(half: FlowHalf) -> None:
    half.flags = 0


def _ip(addr: int) -> str:
    return str(ipaddress.IPv4Address(addr))


def _port(flow: Flow, port: int) -> int:
    # ICMP echo flows are keyed by identifier, which is not a port to flow logs.
    return port if flow.proto in (6, 17) else -1


# -- from the plan -------------------------------------------------------------------

_COMPASS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


def az_id(az: str) -> str:
    """An AZ id in AWS's shape (`us-east-1a` -> `use1-az1`). AWS maps names to ids per
    account; the emulator fixes the mapping to the letter's rank."""
    region, letter = az[:-1], az[-1:]
    parts = region.split("-")
    short = "".join(_COMPASS.get(p, p) for p in parts)
    return f"{short}-az{ord(letter) - ord('a') + 1}" if letter.isalpha() else "-"


def eni_meta(plan: Plan) -> dict[str, EniMeta]:
    """What v3-v5 fields say about each ENI of the plan."""
    out: dict[str, EniMeta] = {}
    for e in plan.enis:
        vpc = plan.vpcs.get(e.vpc)
        subnet = vpc.subnets.get(e.subnet) if vpc is not None else None
        net = ipaddress.IPv4Network(vpc.cidr) if vpc is not None else None
        out[e.id] = EniMeta(
            account_id=vpc.account_id if vpc is not None else "-",
            vpc_id=vpc.id if vpc is not None else "-",
            subnet_id=subnet.id if subnet is not None else "-",
            instance_id=ids.aws_id("i", plan.name, f"host/{e.owner}") if e.kind == "host" else "-",
            az_id=az_id(e.az) if e.az else "-",
            region=plan.region,
            ip=int(ipaddress.IPv4Address(e.ip)),
            vpc_net=int(net.network_address) if net is not None else 0,
            vpc_mask=int(net.netmask) if net is not None else -1,
        )
    return out


def flow_log_setup(plan: Plan) -> tuple[dict[str, tuple[str, ...]], frozenset[str], float]:
    """The topology's flow logs as the logger takes them: ENI -> fields, the ENIs that
    get NODATA records, and the window (never longer than a log's maximum interval)."""
    formats: dict[str, tuple[str, ...]] = {}
    covered: set[str] = set()
    window = float(plan.settings.flow_log_interval)
    for v in plan.vpcs.values():
        for log in v.flow_logs:
            window = min(window, float(log.max_aggregation_interval))
            for e in plan.enis:
                if e.vpc != v.name:
                    continue
                if (
                    log.resource_type == "VPC"
                    or (log.resource_type == "Subnet" and e.subnet == log.resource)
                    or (
                        log.resource_type == "NetworkInterface"
                        and e.kind == "host"
                        and e.owner == log.resource
                    )
                ):
                    formats[e.id] = log.fields
                    covered.add(e.id)
    return formats, frozenset(covered), window


def reformat(
    line: str, source: tuple[str, ...], target: tuple[str, ...], meta: EniMeta | None = None
) -> str:
    """A record written in `source` fields, printed in `target` fields (`flow-logs
    --format`). What the written record does not hold is derived from the ENI where
    that is exact (ids, region, AZ, type, direction, same-VPC path, packet addresses
    equal to the record's), else printed `-` (tcp-flags of a v2 record: not kept)."""
    parts = line.split(" ")
    known = dict(zip(source, parts, strict=False))
    meta = meta or EniMeta()
    status = known.get("log-status", OK)
    derived: dict[str, str] = {
        "vpc-id": meta.vpc_id,
        "subnet-id": meta.subnet_id,
        "instance-id": meta.instance_id,
        "region": meta.region,
        "az-id": meta.az_id,
        "account-id": meta.account_id,
    }
    src, dst = known.get("srcaddr", "-"), known.get("dstaddr", "-")
    if status == OK and src != "-" and dst != "-":
        src_i, dst_i = int(ipaddress.IPv4Address(src)), int(ipaddress.IPv4Address(dst))
        egress = meta.ip < 0 or src_i == meta.ip
        same_vpc = meta.vpc_mask >= 0 and (dst_i & meta.vpc_mask) == meta.vpc_net
        derived.update(
            {
                "type": "IPv4",
                "pkt-srcaddr": src,
                "pkt-dstaddr": dst,
                "flow-direction": "egress" if egress else "ingress",
                "traffic-path": TRAFFIC_PATH_SAME_VPC if egress and same_vpc else "-",
            }
        )
    values = {**derived, **known, "version": str(format_version(target))}
    return " ".join(values.get(f, "-") for f in target)
