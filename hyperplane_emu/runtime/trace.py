"""Tracing one request: the fabric records every hop it decides while it runs.

The fabric records trace hops for new flows from or to the traced addresses
(the host, and the proxies that open a second connection: API Gateway's data
plane and the ALB nodes): security-group verdicts with the rule that matched,
the route, PrivateLink (endpoint -> service), the NLB's target choice, the
address translation before -> after, the delivery, the first packet of the
reply, and drops with their reason. `traced` brackets an action with
`trace_start`/`trace_stop`; `describe` names each hop's ENI and, for a
delivery, the process that terminated the connection. The CLI only parses and
renders (`cli/trace.py`); the demo shares `traced`.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize import netns
from hyperplane_emu.runtime.lifecycle import RuntimeFailure, fabric_request
from hyperplane_emu.runtime.state import StateDir

T = TypeVar("T")


def traced_addresses(p: Plan, host: str) -> list[str]:
    """The host's addresses, and those of the proxies that open a second connection."""
    addresses = [e.ip for e in p.enis if e.id in p.hosts[host].enis]
    if p.api_gateway is not None:
        addresses.append(p.api_gateway.ip)
    addresses += sorted(e.ip for e in p.enis if e.kind == "alb")
    return addresses


def traced(
    p: Plan, host: str, action: Callable[[], T], required: bool = True
) -> tuple[T, list[dict[str, Any]]]:
    """Run `action` (a request from `host`) with the fabric tracing its flows; the hops.

    `required`: raise `RuntimeFailure` when the fabric does not answer (else the
    action still runs and the hops are empty)."""
    state = StateDir.of(p.name)
    started = fabric_request(state, "trace_start", timeout=3.0, addresses=traced_addresses(p, host))
    if started is None and required:
        raise RuntimeFailure("the fabric is not answering; `status` tells why")
    try:
        result = action()
    finally:
        answer = fabric_request(state, "trace_stop", timeout=3.0) or {}
    return result, [describe(p, h) for h in answer.get("hops", [])]


def request(p: Plan, host: str, url: str | None, tcp: str | None) -> str:
    """One real request from `host`: curl `url`, or a TCP connect to `tcp` (ADDR:PORT)."""
    ns = p.hosts[host].namespace
    if url is not None:
        # curl reads the host's resolv.conf and trust store: ip netns exec mounts them.
        r = subprocess.run(
            netns.exec_argv(ns, ["curl", "-s", "-o", "/dev/null", "-m", "10",
                                 "-w", "%{http_code}", url]),
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        return f"HTTP {r.stdout}" if r.returncode == 0 else f"curl exit {r.returncode}"
    assert tcp is not None
    addr, _, port = tcp.rpartition(":")

    def connect() -> str:
        with socket.socket() as s:
            s.settimeout(3)
            try:
                s.connect((addr, int(port)))
            except ConnectionRefusedError:
                return "refused (RST)"
            except TimeoutError:
                return "timeout (dropped silently)"
            return "connected"

    return netns.run_in(ns, connect)


def describe(p: Plan, h: dict[str, Any]) -> dict[str, Any]:
    """A hop with its ENI's owner, VPC and namespace, and the listening process on delivery."""
    eni = next((e for e in p.enis if e.id == h["where"]), None)
    out = dict(h)
    if eni is not None:
        out["eni_owner"] = f"{eni.kind} {eni.owner}"
        out["vpc"] = eni.vpc
        out["namespace"] = eni.namespace
        if h["step"] == "deliver" and eni.namespace:
            process = _listener(eni.namespace, h["flow"])
            if process:
                out["process"] = process
    return out


def _listener(namespace: str, flow: str) -> str:
    """The process listening on the flow's destination port inside `namespace` (ss -ltnp),
    i.e. the one that terminated the TCP connection; "" when none or not TCP."""
    if not flow.endswith("proto 6"):
        return ""
    port = flow.split(" > ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[-1]
    try:
        with netns.child_entry(namespace) as preexec:
            r = subprocess.run(
                ["ss", "-Hltnp", f"sport = :{port}"],
                capture_output=True, text=True, timeout=5,
                preexec_fn=preexec,  # noqa: PLW1509 - setns must happen in the child
            )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return listener_name(r.stdout)


def listener_name(ss_output: str) -> str:
    """`python3 pid 123 (hyperplane_emu.services.echo)` from `ss -ltnp` output ("" if none)."""
    # users:(("python3",pid=123,fd=6))
    if "users:((" not in ss_output:
        return ""
    name = ss_output.split('users:(("', 1)[1].split('"', 1)[0]
    pid = ss_output.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in ss_output else "?"
    cmdline = Path(f"/proc/{pid}/cmdline")
    module = ""
    if cmdline.exists():
        args = cmdline.read_bytes().split(b"\0")
        if b"-m" in args:
            module = args[args.index(b"-m") + 1].decode(errors="replace")
    return f"{name} pid {pid}" + (f" ({module})" if module else "")
