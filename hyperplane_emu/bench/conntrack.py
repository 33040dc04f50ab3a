"""``scripts/bench conntrack [--flows N]``: fill the core's flow table, measure its memory.

Pure core (no namespaces, no root): N distinct TCP SYNs from one ENI (source/dest
check off so that sources can vary) into a table bounded at N, then 1,000 more
that must be refused and counted, then one tick past the SYN timeout that must
empty the table without a scan.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from hyperplane_emu.bench.topo import two_host_plan
from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(flows: int) -> dict[str, Any]:
    plan = two_host_plan("ctbench", tcp_ports=(5201,))
    client = plan.enis[0]
    server = plan.enis[1]
    plan = dataclasses.replace(
        plan,
        settings=dataclasses.replace(plan.settings, conntrack_max=flows),
        enis=(dataclasses.replace(client, source_dest_check=False), *plan.enis[1:]),
    )
    fab = Fabric(plan)
    fab.drop_events = False
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    dport = _allowed_port(plan)
    frame = bytearray(bytes(
        Ether(src=client.mac, dst=client.fabric_mac)
        / IP(src=client.ip, dst=server.ip, ttl=64) / TCP(sport=1, dport=dport, flags="S")
    ))  # fmt: skip
    base = _rss_mib()
    t0 = time.monotonic()
    base_ip = int.from_bytes(frame[26:30], "big") & 0xFFFF0000
    for n in range(flows + 1000):
        frame[26:30] = (base_ip + 256 + n // 60000).to_bytes(4, "big")
        frame[24:26] = b"\0\0"
        frame[24:26] = internet_checksum(bytes(frame[14:34])).to_bytes(2, "big")
        frame[34:36] = (1024 + n % 60000).to_bytes(2, "big")
        fab.handle(client.port, bytes(frame), 1.0)
    fill = time.monotonic() - t0
    c = fab.counters
    rss = _rss_mib() - base
    fab.tick(1.0 + 61)
    return {
        "flows": c["conntrack.entries"],
        "refused": c.get("dropped.conntrack-full", 0),
        "rss_mib": round(rss, 1),
        "bytes_per_flow": round(rss * 1024 * 1024 / max(1, c["conntrack.entries"])),
        "fill_seconds": round(fill, 1),
        "after_expiry": fab.counters["conntrack.entries"],
    }


def _allowed_port(plan: Any) -> int:
    for v in plan.vpcs.values():
        for g in v.security_groups.values():
            for r in g.rules:
                if r.direction == "ingress" and r.protocol == 6 and r.from_port > 0:
                    return int(r.from_port)
    return 5201
