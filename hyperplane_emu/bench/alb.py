"""Requests per second through the ALB data plane, on loopback (no root).

    python -m hyperplane_emu.bench.alb [--seconds 5] [--connections 16] [--json]

Starts two processes: a minimal upstream (fixed 200 answer, keep-alive; the one
`bench.apigateway` uses) and the ALB (`hyperplane_emu.services.alb`) with one
listener whose rules are evaluated in full for every request (four path rules
that do not match, then the one that forwards), a fixed-response rule, and
health checks running. Then measures both routes with the keep-alive load
generator of `bench.apigateway` (`--connections` connections, each sending its
next request when the previous answer is complete).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from hyperplane_emu.bench.apigateway import Result, _free_port, _wait_line, load
from hyperplane_emu.plan import serialize
from hyperplane_emu.plan.model import (
    PlanAlbAction,
    PlanAlbConditions,
    PlanAlbListener,
    PlanAlbRule,
    PlanFixedResponse,
    PlanHealthCheck,
    PlanTarget,
    PlanTargetGroup,
)
from hyperplane_emu.services.alb.config import AlbConfig, plan_for


def bench_config(alb_port: int, up_port: int) -> AlbConfig:
    web = PlanAlbAction(forward="web")
    misses = [PlanAlbRule(p, PlanAlbConditions(path=(f"/miss{p}/*",)), web) for p in (1, 2, 3, 4)]
    listener = PlanAlbListener(
        alb_port,
        PlanAlbAction(fixed_response=PlanFixedResponse(404, "none")),
        (
            *misses,
            PlanAlbRule(10, PlanAlbConditions(path=("/api/*",), http_method=("GET",)), web),
            PlanAlbRule(
                20,
                PlanAlbConditions(path=("/fixed",)),
                PlanAlbAction(fixed_response=PlanFixedResponse(200, '{"ok":true}')),
            ),
        ),
    )
    group = PlanTargetGroup(
        "web", "arn:tg/web", 6, up_port, "ip",
        (PlanTarget("web", "127.0.0.1", up_port, "", None),),
        PlanHealthCheck("http", up_port, "/", 1, 1, 5, 2, "200"), False, False,
    )  # fmt: skip
    return AlbConfig(
        "bench-alb", (listener,), {"web": group}, listen_address="127.0.0.1", idle_timeout=60
    )


def run(seconds: float, connections: int) -> list[Result]:
    up_port, alb_port = _free_port(), _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="he-alb-bench-") as tmp:
        cfg = Path(tmp) / "plan.json"
        plan, key = plan_for(bench_config(alb_port, up_port))
        cfg.write_text(serialize.to_json(plan))
        try:
            up = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hyperplane_emu.bench.apigateway",
                    "--upstream",
                    str(up_port),
                ],
                stdout=subprocess.PIPE,
            )
            procs.append(up)
            alb = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hyperplane_emu.services.alb",
                    "--plan",
                    str(cfg),
                    "--load-balancer",
                    key,
                    "--listen-address",
                    "127.0.0.1",
                    "--name",
                    "he-alb-bench",
                    "--log-level",
                    "WARNING",
                ],
                stdout=subprocess.PIPE,
            )
            procs.append(alb)
            deadline = time.monotonic() + 20
            _wait_line(up, "upstream ready", deadline)
            _wait_line(alb, "alb bench-alb listening", deadline)
            results = []
            for route, path in (("fixed_response", "/fixed"), ("forward", "/api/orders/42")):
                req = (
                    f"GET {path} HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: bench\r\n"
                    "Accept: */*\r\n\r\n"
                ).encode()
                asyncio.run(load(alb_port, req, connections, 1.0, route))  # warm-up
                results.append(asyncio.run(load(alb_port, req, connections, seconds, route)))
            return results
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hyperplane_emu.bench.alb")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    results = run(args.seconds, args.connections)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(
            f"ALB data plane, loopback, {args.connections} keep-alive connections, "
            f"{os.cpu_count()} CPUs"
        )
        for r in results:
            print(
                f"  {r.route:<15} {r.rps:>9.1f} req/s  p50 {r.p50_ms:6.2f} ms  "
                f"p99 {r.p99_ms:6.2f} ms  ({r.requests} requests, {r.errors} not 200)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
