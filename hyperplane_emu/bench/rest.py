"""``scripts/bench rest``: client -> private REST API -> VPC link -> NLB -> echo, vs direct.

One topology through the real runtime (tests/data/good/private-api.yaml's
shape): the load generator runs inside the client's namespace (keep-alive,
a fixed number of connections, each sending its next request when the answer
is complete) and measures requests/s and latency percentiles for
- direct: `GET http://<echo1>:8080/` through the fabric (security groups on);
- rest: `GET https://<api-id>.execute-api…/prod/orders` to the execute-api
  endpoint (TLS), API Gateway, the VPC link's PrivateLink hop, the NLB, echo.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperplane_emu.bench.apigateway import load
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir

TOPOLOGY = (
    (Path(__file__).resolve().parents[2] / "tests" / "data" / "good" / "private-api.yaml")
    .read_text()
    .replace("name: papi", "name: hebenchrest")
)


def run(seconds: float, connections: int, step: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rest.yaml"
        path.write_text(TOPOLOGY)
        step("up (customer VPC, NLB, execute-api endpoint, private API, VPC link)")
        p = lifecycle.up(path, replace=True)
    try:
        api = next(a for a in p.apis.values() if a.endpoint == "private")
        vpce = next(e.ip for e in p.enis if e.kind == "vpce" and e.vpc == "customer")
        echo = next(e.ip for e in p.enis if e.owner == "echo1")
        ctx = ssl.create_default_context(cafile=str(StateDir.of(p.name).path / "apigw" / "ca.pem"))
        client = p.hosts["client"].namespace
        kernel = Kernel()

        def measure(
            host: str, port: int, request: bytes, tls: ssl.SSLContext | None, route: str
        ) -> Any:
            return kernel.in_netns(client, lambda: asyncio.run(load(
                port, request, connections, seconds, route, host=host, ssl=tls,
                server_hostname=api.hostname,
            )))  # fmt: skip

        step("direct: client -> echo through the fabric")
        direct = measure(echo, 8080, b"GET / HTTP/1.1\r\nHost: echo\r\n\r\n", None, "direct")
        step("rest: client -> private API -> VPC link -> NLB -> echo")
        request = f"GET /prod/orders HTTP/1.1\r\nHost: {api.hostname}\r\n\r\n".encode()
        rest = measure(vpce, 443, request, ctx, "rest")
    finally:
        lifecycle.down(p.name)
    return {
        "rps": rest.rps,
        "p50_ms": rest.p50_ms,
        "p99_ms": rest.p99_ms,
        "errors": rest.errors,
        "direct_rps": direct.rps,
        "direct_p50_ms": direct.p50_ms,
        "direct_p99_ms": direct.p99_ms,
        "ratio": round(rest.rps / direct.rps, 3) if direct.rps else 0.0,
        "connections": connections,
        "seconds": seconds,
    }


def print_table(r: dict[str, Any]) -> None:
    print(f"{'path':40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    print(
        f"{'client -> echo (direct, fabric)':40}{r['direct_rps']:>10.0f}"
        f"{r['direct_p50_ms']:>9.2f}{r['direct_p99_ms']:>9.2f}"
    )
    print(
        f"{'client -> private API -> NLB -> echo':40}{r['rps']:>10.0f}"
        f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
    )
    print(
        f"ratio {r['ratio']:.2f}, {r['connections']} keep-alive connections, errors {r['errors']}"
    )
