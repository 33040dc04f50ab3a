"""The values the Python API hands back: ENIs, hosts, responses, flow log records,
trace hops, captures.

Plain frozen records with their parsing (a flow log line, a trace hop); apart from
the handle (api.py) because they change with the file formats they read
(flow log fields, trace.schema.json), not with how a topology is driven.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperplane_emu.fabric.flowlog import (
    V2_FIELDS,
    V2_PKT_FIELDS,
    EniMeta,
    reformat,
)
from hyperplane_emu.plan.model import PlanEni

# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class Eni:
    id: str
    ip: str
    kind: str
    owner: str
    vpc: str
    subnet: str
    security_groups: tuple[str, ...]
    namespace: str

    @classmethod
    def of(cls, e: PlanEni) -> Eni:
        return cls(e.id, e.ip, e.kind, e.owner, e.vpc, e.subnet, e.security_groups, e.namespace)


@dataclass(frozen=True)
class Host:
    """An emulated host: its namespace and ENIs (eth0 first)."""

    name: str
    vpc: str
    subnet: str
    namespace: str
    hostname: str
    enis: tuple[Eni, ...]

    @property
    def ip(self) -> str:
        """eth0's private address."""
        return self.enis[0].ip

    @property
    def eni(self) -> str:
        """eth0's ENI id."""
        return self.enis[0].id


@dataclass(frozen=True)
class Response:
    """An HTTP exchange as the client (curl, inside the host's namespace) saw it.

    `status` is None when no HTTP answer came back (refused, timed out, TLS
    failure); `error` then says what curl reported."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by name, case-insensitive (HTTP names are)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)


@dataclass(frozen=True)
class FlowLogRecord:
    """One VPC Flow Logs record (default format v2, plus pkt-srcaddr/pkt-dstaddr)."""

    version: int
    account_id: str
    interface_id: str
    srcaddr: str
    dstaddr: str
    srcport: int | None
    dstport: int | None
    protocol: int | None
    packets: int | None
    bytes: int | None
    start: int
    end: int
    action: str
    log_status: str
    pkt_srcaddr: str | None = None
    pkt_dstaddr: str | None = None

    fields: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Every field as the log wrote it, by AWS's name (`tcp-flags`, `vpc-id`...: a
    topology's `flow_logs` can choose custom v2-v5 formats)."""

    @classmethod
    def parse(
        cls, line: str, written: Sequence[str] = V2_FIELDS, meta: EniMeta | None = None
    ) -> FlowLogRecord:
        """A record written in the `written` fields; the v2 (+pkt) fields a custom format
        leaves out are derived where that is exact (flowlog.reformat), else None/'-'."""
        parts = line.split()
        fields = dict(zip(written, parts, strict=False))
        v2 = reformat(line, tuple(written), V2_PKT_FIELDS, meta).split(" ")
        merged = {**dict(zip(V2_PKT_FIELDS, v2, strict=False)), **fields}
        raw = {k.replace("-", "_"): v for k, v in merged.items()}

        def num(key: str) -> int | None:
            v = raw.get(key, "-")
            return None if v == "-" else int(v)

        def text(key: str) -> str | None:
            v = raw.get(key, "-")
            return None if v == "-" else v

        return cls(
            version=num("version") or 2,
            account_id=raw["account_id"],
            interface_id=raw["interface_id"],
            srcaddr=raw["srcaddr"],
            dstaddr=raw["dstaddr"],
            srcport=num("srcport"),
            dstport=num("dstport"),
            protocol=num("protocol"),
            packets=num("packets"),
            bytes=num("bytes"),
            start=num("start") or 0,
            end=num("end") or 0,
            action=raw["action"],
            log_status=raw["log_status"],
            pkt_srcaddr=text("pkt_srcaddr"),
            pkt_dstaddr=text("pkt_dstaddr"),
            fields=fields,
        )


@dataclass(frozen=True)
class Hop:
    """One decision of the fabric for a traced flow (trace.schema.json's items)."""

    time: float
    flow: str
    step: str
    where: str
    action: str
    detail: str
    eni_owner: str = ""
    vpc: str = ""
    namespace: str = ""
    process: str = ""

    @classmethod
    def of(cls, h: Mapping[str, Any]) -> Hop:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in h.items() if k in known})


@dataclass(frozen=True)
class Trace:
    response: Response
    hops: tuple[Hop, ...]

    def steps(self) -> list[str]:
        return [h.step for h in self.hops]

    def draw(self, path: str | os.PathLike[str], title: str = "trace") -> None:
        """The hops as a sequence diagram (SVG; needs Graphviz), as `trace --svg` draws."""
        from hyperplane_emu import diagram

        hops = [{k: v for k, v in dataclasses.asdict(h).items() if v != ""} for h in self.hops]
        diagram.render(diagram.trace_dot(hops, title), path)


@dataclass
class Capture:
    """A running (then finished) capture of one ENI; `path` is the pcap file."""

    eni: Eni
    path: Path
    _stop: Any = field(default=None, repr=False)

    def frames(self) -> list[bytes]:
        """The captured frames, raw (no scapy needed)."""
        from hyperplane_emu.fabric.pcapfile import read_pcap

        try:
            with open(self.path, "rb") as f:
                return [r.data for r in read_pcap(f)[1]]
        except (OSError, ValueError):
            return []

    def packets(self) -> Any:
        """The frames parsed by scapy (`scapy.plist.PacketList`)."""
        from scapy.utils import rdpcap

        return rdpcap(str(self.path))
