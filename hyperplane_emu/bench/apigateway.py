"""Requests per second through the API Gateway data plane, on loopback (no root).

    python -m hyperplane_emu.bench.apigateway [--seconds 5] [--connections 16] [--json]

Starts three processes: a minimal upstream (fixed 200 answer, keep-alive), the
data plane (`hyperplane_emu.services.apigateway`) with one MOCK route and one
HTTP_PROXY route (via a VPC link to the upstream), and measures each route
with a keep-alive load generator (`--connections` connections, each sending
its next request when the previous answer is complete). The generator runs in
this process and parses only what framing needs, so most CPU goes to the
data plane. Reports requests/s and latency percentiles per route.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hyperplane_emu.plan import serialize
from hyperplane_emu.plan.model import (
    PlanApi,
    PlanApiRoute,
    PlanIntegration,
    PlanStage,
    PlanVpcLink,
)
from hyperplane_emu.services.apigateway.config import GatewayConfig, Listener, plan_for

API_ID = "b3nchap1id"
HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
UPSTREAM_BODY = b'{"ok":true}'


# ---------------------------------------------------------------- upstream


class _FixedAnswer(asyncio.Protocol):
    """Answers every request with the same 200 (GET only: no request bodies)."""

    RESPONSE = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nServer: bench\r\n"
        b"Content-Length: " + str(len(UPSTREAM_BODY)).encode() + b"\r\n\r\n" + UPSTREAM_BODY
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(self.RESPONSE * n)  # type: ignore[attr-defined]


async def _upstream(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FixedAnswer, "127.0.0.1", port, backlog=1024)
    print("upstream ready", flush=True)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- load generator


@dataclass
class Result:
    route: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int]


class _Client(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        stop_at: float,
        latencies: list[float],
        statuses: dict[str, int],
        done: asyncio.Future[None],
    ) -> None:
        self.request = request
        self.stop_at = stop_at
        self.latencies = latencies
        self.statuses = statuses
        self.done = done
        self.buf = b""
        self.need = -1
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.sent = time.perf_counter()
        self.transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].lower()
                i = head.find(b"content-length:")
                length = (
                    int(
                        head[
                            i + 15 : head.find(b"\r\n", i)
                            if head.find(b"\r\n", i) > 0
                            else len(head)
                        ]
                    )
                    if i >= 0
                    else 0
                )
                status = head[9:12].decode()
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.need = end + 4 + length
            if len(self.buf) < self.need:
                return
            self.buf = self.buf[self.need :]
            self.need = -1
            now = time.perf_counter()
            self.latencies.append(now - self.sent)
            if now >= self.stop_at:
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def load(
    port: int,
    request: bytes,
    connections: int,
    seconds: float,
    route: str,
    host: str = "127.0.0.1",
    ssl: Any = None,
    server_hostname: str | None = None,
) -> Result:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    start = time.perf_counter()
    stop_at = start + seconds
    dones = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        dones.append(done)
        await loop.create_connection(
            lambda d=done: _Client(request, stop_at, latencies, statuses, d),
            host,
            port,
            ssl=ssl,
            server_hostname=server_hostname if ssl else None,
        )
    await asyncio.wait_for(asyncio.gather(*dones), seconds + 30)
    elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    ok = statuses.get("200", 0)
    return Result(
        route=route,
        requests=n,
        seconds=round(elapsed, 2),
        rps=round(n / elapsed, 1),
        p50_ms=round(latencies[n // 2] * 1000, 2) if n else 0.0,
        p99_ms=round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else 0.0,
        errors=n - ok,
        statuses=statuses,
    )


# ---------------------------------------------------------------- driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_line(proc: subprocess.Popen[bytes], prefix: str, deadline: float) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"process exited: rc={proc.wait()}")
        if line.startswith(prefix):
            return line
    raise TimeoutError(prefix)


def bench_config(gw_port: int, up_port: int) -> GatewayConfig:
    arn = f"arn:aws:execute-api:us-east-1:111122223333:{API_ID}"
    api = PlanApi(
        id=API_ID,
        name="bench",
        type="rest",
        endpoint="regional",
        account_id="111122223333",
        arn_prefix=arn,
        hostname=HOST,
        policy=None,
        stages={"prod": PlanStage("prod", {"link": "l1"})},
        routes=(
            PlanApiRoute(
                "GET", "/mock",
                PlanIntegration("MOCK", "INTERNET", None, None, 29000, 200, '{"ok":true}'),
            ),
            PlanApiRoute(
                "GET", "/proxy/{id}",
                PlanIntegration(
                    "HTTP_PROXY", "VPC_LINK", "${stageVariables.link}",
                    f"http://nlb.elb.amazonaws.com:{up_port}/x/{{id}}", 29000,
                ),
            ),
        ),
        vpc_links={"l1": PlanVpcLink("l1", "l1", "", "", "", "AVAILABLE", "127.0.0.1")},
    )  # fmt: skip
    return GatewayConfig(
        region="us-east-1",
        listen=(Listener("127.0.0.1", gw_port, False),),
        tls=None,
        endpoints={},
        apis={API_ID: api},
    )


def run(seconds: float, connections: int) -> list[Result]:
    up_port, gw_port = _free_port(), _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="he-apigw-bench-") as tmp:
        cfg = Path(tmp) / "plan.json"
        cfg.write_text(serialize.to_json(plan_for(bench_config(gw_port, up_port).apis)))
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
            gw = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hyperplane_emu.services.apigateway",
                    "--plan",
                    str(cfg),
                    "--listen",
                    f"127.0.0.1:{gw_port}",
                    "--name",
                    "he-apigw-bench",
                    "--log-level",
                    "WARNING",
                ],
                stdout=subprocess.PIPE,
            )
            procs.append(gw)
            deadline = time.monotonic() + 20
            _wait_line(up, "upstream ready", deadline)
            _wait_line(gw, "apigw listening", deadline)
            results = []
            for route, path in (("MOCK", "/prod/mock"), ("HTTP_PROXY", "/prod/proxy/42")):
                req = (
                    f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench\r\n"
                    "Accept: */*\r\n\r\n"
                ).encode()
                asyncio.run(load(gw_port, req, connections, 1.0, route))  # warm-up
                results.append(asyncio.run(load(gw_port, req, connections, seconds, route)))
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
    p = argparse.ArgumentParser(prog="hyperplane_emu.bench.apigateway")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--json", action="store_true")
    p.add_argument("--upstream", type=int, help=argparse.SUPPRESS)  # internal: be the upstream
    args = p.parse_args(argv)
    if args.upstream:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        asyncio.run(_upstream(args.upstream))
        return 0
    results = run(args.seconds, args.connections)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(
            f"API Gateway data plane, loopback, {args.connections} keep-alive connections, "
            f"{os.cpu_count()} CPUs"
        )
        for r in results:
            print(
                f"  {r.route:<11} {r.rps:>9.1f} req/s  p50 {r.p50_ms:6.2f} ms  "
                f"p99 {r.p99_ms:6.2f} ms  ({r.requests} requests, {r.errors} not 200)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
