"""``scripts/bench privatelink``: client -> endpoint -> NLB -> target, against direct.

One topology brought up by the real runtime (`lifecycle.up`): a consumer VPC
with a client, a target in that same VPC (the *direct* path: client -> target
through the fabric, security groups on), and a provider VPC behind an interface
endpoint with an NLB in front of an identical target (the *PrivateLink* path).
Both targets run iperf3 and the built-in echo server; the same client measures

- connections per second: TCP connect, one request, answer, close, in a loop
  for a few seconds (the same Python client and echo server on both paths, so
  the ratio is the fabric's doing);
- single-stream TCP throughput with iperf3 (MTU 9001 inside the VPCs).
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize import Kernel, netns
from hyperplane_emu.runtime import lifecycle

TOPOLOGY = """
name: hebenchpl
region: us-east-1
accounts: {customer: "111122223333", provider: "444455556666"}
vpcs:
  consumer:
    cidr: 10.0.0.0/16
    subnets: {a: {cidr: 10.0.1.0/24, az: us-east-1a}}
    security_groups:
      open:
        ingress: [{protocol: tcp, port: 1-65535, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a}
      direct: {subnet: a, security_groups: [open], serve: echo:8080}
    endpoints:
      svc: {service: provider/svc, subnets: [a], security_groups: [open]}
  provider:
    cidr: 10.0.0.0/16
    account: provider
    subnets: {a: {cidr: 10.0.1.0/24, az: us-east-1a}}
    security_groups:
      open:
        ingress: [{protocol: tcp, port: 1-65535, source: 10.0.0.0/16}]
    hosts:
      target: {subnet: a, security_groups: [open], serve: echo:8080}
    load_balancers:
      nlb:
        type: network
        subnets: [a]
        listeners:
          - {port: 8080, target_group: echo}
          - {port: 5201, target_group: iperf}
        target_groups:
          echo: {port: 8080, targets: [target]}
          iperf: {port: 5201, targets: [target]}
    endpoint_services:
      svc: {load_balancer: nlb, acceptance_required: false, allowed_principals: ["111122223333"]}
"""


def _cps(kernel: Kernel, ns: str, ip: str, port: int, seconds: float) -> float:
    def loop() -> float:
        done = 0
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            with socket.create_connection((ip, port), timeout=2) as s:
                s.sendall(b"x")
                s.recv(64)
            done += 1
        return done / (time.monotonic() - start)

    return kernel.in_netns(ns, loop)


def _iperf(ns: str, ip: str, seconds: float) -> float:
    r = subprocess.run(
        netns.exec_argv(ns, ["iperf3", "-c", ip, "-t", str(seconds), "-J"]),
        capture_output=True, text=True, timeout=seconds + 20,
    )  # fmt: skip
    out: dict[str, Any] = json.loads(r.stdout)
    if "error" in out:
        raise RuntimeError(f"iperf3 to {ip}: {out['error']}")
    return float(out["end"]["sum_received"]["bits_per_second"]) / 1e9


def run(seconds: float, step: Callable[[str], None]) -> dict[str, float]:
    kernel = Kernel()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.yaml"
        path.write_text(TOPOLOGY)
        step("up (consumer + provider VPCs, endpoint, NLB)")
        p: Plan = lifecycle.up(path, replace=True)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for host in ("direct", "target"):
            servers.append(subprocess.Popen(
                netns.exec_argv(p.hosts[host].namespace, ["iperf3", "-s"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        client = p.hosts["client"].namespace
        direct = next(e.ip for e in p.enis if e.owner == "direct")
        vpce = next(e.ip for e in p.enis if e.kind == "vpce")
        _wait_port(kernel, client, direct, 5201)
        _wait_port(kernel, client, vpce, 5201)
        step("connections per second, direct")
        direct_cps = _cps(kernel, client, direct, 8080, seconds)
        step("connections per second, through the endpoint and the NLB")
        pl_cps = _cps(kernel, client, vpce, 8080, seconds)
        step("iperf3, direct")
        direct_gbps = _iperf(client, direct, seconds)
        step("iperf3, through the endpoint and the NLB")
        pl_gbps = _iperf(client, vpce, seconds)
    finally:
        for s in servers:
            s.kill()
            s.wait()
        lifecycle.down(p.name)
    return {
        "direct_cps": round(direct_cps, 1),
        "privatelink_cps": round(pl_cps, 1),
        "cps_ratio": round(pl_cps / direct_cps, 3) if direct_cps else 0.0,
        "direct_gbps": round(direct_gbps, 3),
        "privatelink_gbps": round(pl_gbps, 3),
        "gbps_ratio": round(pl_gbps / direct_gbps, 3) if direct_gbps else 0.0,
    }


def _wait_port(kernel: Kernel, ns: str, ip: str, port: int, timeout: float = 10.0) -> None:
    def probe() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((ip, port)) == 0

    deadline = time.monotonic() + timeout
    while not kernel.in_netns(ns, probe):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ip}:{port} not reachable from {ns}")
        time.sleep(0.1)


def print_table(r: dict[str, float]) -> None:
    print(f"{'':32}{'direct':>12}{'PrivateLink':>14}{'ratio':>8}")
    print(
        f"{'TCP connections/s':32}{r['direct_cps']:>12.0f}{r['privatelink_cps']:>14.0f}"
        f"{r['cps_ratio']:>8.2f}"
    )
    print(
        f"{'single-stream TCP Gbit/s':32}{r['direct_gbps']:>12.2f}{r['privatelink_gbps']:>14.2f}"
        f"{r['gbps_ratio']:>8.2f}"
    )
