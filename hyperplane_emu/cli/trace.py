"""`trace`: send one real request from a host and show every hop the fabric decided.

The fabric records trace hops for new flows from or to the traced addresses
(the host, and API Gateway's data plane when there is one, so the second TCP
connection a proxy opens is traced too): security-group verdicts with the rule
that matched, the route, PrivateLink (endpoint -> service), the NLB's target
choice, the address translation before -> after, the delivery, the first
packet of the reply, and drops with their reason.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from hyperplane_emu.cli.render import console
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime.lifecycle import RuntimeFailure, fabric_request
from hyperplane_emu.runtime.state import StateDir

T = TypeVar("T")


def run(p: Plan, host: str, url: str | None, tcp: str | None, as_json: bool) -> int:
    if host not in p.hosts:
        raise click.ClickException(f"{p.name} has no host {host!r} (hosts: {', '.join(p.hosts)})")
    if (url is None) == (tcp is None):
        raise click.ClickException("give a URL or --tcp ADDR:PORT (one of them)")
    outcome, hops = traced(p, host, lambda: _request(p, host, url, tcp))
    if as_json:
        # A JSON list of hops (hyperplane_emu/schemas/trace.schema.json); the outcome on stderr.
        click.echo(json.dumps(hops, indent=2))
        click.echo(f"{url or tcp}: {outcome}", err=True)
    else:
        table(url or tcp or "", outcome, hops)
    return 0


def traced(
    p: Plan, host: str, action: Callable[[], T], required: bool = True
) -> tuple[T, list[dict[str, Any]]]:
    """Run `action` (a request from `host`) with the fabric tracing its flows; the hops.

    Traced addresses: the host's, and those of the proxies that open a second
    connection (API Gateway, ALB nodes)."""
    state = StateDir.of(p.name)
    addresses = [e.ip for e in p.enis if e.id in p.hosts[host].enis]
    if p.api_gateway is not None:
        addresses.append(p.api_gateway.ip)
    addresses += sorted(e.ip for e in p.enis if e.kind == "alb")
    started = fabric_request(state, "trace_start", timeout=3.0, addresses=addresses)
    if started is None and required:
        raise RuntimeFailure("the fabric is not answering; `status` tells why")
    try:
        result = action()
    finally:
        answer = fabric_request(state, "trace_stop", timeout=3.0) or {}
    return result, [_describe(p, h) for h in answer.get("hops", [])]


def _request(p: Plan, host: str, url: str | None, tcp: str | None) -> str:
    ns = p.hosts[host].namespace
    if url is not None:
        r = subprocess.run(
            ["ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", "10",
             "-w", "%{http_code}", url],
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

    return str(Kernel().in_netns(ns, connect))


def _describe(p: Plan, h: dict[str, Any]) -> dict[str, Any]:
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
        r = subprocess.run(
            ["ip", "netns", "exec", namespace, "ss", "-Hltnp", f"sport = :{port}"],
            capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    # users:(("python3",pid=123,fd=6))
    text = r.stdout
    if "users:((" not in text:
        return ""
    name = text.split('users:(("', 1)[1].split('"', 1)[0]
    pid = text.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in text else "?"
    cmdline = Path(f"/proc/{pid}/cmdline")
    module = ""
    if cmdline.exists():
        args = cmdline.read_bytes().split(b"\0")
        if b"-m" in args:
            module = args[args.index(b"-m") + 1].decode(errors="replace")
    return f"{name} pid {pid}" + (f" ({module})" if module else "")


def table(request: str, outcome: str, hops: list[dict[str, Any]]) -> None:
    t = Table(title=f"trace {request} -> {outcome}", title_justify="left")
    for col in ("#", "ms", "flow", "step", "where", "verdict", "detail"):
        t.add_column(col)
    t0 = hops[0]["time"] if hops else 0.0
    colours = {"ACCEPT": "green", "FORWARD": "cyan", "REJECT": "red", "DROP": "red"}
    for i, h in enumerate(hops, 1):
        where = h["where"]
        if "eni_owner" in h:
            where = f"{where}\n{h['eni_owner']} ({h['vpc']})"
        if "process" in h:
            where = f"{where}\n-> {h['process']}"
        c = colours.get(h["action"], "white")
        t.add_row(str(i), f"{(h['time'] - t0) * 1000:.1f}", h["flow"], h["step"], where,
                  f"[{c}]{h['action']}[/]", h["detail"])  # fmt: skip
    console.print(t)
