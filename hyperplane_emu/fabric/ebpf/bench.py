"""Map-operation figures for the fast path (needs root: it loads the program, attaches
nothing): `python -m hyperplane_emu.fabric.ebpf.bench [N ...]` prints one JSON line per N.

put: flows installed per second (one bpf(2) update each), counters: seconds for one
batched read of all N entries, delete: flows removed per second (lookup-and-delete).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time

from .layout import FlowAction, KernelKey
from .maps import KernelFlows


def keys(n: int) -> list[KernelKey]:
    out = []
    for i in range(n):
        src = socket.inet_aton(f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        out.append((3, 6, src + socket.inet_aton("10.200.0.1") + struct.pack("!HH", 40000, 80)))
    return out


def measure(n: int) -> dict[str, float]:
    ks = keys(n)
    act = FlowAction(b"\x02" * 6, b"\x04" * 12, b"\x0a" * 12, 1)
    with KernelFlows.load([], n) as kf:
        t0 = time.perf_counter()
        for k in ks:
            kf.put(k, act)
        t1 = time.perf_counter()
        got = kf.counters()
        t2 = time.perf_counter()
        assert len(got) == n, (len(got), n)
        for k in ks:
            kf.delete(k)
        t3 = time.perf_counter()
    return {
        "flows": n,
        "put_per_s": round(n / (t1 - t0)),
        "counters_s": round(t2 - t1, 4),
        "delete_per_s": round(n / (t3 - t2)),
    }


def main(argv: list[str] | None = None) -> int:
    sizes = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or [10_000, 100_000]
    for n in sizes:
        print(json.dumps(measure(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
