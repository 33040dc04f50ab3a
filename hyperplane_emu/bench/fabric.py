"""``scripts/bench fabric``: the fabric against the kernel's own forwarding, same run.

Two self-contained labs (namespaces ``he-bench-*``, removed at the end, also
on error or Ctrl-C):

- kernel: client ns -- router ns (ip_forward=1) -- server ns;
- fabric: client ns and server ns, each veth'd to a fabric ns running the
  fabric daemon with a two-host plan (one VPC, two subnets, security groups
  allowing the bench ports, connection tracking on).

Every veth end has TSO, GSO, GRO and tx checksum offload off in *both* labs:
the fabric needs that (it forwards real MTU-sized frames), and the kernel
gets the same links so the ratio compares forwarding, not offloads.

Measures: iperf3 single-stream TCP at MTU 1500 and 9001 (receiver's Gbit/s),
and packets/s of 64- and 1500-byte frames (UDP, iperf3 -b 0, the sender as
fast as it goes) counted as frames arriving on the server's interface.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroute2 import NetNS

from . import topo
from .lab import Lab, LabError

PORT = 5201
ETH_IP_UDP = 14 + 20 + 8


@dataclass
class Figures:
    gbps: dict[int, float] = field(default_factory=dict)  # MTU -> Gbit/s
    pps: dict[int, float] = field(default_factory=dict)  # frame size -> frames/s delivered
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    """One lab: where the iperf3 client and server run, and the links to retune."""

    lab: Lab
    client_ns: str
    server_ns: str
    server_ip: str
    links: list[tuple[str, str]]  # (netns, ifname) of every veth end


def set_mtu(t: Target, mtu: int) -> None:
    for ns_name, ifname in t.links:
        with NetNS(ns_name, flags=0) as ns:
            ns.link("set", index=ns.link_lookup(ifname=ifname)[0], mtu=mtu)


def rx_packets(ns_name: str, ifname: str) -> int:
    with NetNS(ns_name, flags=0) as ns:
        link = ns.get_links(ns.link_lookup(ifname=ifname)[0])[0]
        return int(link.get("IFLA_STATS64")["rx_packets"])


def iperf(t: Target, args: list[str], seconds: float) -> dict[str, Any]:
    r = t.lab.run(
        t.client_ns,
        ["iperf3", "-c", t.server_ip, "-p", str(PORT), "-t", str(seconds), "-J", *args],
        timeout=seconds + 20,
    )
    try:
        out: dict[str, Any] = json.loads(r.stdout)
    except ValueError:
        raise LabError(f"iperf3 {' '.join(args)}: {r.stderr.strip() or r.stdout[:300]}") from None
    if "error" in out:
        raise LabError(f"iperf3 {' '.join(args)}: {out['error']}")
    return out


def measure(
    t: Target, tcp_seconds: float, udp_seconds: float, on_step: Callable[[str], None]
) -> Figures:
    f = Figures()
    server = t.lab.popen(
        t.server_ns,
        ["iperf3", "-s", "-p", str(PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    t.lab.wait_listening(t.server_ns, PORT)
    try:
        for mtu in (1500, 9001):
            set_mtu(t, mtu)
            on_step(f"tcp mtu {mtu}")
            out = iperf(t, [], tcp_seconds)
            f.gbps[mtu] = out["end"]["sum_received"]["bits_per_second"] / 1e9
        # Frames of 64 and 1500 bytes (Ethernet header included, FCS not): UDP
        # payload = frame - 42. Links stay at 9001: no frame is near the MTU.
        for frame in (64, 1500):
            on_step(f"udp {frame}-byte frames")
            before = rx_packets(t.server_ns, "eth0")
            out = iperf(t, ["-u", "-b", "0", "-l", str(frame - ETH_IP_UDP)], udp_seconds)
            delivered = rx_packets(t.server_ns, "eth0") - before
            f.pps[frame] = delivered / out["end"]["sum"]["seconds"]
    finally:
        t.lab.stop(server)
    return f


def kernel_lab(lab: Lab, offloads: str = "off") -> Target:
    c, r, s = lab.netns("kc"), lab.netns("kr"), lab.netns("ks")
    off = offloads == "off"
    lab.veth(c, "eth0", r, "he-kr-c", mtu=9001, offloads_off=off)
    lab.veth(s, "eth0", r, "he-kr-s", mtu=9001, offloads_off=off)
    lab.address(c, "eth0", topo.CLIENT_IP, 24)
    lab.address(r, "he-kr-c", "10.0.1.1", 24)
    lab.address(s, "eth0", topo.SERVER_IP, 24)
    lab.address(r, "he-kr-s", "10.0.2.1", 24)
    lab.default_route(c, "10.0.1.1")
    lab.default_route(s, "10.0.2.1")
    lab.sysctl(r, "net.ipv4.ip_forward", "1")
    links = [(c, "eth0"), (r, "he-kr-c"), (r, "he-kr-s"), (s, "eth0")]
    return Target(lab, c, s, topo.SERVER_IP, links)


def fabric_lab(lab: Lab, state_dir: Path, offloads: str = "off") -> tuple[Target, Any]:
    name = lab.prefix[len("he-") :].rstrip("-")
    plan = topo.two_host_plan(name, tcp_ports=[PORT], udp_ports=[PORT])
    topo.build(lab, plan)
    topo.write_state(state_dir, plan)
    log = (state_dir / "fabric.log").open("wb")
    daemon = lab.popen(
        plan.fabric_namespace,
        [
            sys.executable,
            "-m",
            "hyperplane_emu.fabric.daemon",
            "--state-dir",
            str(state_dir),
            "--offloads",
            offloads,
        ],
        stderr=log,
    )
    deadline = time.monotonic() + 15
    while not (state_dir / "fabric.ready").exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise LabError("fabric daemon did not start: " + (state_dir / "fabric.log").read_text())
        time.sleep(0.02)
    client, server = plan.enis
    links = [
        (client.namespace, client.ifname),
        (plan.fabric_namespace, client.fabric_ifname),
        (plan.fabric_namespace, server.fabric_ifname),
        (server.namespace, server.ifname),
    ]
    return Target(lab, client.namespace, server.namespace, server.ip, links), daemon


@dataclass
class Result:
    kernel: Figures
    fabric: Figures
    fabric_counters: dict[str, int]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        k, f = self.kernel, self.fabric
        out: dict[str, Any] = {}
        for mtu in (1500, 9001):
            out[f"kernel_gbps_{mtu}"] = round(k.gbps[mtu], 3)
            out[f"fabric_gbps_{mtu}"] = round(f.gbps[mtu], 3)
            out[f"ratio_{mtu}"] = round(f.gbps[mtu] / k.gbps[mtu], 3) if k.gbps[mtu] else None
        for size in (64, 1500):
            out[f"kernel_pps_{size}"] = round(k.pps[size])
            out[f"fabric_pps_{size}"] = round(f.pps[size])
            out[f"ratio_pps_{size}"] = round(f.pps[size] / k.pps[size], 3) if k.pps[size] else None
        out["targets"] = {
            "ratio_9001 >= 0.5": bool(out["ratio_9001"] and out["ratio_9001"] >= 0.5),
            "fabric_pps_1500 >= 100000": out["fabric_pps_1500"] >= 100_000,
        }
        out["fabric_counters"] = self.fabric_counters
        out["seconds"] = round(self.seconds, 1)
        return out


def run(
    tcp_seconds: float = 5.0,
    udp_seconds: float = 3.0,
    on_step: Callable[[str], None] = lambda s: None,
    *,
    offloads: str = "off",
    prefix: str = "he-bench-",
) -> Result:
    """``offloads``: "on" keeps TSO/GSO/tx checksum on in both labs (the fabric
    reads PACKET_VNET_HDR and segments in Python); ``prefix`` names the labs'
    namespaces (two benches at once need two prefixes)."""
    from hyperplane_emu.fabric.control import request

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="he-bench-") as tmp:
        state = Path(tmp) / "state"
        with Lab(prefix) as lab:
            on_step("kernel lab")
            kernel = measure(
                kernel_lab(lab, offloads),
                tcp_seconds,
                udp_seconds,
                lambda s: on_step("kernel " + s),
            )
        with Lab(prefix) as lab:
            on_step("fabric lab")
            target, daemon = fabric_lab(lab, state, offloads)
            fabric = measure(target, tcp_seconds, udp_seconds, lambda s: on_step("fabric " + s))
            answer = request(str(state / "fabric.sock"), "status")
            counters = {k: v for k, v in answer.get("counters", {}).items() if v}
            if lab.stop(daemon) != 0:
                raise LabError(
                    "fabric daemon exited non-zero: " + (state / "fabric.log").read_text()
                )
    return Result(kernel, fabric, counters, time.monotonic() - t0)


def print_table(r: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    j = r.as_json()
    table = Table(title=f"fabric vs kernel forwarding ({j['seconds']} s, SGs + conntrack on)")
    table.add_column("measure")
    table.add_column("kernel", justify="right")
    table.add_column("fabric", justify="right")
    table.add_column("fabric/kernel", justify="right")
    for mtu in (1500, 9001):
        table.add_row(
            f"TCP 1 stream, MTU {mtu} (Gbit/s)",
            f"{j[f'kernel_gbps_{mtu}']:.2f}",
            f"{j[f'fabric_gbps_{mtu}']:.2f}",
            f"{j[f'ratio_{mtu}']:.0%}",
        )
    for size in (64, 1500):
        table.add_row(
            f"UDP {size}-byte frames (pkt/s delivered)",
            f"{j[f'kernel_pps_{size}']:,}",
            f"{j[f'fabric_pps_{size}']:,}",
            f"{j[f'ratio_pps_{size}']:.0%}",
        )
    console = Console()
    console.print(table)
    for name, ok in j["targets"].items():
        console.print(f"target {name}: {'met' if ok else 'NOT met'}")
