"""New-flow setup rate through an interface endpoint and its NLB, in process.

What it measures: how many TCP connections per second the fabric can *set up*
on the PrivateLink path: for each connection the client's SYN (route to the
endpoint, security groups, endpoint and NLB decisions, target choice, NAT port,
conntrack), the target's SYN-ACK, the client's ACK and the target's first data
packet, after which both directions are installed in the fast path — in the
kernel's flow map when ``kernel`` is given (a real `ebpf.KernelFlows`: one
``bpf(BPF_MAP_UPDATE_ELEM)`` per direction), else in the core's dict only.

Why in process: real connections through namespaces measure the client's own
TCP stack first (a Python client reaches ~3-4 k connect/close per second on this
machine through plain kernel routing); the fabric's share of a connection's
setup is these four decisions and two installs, and that is what is timed here,
with frames made from templates (a port and the checksum patched, well under
a microsecond a frame). Two listeners of 50 k source ports each take it to 100 k
flows.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.plan.model import Plan

from .privatelink import TOPOLOGY


def plan() -> Plan:
    from hyperplane_emu.runtime import lifecycle

    with tempfile.TemporaryDirectory(prefix="he-bench-") as d:
        path = Path(d) / "flowsetup.yaml"
        # Room for the 100 k flows of the goal (the default table holds 65,536).
        path.write_text(TOPOLOGY + "settings: {conntrack_max: 200000}\n")
        return lifecycle.load_plan(path)


def tcp(dst_mac: bytes, src_mac: bytes, src: bytes, dst: bytes, sport: int, dport: int,
        flags: int) -> bytes:  # fmt: skip
    ip = bytearray(20)
    ip[0] = 0x45
    ip[2:4] = (40).to_bytes(2, "big")
    ip[8] = 64
    ip[9] = 6
    ip[12:16] = src
    ip[16:20] = dst
    ip[10:12] = internet_checksum(ip).to_bytes(2, "big")
    seg = bytearray(20)
    seg[0:2] = sport.to_bytes(2, "big")
    seg[2:4] = dport.to_bytes(2, "big")
    seg[12] = 0x50
    seg[13] = flags
    seg[14:16] = b"\xff\xff"
    pseudo = src + dst + b"\x00\x06" + (20).to_bytes(2, "big")
    seg[16:18] = internet_checksum(pseudo + bytes(seg)).to_bytes(2, "big")
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip) + bytes(seg)


def tcp_maker(
    dst_mac: bytes, src_mac: bytes, src: bytes, dst: bytes, port: int, flags: int, *, vary: int
) -> Callable[[int], bytes]:
    """Frames like `tcp`, one port fixed and the other (``vary``: 0 the source, 1 the
    destination) given per call: a template patched with an RFC 1624 checksum update
    (~0.3 us a frame, so that frames need not be built up front and held in memory)."""
    sport, dport = (0, port) if vary == 0 else (port, 0)
    base = tcp(dst_mac, src_mac, src, dst, sport, dport, flags)
    at = 34 + 2 * vary
    head, mid, tail = base[:at], base[at + 2 : 50], base[52:]
    nc = ~((base[50] << 8) | base[51]) & 0xFFFF  # the varying word is 0: ~0 adds nothing

    def make(p: int) -> bytes:
        s = nc + p
        c = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        return head + p.to_bytes(2, "big") + mid + c.to_bytes(2, "big") + tail

    return make


PORTS_PER_LISTENER = 50_000
"""Connections per listener: the client's source ports to one endpoint port, and the
NLB's NAT ports to one target port (`nlb.NAT_PORTS`), both run out near 55-64 k."""


def setup_rate(fab: Fabric, connections: int) -> float:
    """Connections set up per second (4 frames each, both directions installed).

    Up to `PORTS_PER_LISTENER` connections per listener of the NLB, one listener
    after the other (the topology has two: 100 k connections)."""
    p = fab.plan
    client = next(e for e in p.enis if e.owner == "client")
    target = next(e for e in p.enis if e.owner == "target")
    vpce = next(e for e in p.enis if e.kind == "vpce")
    listeners: list[tuple[int, int]] = []
    for lb in fab.load_balancers.values():
        for tg_name, tg in lb.target_groups.items():
            for t in tg.targets:
                fab.set_target_health(lb.key, tg_name, t.id, "healthy")
        for (proto, lport), (tg, _) in sorted(lb.listeners.items()):
            if proto == 6:
                listeners.append((lport, tg.targets[0].port))
    mac = bytes.fromhex
    cmac, cfmac = mac(client.mac.replace(":", "")), mac(client.fabric_mac.replace(":", ""))
    tmac, tfmac = mac(target.mac.replace(":", "")), mac(target.fabric_mac.replace(":", ""))
    cip = bytes(map(int, client.ip.split(".")))
    vip = bytes(map(int, vpce.ip.split(".")))
    tip = bytes(map(int, target.ip.split(".")))
    handle = fab.handle
    carries = fab.fastpath.carries
    per = PORTS_PER_LISTENER
    n = min(connections, per * len(listeners))
    syns = [tcp_maker(cfmac, cmac, cip, vip, lp, 0x02, vary=0) for lp, _ in listeners]
    acks = [tcp_maker(cfmac, cmac, cip, vip, lp, 0x10, vary=0) for lp, _ in listeners]
    replies: dict[tuple[bytes, int], tuple[Callable[[int], bytes], Callable[[int], bytes]]] = {}
    t0 = time.perf_counter()
    now = 1.0
    for i in range(n):
        k, j = divmod(i, per)
        out = handle(client.port, syns[k](1024 + j), now)
        if not out:
            raise RuntimeError(f"flow setup: SYN {i} dropped: {fab.counters}")
        f = out[0][1]
        nsrc, nsport = bytes(f[26:30]), int.from_bytes(f[34:36], "big")
        r = replies.get((nsrc, k))
        if r is None:
            tp = listeners[k][1]
            r = replies[(nsrc, k)] = (
                tcp_maker(tfmac, tmac, tip, nsrc, tp, 0x12, vary=1),
                tcp_maker(tfmac, tmac, tip, nsrc, tp, 0x10, vary=1),
            )
        # With the kernel's map attached, a frame of an installed direction is the
        # kernel's to carry: it never reaches Python (`carries` plays the program).
        for port, frame in (
            (target.port, r[0](nsport)),
            (client.port, acks[k](1024 + j)),
            (target.port, r[1](nsport)),
        ):
            if not carries(port, frame):
                handle(port, frame, now)
    rate = n / (time.perf_counter() - t0)
    installed = fab.counters.get("fastpath.kernel.entries", fab.counters["fastpath.entries"])
    if installed < 2 * n:
        raise RuntimeError(f"flow setup: {installed} of {2 * n} directions installed")
    return rate


def rss_mib() -> float:
    """This process's resident set size (MiB), from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    """``python -m hyperplane_emu.bench.flowsetup [N]``: setup rate and memory per flow,
    Python path only (no root: the kernel map is not loaded)."""
    import gc
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    p = plan()
    rate = max(setup_rate(Fabric(p), min(n, 20_000)) for _ in range(3))
    fab = Fabric(p)
    gc.collect()
    before = rss_mib()
    setup_rate(fab, n)
    gc.collect()
    per_flow = (rss_mib() - before) * 1024 * 1024 / max(1, fab.conntrack.count)
    print(f"setup {rate:,.0f} connections/s; {fab.conntrack.count} flows: "
          f"{per_flow:,.0f} bytes each (RSS {rss_mib():.0f} MiB, "
          f"{before:.0f} MiB before the flows)")  # fmt: skip


if __name__ == "__main__":
    main()
