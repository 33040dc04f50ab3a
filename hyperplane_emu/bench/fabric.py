"""``scripts/bench fabric``: the fabric against the kernel's own forwarding, same run.

Self-contained labs (namespaces ``he-bench-*``, removed at the end, also on
error or Ctrl-C), measured one after the other in the same run:

- kernel, offloads off and kernel, offloads on: client ns -- router ns
  (ip_forward=1) -- server ns;
- fabric, slow path (``--fast-path off``): client ns and server ns, each veth'd
  to a fabric ns running the fabric daemon with a two-host plan (one VPC, two
  subnets, security groups allowing the bench ports, connection tracking on);
  offloads off on every veth end, like the first kernel lab (the Python path
  forwards real MTU-sized frames);
- fabric, fast path (the default ``auto``): the same lab, the eBPF program
  carrying established flows, offloads on, like the second kernel lab; then
  the same TCP stream with 10 k and 100 k other entries in the flow map.

Measures: iperf3 single-stream TCP at MTU 1500 and 9001 (receiver's Gbit/s),
and packets/s of 64- and 1500-byte frames (UDP, iperf3 -b 0, the sender as
fast as it goes) counted as datagrams reaching the server's UDP layer; and the
fabric's connection setup rate on the PrivateLink path (`flowsetup`).

Keys: today's (``ratio_1500`` = slow path / kernel offloads off, ...) and
``ratio_1500_on``, ``ratio_9001_on``, ``ratio_pps_*_on`` (fast path / kernel
offloads on), ``flows_per_s`` (connections set up per second, kernel installs
included), ``map_gbps_1500`` (fast path with 10 k / 100 k map entries).
"""

from __future__ import annotations

import json
import os
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


def rx_datagrams(lab: Lab, ns_name: str) -> int:
    """UDP datagrams that reached the server's UDP layer (delivered or dropped for a
    full socket buffer): /proc/net/snmp InDatagrams + InErrors, read inside its
    namespace: every lab is counted at the same place, whatever the interface's
    own accounting (it counts skbs, and the fast path's skbs may be GSO super-frames)."""
    lines = [ln.split() for ln in lab.run(ns_name, ["cat", "/proc/net/snmp"]).stdout.splitlines()]
    head, values = [ln for ln in lines if ln and ln[0] == "Udp:"][:2]
    row = dict(zip(head[1:], values[1:], strict=True))
    return int(row["InDatagrams"]) + int(row["InErrors"])


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
            before = rx_datagrams(t.lab, t.server_ns)
            out = iperf(t, ["-u", "-b", "0", "-l", str(frame - ETH_IP_UDP)], udp_seconds)
            delivered = rx_datagrams(t.lab, t.server_ns) - before
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


def fabric_lab(
    lab: Lab, state_dir: Path, fast_path: str, offloads: str | None = None
) -> tuple[Target, Any]:
    """The fabric daemon on a two-host plan; ``offloads`` None: the daemon's choice
    (on with the kernel fast path, off without)."""
    name = lab.prefix[len("he-") :].rstrip("-")
    plan = topo.two_host_plan(name, tcp_ports=[PORT], udp_ports=[PORT])
    topo.build(lab, plan)
    topo.write_state(state_dir, plan)
    log = (state_dir / "fabric.log").open("wb")
    argv = [sys.executable, "-m", "hyperplane_emu.fabric.daemon", "--state-dir", str(state_dir)]
    argv += ["--fast-path", fast_path]
    if offloads is not None:
        argv += ["--offloads", offloads]
    daemon = lab.popen(plan.fabric_namespace, argv, stderr=log)
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


def _flows_map_id(pid: int) -> int:
    """The id of the he_flows map the fabric process `pid` holds (from its fdinfo)."""
    from hyperplane_emu.fabric.ebpf import bpf_objects

    flows = {i for kind, n, i in bpf_objects() if kind == "map" and n == "he_flows"}
    fdinfo = Path(f"/proc/{pid}/fdinfo")
    for entry in fdinfo.iterdir():
        try:
            text = entry.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("map_id:") and int(line.split()[1]) in flows:
                return int(line.split()[1])
    raise LabError(f"fabric pid {pid} holds no he_flows map (is the fast path on?)")


def fill_map(map_id: int, start: int, n: int) -> None:
    """Add `n` entries that no packet matches (ifindex 0) to the flow map `map_id`."""
    import ctypes
    import struct

    from hyperplane_emu.fabric.ebpf import FlowAction
    from hyperplane_emu.fabric.ebpf.layout import pack_action, pack_key
    from hyperplane_emu.fabric.ebpf.libbpf import lib

    libbpf = lib()
    fd = libbpf.bpf_map_get_fd_by_id(map_id)
    if fd < 0:
        raise LabError(f"map {map_id}: {os.strerror(-fd)}")
    try:
        value = pack_action(FlowAction(b"\x02" * 6, b"\x04" * 12, None, 1))
        for i in range(start, start + n):
            key = pack_key((0, 6, struct.pack("!II", 0x0A000000 + i, 0x0AFF0001) + b"\0\1\0\2"))
            if libbpf.bpf_map_update_elem(fd, key, value, 0) != 0:
                raise LabError(f"map {map_id}: update failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


@dataclass
class Result:
    kernel: Figures
    fabric: Figures
    fabric_counters: dict[str, int]
    seconds: float
    kernel_on: Figures | None = None
    fast: Figures | None = None
    fast_counters: dict[str, int] = field(default_factory=dict)
    fast_path: str = ""
    map_gbps: dict[int, float] = field(default_factory=dict)  # map entries -> Gbit/s at 1500
    flows_per_s: float | None = None
    flows_per_s_python: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _compare(out, self.kernel, self.fabric, ("kernel", "fabric"), "")
        on, fast = self.kernel_on, self.fast
        if on is not None and fast is not None:
            _compare(out, on, fast, ("kernel_on", "fast"), "_on")
            out["map_gbps_1500"] = {str(n): round(g, 3) for n, g in self.map_gbps.items()}
        out["flows_per_s"] = round(self.flows_per_s) if self.flows_per_s else None
        out["flows_per_s_python"] = round(self.flows_per_s_python or 0) or None
        out["fast_path"] = self.fast_path
        out["targets"] = {
            "ratio_9001 >= 0.5": bool(out["ratio_9001"] and out["ratio_9001"] >= 0.5),
            "fabric_pps_1500 >= 100000": out["fabric_pps_1500"] >= 100_000,
            "ratio_1500_on >= 0.9": (out.get("ratio_1500_on") or 0) >= 0.9,
            "ratio_9001_on >= 0.9": (out.get("ratio_9001_on") or 0) >= 0.9,
            "ratio_pps_1500_on >= 0.9": (out.get("ratio_pps_1500_on") or 0) >= 0.9,
            "flows_per_s >= 20000": (out["flows_per_s"] or 0) >= 20_000,
        }
        out["fabric_counters"] = self.fabric_counters
        out["fast_counters"] = self.fast_counters
        out["seconds"] = round(self.seconds, 1)
        return out


def _compare(
    out: dict[str, Any], base: Figures, other: Figures, names: tuple[str, str], suffix: str
) -> None:
    """``<base>_gbps_<mtu>``, ``<other>_gbps_<mtu>``, ``ratio_<mtu><suffix>`` and the same
    for pps: ``other`` against ``base`` measured in the same run."""
    b, o = names
    for mtu in (1500, 9001):
        out[f"{b}_gbps_{mtu}"] = round(base.gbps[mtu], 3)
        out[f"{o}_gbps_{mtu}"] = round(other.gbps[mtu], 3)
        out[f"ratio_{mtu}{suffix}"] = _ratio(other.gbps[mtu], base.gbps[mtu])
    for size in (64, 1500):
        out[f"{b}_pps_{size}"] = round(base.pps[size])
        out[f"{o}_pps_{size}"] = round(other.pps[size])
        out[f"ratio_pps_{size}{suffix}"] = _ratio(other.pps[size], base.pps[size])


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _status(state: Path) -> dict[str, Any]:
    from hyperplane_emu.fabric.control import request

    answer: dict[str, Any] = request(str(state / "fabric.sock"), "status")
    return answer


def _stop(lab: Lab, daemon: Any, state: Path) -> None:
    if lab.stop(daemon) != 0:
        raise LabError("fabric daemon exited non-zero: " + (state / "fabric.log").read_text())


def flow_setup(kernel: bool) -> float:
    """Connections/s set up on the PrivateLink path, in process (`flowsetup`), best of 3;
    ``kernel``: with a real flow map (loaded, attached nowhere) taking the installs."""
    from hyperplane_emu.fabric.core import Fabric

    from . import flowsetup

    p = flowsetup.plan()
    best = 0.0
    for _ in range(3):
        fab = Fabric(p)
        if not kernel:
            best = max(best, flowsetup.setup_rate(fab, 20_000))
            continue
        from hyperplane_emu.fabric.ebpf import FlowAction, KernelFlows, MapFull

        ports = max(e.port for e in p.enis) + 1
        kf = KernelFlows.load([], 65_536)
        fab.fastpath.attach(kf, [1000 + i for i in range(ports)], FlowAction, MapFull)
        try:
            best = max(best, flowsetup.setup_rate(fab, 20_000))
        finally:
            fab.fastpath.close()  # frees the map
    return best


def run(
    tcp_seconds: float = 5.0,
    udp_seconds: float = 3.0,
    on_step: Callable[[str], None] = lambda s: None,
    *,
    prefix: str = "he-bench-",
    fast: bool = True,
) -> Result:
    """``prefix`` names the labs' namespaces (two benches at once need two prefixes);
    ``fast``: also measure the kernel with offloads on and the fabric's fast path."""
    t0 = time.monotonic()
    r = Result(Figures(), Figures(), {}, 0.0)
    with tempfile.TemporaryDirectory(prefix="he-bench-") as tmp:
        with Lab(prefix) as lab:
            on_step("kernel lab, offloads off")
            r.kernel = measure(
                kernel_lab(lab, "off"), tcp_seconds, udp_seconds, lambda s: on_step("kernel " + s)
            )
        state = Path(tmp) / "slow"
        with Lab(prefix) as lab:
            on_step("fabric lab, slow path (--fast-path off)")
            target, daemon = fabric_lab(lab, state, "off")
            r.fabric = measure(target, tcp_seconds, udp_seconds, lambda s: on_step("fabric " + s))
            r.fabric_counters = {k: v for k, v in _status(state)["counters"].items() if v}
            _stop(lab, daemon, state)
        if fast:
            _fast(r, Path(tmp) / "fast", prefix, tcp_seconds, udp_seconds, on_step)
    r.seconds = time.monotonic() - t0
    return r


def _fast(
    r: Result,
    state: Path,
    prefix: str,
    tcp_seconds: float,
    udp_seconds: float,
    on_step: Callable[[str], None],
) -> None:
    with Lab(prefix) as lab:
        on_step("kernel lab, offloads on")
        r.kernel_on = measure(
            kernel_lab(lab, "on"), tcp_seconds, udp_seconds, lambda s: on_step("kernel on " + s)
        )
    with Lab(prefix) as lab:
        on_step("fabric lab, fast path")
        target, daemon = fabric_lab(lab, state, "auto")
        r.fast_path = str(_status(state).get("fast_path", ""))
        r.fast = measure(target, tcp_seconds, udp_seconds, lambda s: on_step("fast " + s))
        r.fast_counters = {k: v for k, v in _status(state)["counters"].items() if v}
        if r.fast_path.startswith("on"):
            map_id = _flows_map_id(daemon.pid)
            server = target.lab.popen(
                target.server_ns, ["iperf3", "-s", "-p", str(PORT)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            target.lab.wait_listening(target.server_ns, PORT)
            try:
                set_mtu(target, 1500)
                filled = 0
                for n in (10_000, 100_000):
                    on_step(f"fast tcp mtu 1500, {n} entries in the flow map")
                    fill_map(map_id, filled, n - filled)
                    filled = n
                    out = iperf(target, [], tcp_seconds)
                    r.map_gbps[n] = out["end"]["sum_received"]["bits_per_second"] / 1e9
            finally:
                target.lab.stop(server)
        _stop(lab, daemon, state)
    on_step("connection setup rate (PrivateLink path, in process)")
    r.flows_per_s_python = flow_setup(kernel=False)
    if r.fast_path.startswith("on"):
        r.flows_per_s = flow_setup(kernel=True)


def print_table(r: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    j = r.as_json()
    fast = r.fast is not None
    table = Table(title=f"fabric vs kernel forwarding ({j['seconds']} s, SGs + conntrack on)")
    for col in ("measure", "kernel", "slow path", "slow/kernel"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    if fast:
        for col in ("kernel, offloads on", "fast path", "fast/kernel on"):
            table.add_column(col, justify="right")
    for mtu in (1500, 9001):
        row = [
            f"TCP 1 stream, MTU {mtu} (Gbit/s)",
            f"{j[f'kernel_gbps_{mtu}']:.2f}",
            f"{j[f'fabric_gbps_{mtu}']:.2f}",
            f"{j[f'ratio_{mtu}']:.0%}",
        ]
        if fast:
            row += [
                f"{j[f'kernel_on_gbps_{mtu}']:.2f}",
                f"{j[f'fast_gbps_{mtu}']:.2f}",
                f"{j[f'ratio_{mtu}_on']:.0%}",
            ]
        table.add_row(*row)
    for size in (64, 1500):
        row = [
            f"UDP {size}-byte frames (pkt/s delivered)",
            f"{j[f'kernel_pps_{size}']:,}",
            f"{j[f'fabric_pps_{size}']:,}",
            f"{j[f'ratio_pps_{size}']:.0%}",
        ]
        if fast:
            row += [
                f"{j[f'kernel_on_pps_{size}']:,}",
                f"{j[f'fast_pps_{size}']:,}",
                f"{j[f'ratio_pps_{size}_on']:.0%}",
            ]
        table.add_row(*row)
    console = Console()
    console.print(table)
    if fast:
        console.print(f"fast path: {j['fast_path']}")
        for n, g in j["map_gbps_1500"].items():
            console.print(f"fast path, TCP MTU 1500, {n} other map entries: {g:.2f} Gbit/s")
    console.print(
        f"connection setup, PrivateLink path (in process): {j['flows_per_s_python'] or 0:,}/s "
        f"Python only, {j['flows_per_s'] or 0:,}/s with kernel installs"
    )
    for name, ok in j["targets"].items():
        console.print(f"target {name}: {'met' if ok else 'NOT met'}")
