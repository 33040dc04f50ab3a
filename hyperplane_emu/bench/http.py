"""``scripts/bench http``: HTTP API -> VPC link -> ALB / Cloud Map, beside the REST path.

The HTTP API topology is the seed's HTTP figure (tests/e2e/test_httpapi.py's
shape): a client on the emulated internet calls the regional HTTP API over
HTTPS; one VPC link reaches an ALB (two echo targets) and a Cloud Map service
(two echo instances). The REST figure is `bench rest` (private API -> VPC link
-> NLB), run in the same invocation for the comparison.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperplane_emu.bench import rest
from hyperplane_emu.bench.apigateway import load
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir

TOPOLOGY = """
name: hebenchhttp
region: eu-west-1
vpcs:
  customer:
    cidr: 10.1.0.0/16
    subnets:
      a: {cidr: 10.1.1.0/24, az: eu-west-1a}
      b: {cidr: 10.1.2.0/24, az: eu-west-1b}
    security_groups:
      link: {}
      alb: {ingress: [{port: 80, source: sg/link}]}
      web: {ingress: [{port: 8080, source: 10.1.0.0/16}]}
    hosts:
      web1: {subnet: a, security_groups: [web], serve: echo:8080}
      web2: {subnet: b, security_groups: [web], serve: echo:8080}
    load_balancers:
      web-alb:
        type: application
        subnets: [a, b]
        security_groups: [alb]
        listeners: [{port: 80, default_action: {forward: web}}]
        target_groups: {web: {port: 8080, targets: [web1, web2]}}
cloud_map:
  namespaces: {shop.internal: {type: http}}
  services:
    web:
      namespace: shop.internal
      instances: {w1: {host: web1, port: 8080}, w2: {host: web2, port: 8080}}
apis:
  shop:
    type: http
    vpc_links:
      link: {vpc: customer, subnets: [a, b], security_groups: [link]}
    stages: [$default]
    routes:
      "GET /alb": {integration: {vpc_link: link, uri: "customer/web-alb:80"}}
      "GET /map": {integration: {vpc_link: link, uri: "cloud_map/shop.internal/web"}}
"""


def run(seconds: float, connections: int, step: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "http.yaml"
        path.write_text(TOPOLOGY)
        step("up (HTTP API, VPC link, ALB, Cloud Map)")
        p = lifecycle.up(path, replace=True)
    try:
        api = next(iter(p.apis.values()))
        front = p.api_gateway.public_ip  # type: ignore[union-attr]
        ctx = ssl.create_default_context(cafile=str(StateDir.of(p.name).path / "apigw" / "ca.pem"))
        ns = p.hosts["internet"].namespace
        kernel = Kernel()

        def measure(route: str) -> Any:
            request = f"GET {route} HTTP/1.1\r\nHost: {api.hostname}\r\n\r\n".encode()
            return kernel.in_netns(ns, lambda: asyncio.run(load(
                443, request, connections, seconds, route, host=front, ssl=ctx,
                server_hostname=api.hostname,
            )))  # fmt: skip

        step("HTTP API -> VPC link -> ALB -> echo")
        alb = measure("/alb")
        step("HTTP API -> VPC link -> Cloud Map instance")
        cmap = measure("/map")
    finally:
        lifecycle.down(p.name)
    step("REST: private API -> VPC link -> NLB -> echo")
    r = rest.run(seconds, connections, step)
    return {
        "alb_rps": alb.rps, "alb_p50_ms": alb.p50_ms, "alb_p99_ms": alb.p99_ms,
        "cloudmap_rps": cmap.rps, "cloudmap_p50_ms": cmap.p50_ms, "cloudmap_p99_ms": cmap.p99_ms,
        "rest_rps": r["rps"], "rest_p50_ms": r["p50_ms"], "rest_p99_ms": r["p99_ms"],
        "errors": alb.errors + cmap.errors, "connections": connections,
    }  # fmt: skip


def print_table(r: dict[str, Any]) -> None:
    print(f"{'path':44}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for label, key in (
        ("HTTP API -> VPC link -> ALB -> echo", "alb"),
        ("HTTP API -> VPC link -> Cloud Map -> echo", "cloudmap"),
        ("REST private API -> VPC link -> NLB -> echo", "rest"),
    ):
        rps, p50, p99 = r[key + "_rps"], r[key + "_p50_ms"], r[key + "_p99_ms"]
        print(f"{label:44}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}")
