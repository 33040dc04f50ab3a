"""The soak's checks, each returning plain figures (the CLI prints and reports them).

Every check is bounded in time and count; traffic stays inside the emulator's
namespaces. `quick` sizes keep `scripts/soak --quick` under a minute.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime import lifecycle, processes
from hyperplane_emu.runtime.state import STATE_ROOT, StateDir

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"
SEED = ROOT / "tests" / "data" / "good" / "privatelink.yaml"

Step = Callable[[str], None]


def bad_files() -> dict[str, Any]:
    """Every invalid file: exit 2, a path-qualified message, no traceback, nothing created."""
    from hyperplane_emu.cli.main import main

    runner = CliRunner()
    before = set(Kernel().netns_list())
    failed: list[str] = []
    files = sorted(BAD.glob("*.yaml"))
    for f in files:
        r = runner.invoke(main, ["validate", str(f)])
        text = r.output
        if r.exit_code != 2 or "Traceback" in text or ":" not in text:
            failed.append(f"{f.name}: exit {r.exit_code}")
    # Binary garbage and an empty file, beside the corpus.
    with tempfile.TemporaryDirectory() as d:
        extra = {"empty.yaml": b"", "garbage.yaml": bytes(range(256)) * 8}
        for name, data in extra.items():
            p = Path(d) / name
            p.write_bytes(data)
            r = runner.invoke(main, ["validate", str(p)])
            if r.exit_code != 2 or "Traceback" in r.output:
                failed.append(f"{name}: exit {r.exit_code}")
    changed = set(Kernel().netns_list()) != before
    return {
        "bad_files": len(files) + 2,
        "bad_files_failed_cleanly": len(files) + 2 - len(failed),
        "bad_files_problems": failed[:10],
        "host_changed": changed,
    }


def _valid_frames(plan: Any) -> list[bytes]:
    """Frames the client ENI of `plan` could really send (its MACs and addresses)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Dot1Q, Ether

    c, srv = plan.enis[0], plan.enis[1]
    e = Ether(src=c.mac, dst=c.fabric_mac)
    ip = IP(src=c.ip, dst=srv.ip)
    return [
        bytes(e / ip / TCP(sport=40000, dport=5201, flags="S")),
        bytes(e / ip / TCP(sport=40000, dport=5201, flags="A") / (b"x" * 100)),
        bytes(e / ip / UDP(sport=5000, dport=5201) / b"payload"),
        bytes(e / ip / ICMP() / b"ping"),
        bytes(e / IP(src=c.ip, dst=srv.ip, flags="MF", frag=0) / UDP(dport=5201) / (b"f" * 64)),
        bytes(e / IP(src=c.ip, dst=srv.ip, frag=8) / (b"g" * 64)),
        bytes(e / IP(src=c.ip, dst=srv.ip, options=b"\x01" * 4) / TCP(dport=5201)),
        bytes(e / Dot1Q(vlan=7) / ip / TCP()),
        bytes(Ether(src=c.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=c.ip, pdst=srv.ip)),
        bytes(e) + b"\x86\xdd" + bytes(40),
    ]


def _well_formed(frame: bytes | bytearray) -> bool:
    if len(frame) < 14:
        return False
    if frame[12:14] == b"\x08\x00":
        if len(frame) < 34:
            return False
        ihl = (frame[14] & 0x0F) * 4
        return internet_checksum(bytes(frame[14 : 14 + ihl])) == 0
    return frame[12:14] == b"\x08\x06"


def fuzz(frames: int, seed: int = 1) -> dict[str, Any]:
    """Random and mutated frames through the sans-IO core: no exception, well-formed output,
    bounded memory."""
    from hyperplane_emu.bench.topo import two_host_plan

    plan = two_host_plan("soakfuzz", tcp_ports=(5201,), udp_ports=(5201,))
    fab = Fabric(plan)
    fab.drop_events = False
    rng = random.Random(seed)
    bases = _valid_frames(plan)
    exceptions = malformed = emitted = 0
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    for i in range(frames):
        kind = rng.random()
        if kind < 0.2:
            frame = rng.randbytes(rng.randrange(0, 200))
        else:
            work = bytearray(rng.choice(bases))
            for _ in range(rng.randrange(1, 4)):
                op = rng.random()
                if op < 0.5 and work:
                    work[rng.randrange(len(work))] = rng.randrange(256)
                elif op < 0.75:
                    del work[rng.randrange(len(work) + 1) :]
                else:
                    work += rng.randbytes(rng.randrange(1, 32))
            frame = bytes(work)
        try:
            port = 0 if rng.random() < 0.9 else rng.choice((1, 2, -1))
            out = fab.handle(port, frame, 1.0 + i * 1e-5)
        except Exception:  # noqa: BLE001 - counting is the point
            exceptions += 1
            continue
        for _, f in out:
            emitted += 1
            if not _well_formed(f):
                malformed += 1
        if i % 50_000 == 0:
            fab.tick(1.0 + i * 1e-5)
    rss_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start) / 1024
    return {
        "fuzz_frames": frames,
        "fuzz_exceptions": exceptions,
        "fuzz_malformed": malformed,
        "fuzz_emitted": emitted,
        "fuzz_seconds": round(time.monotonic() - t0, 1),
        "fuzz_rss_growth_mib": round(rss_growth_mib, 1),
    }


def leftovers(prefix: str) -> list[str]:
    found = [n for n in Kernel().netns_list() if n.startswith(prefix)]
    name = prefix[3:-1]
    if (STATE_ROOT / name).exists():
        found.append(str(STATE_ROOT / name))
    if os.path.isdir("/etc/netns"):
        found += [d for d in os.listdir("/etc/netns") if d.startswith(prefix)]
    with open("/proc/mounts") as f:
        found += [ln.split()[1] for ln in f if prefix in ln]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            args = processes.cmdline(int(pid))
            if any(str(STATE_ROOT / name) in a for a in args):
                found.append(f"pid {pid}")
    return found


def bpf_ids() -> set[int]:
    """Ids of the loaded BPF programs and maps named he_* (the fabric's fast path)."""
    from hyperplane_emu.fabric.ebpf import bpf_objects

    return {i for _, _, i in bpf_objects()}


def bpf_leftovers(before: set[int], wait: float = 5.0) -> list[str]:
    """BPF objects of ours loaded since `before` and still there `wait` seconds on: a
    leak after `down`. After a kill -9 the program lives as long as the fabric's veths,
    which the kernel frees asynchronously once `down` deleted their namespace."""
    from hyperplane_emu.fabric.ebpf import bpf_objects

    deadline = time.monotonic() + wait
    while True:
        left = [f"bpf {k} {name} id {i}" for k, name, i in bpf_objects() if i not in before]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def root_namespace() -> Any:
    """What the soak must leave as it found: the root namespace's addresses, routes,
    rules, links and forwarding sysctls (read, never written)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        addrs = sorted((a["index"], a.get("IFA_ADDRESS")) for a in ipr.get_addr())
        routes = sorted(
            (r.get("RTA_DST") or "", r["dst_len"], r.get("RTA_GATEWAY") or "", r["table"])
            for r in ipr.get_routes()
        )
        rules = sorted((r["table"], r.get("FRA_PRIORITY") or 0) for r in ipr.get_rules())
        links = sorted(str(m.get("IFLA_IFNAME")) for m in ipr.get_links())
    sysctls = {
        k: Path("/proc/sys/" + k.replace(".", "/")).read_text().strip()
        for k in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
    }
    return addrs, routes, rules, links, sysctls


def cycles(n: int, step: Step) -> dict[str, Any]:
    """up/down of the seed topology `n` times; anything left after each down is a leak,
    and the root namespace must be as it was."""
    before = root_namespace()
    leaks: list[str] = []
    t0 = time.monotonic()
    for i in range(n):
        bpf_before = bpf_ids()
        p = lifecycle.up(SEED, replace=True)
        lifecycle.down(p.name)
        leaks += leftovers(p.prefix) + bpf_leftovers(bpf_before)
        if i % 10 == 9:
            step(f"{i + 1} cycles")
    if root_namespace() != before:
        leaks.append("the root namespace changed")
    return {
        "cycles": n,
        "leaks": len(leaks),
        "leak_examples": leaks[:5],
        "cycle_seconds": round((time.monotonic() - t0) / max(1, n), 2),
    }


def faults(step: Step) -> dict[str, Any]:
    """kill -9 the fabric under traffic; then down, up again, and a service killed."""
    out: dict[str, Any] = {}
    bpf_before = bpf_ids()
    p = lifecycle.up(SEED, replace=True)
    state = StateDir.of(p.name)
    kernel = Kernel()
    client = p.hosts["client"].namespace
    vpce = next(e.ip for e in p.enis if e.kind == "vpce")

    def get() -> bool:
        def go() -> bool:
            try:
                with socket.create_connection((vpce, 80), timeout=2) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    return s.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                return False

        return bool(kernel.in_netns(client, go))

    out["traffic_before"] = get()
    fabric = state.read_pids()["fabric"]
    os.kill(fabric, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes.alive(fabric) and time.monotonic() < deadline:
        time.sleep(0.05)
    from hyperplane_emu.runtime.status import status

    out["status_after_kill"] = status(p.name)["fabric"]["health"]
    out["traffic_after_kill"] = get()
    report = lifecycle.down(p.name)
    out["down_errors"] = len(report.errors)
    out["leaks_after_kill"] = len(leftovers(p.prefix) + bpf_leftovers(bpf_before))
    p = lifecycle.up(SEED, replace=True)
    out["up_again"] = get()
    echo = next(
        pid for name, pid in StateDir.of(p.name).read_pids().items() if name.startswith("echo")
    )
    os.kill(echo, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes.alive(echo) and time.monotonic() < deadline:
        time.sleep(0.05)
    out["status_service_killed"] = [
        x["name"] for x in status(p.name)["processes"] if not x["alive"]
    ]
    lifecycle.down(p.name)
    out["faults_survived"] = int(
        out["status_after_kill"] == "dead"
        and not out["traffic_after_kill"]
        and out["down_errors"] == 0
        and out["leaks_after_kill"] == 0
        and out["up_again"]
    ) + int(bool(out["status_service_killed"]))
    step("faults")
    return out


def load(connections: int, step: Step) -> dict[str, Any]:
    """`connections` concurrent TCP connections client -> endpoint -> NLB -> echo targets,
    each sending a unique payload that must come back byte for byte."""
    p = lifecycle.up(SEED, replace=True)
    kernel = Kernel()
    ns = p.hosts["client"].namespace
    vpce = sorted(e.ip for e in p.enis if e.kind == "vpce")
    verified = 0
    lock = threading.Lock()

    def open_all() -> list[socket.socket]:
        socks = []
        for i in range(connections):
            s = socket.create_connection((vpce[i % len(vpce)], 80), timeout=10)
            socks.append(s)
        return socks

    try:
        socks = kernel.in_netns(ns, open_all)
        step(f"{len(socks)} connections open")

        def exchange(s: socket.socket, i: int) -> None:
            nonlocal verified
            payload = struct.pack("!I", i) * 256  # 1 KiB, unique per connection
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            if got == payload:
                with lock:
                    verified += 1
            s.close()

        threads = [threading.Thread(target=exchange, args=(s, i)) for i, s in enumerate(socks)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        status_counters = lifecycle.fabric_request(StateDir.of(p.name), "status") or {}
    finally:
        lifecycle.down(p.name)
    return {
        "connections": connections,
        "connections_verified": verified,
        "fabric_flows_peak": status_counters.get("counters", {}).get("conntrack.entries"),
    }
