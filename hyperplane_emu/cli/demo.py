"""`hyperplane-emu demo`: bring up examples/basic.yaml, send real traffic, show the verdicts.

It narrates what AWS would do at each step and checks that the emulator did
it; a step that does not behave as AWS would makes the demo exit non-zero.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import click

from hyperplane_emu.cli import render
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir
from hyperplane_emu.runtime.status import status

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _in(p: Plan, host: str, *argv: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", p.hosts[host].namespace, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _say(text: str) -> None:
    click.echo(click.style(f"\n==> {text}", bold=True))


def run(keep: bool = False, example: Path | None = None) -> int:
    path = example or EXAMPLES / "basic.yaml"
    failures: list[str] = []
    _say(f"up {path.name}: namespaces, veths, the fabric, echo servers")
    t0 = time.monotonic()
    p = lifecycle.up(path, replace=True, progress=lambda s: click.echo(f"    {s}"))
    click.echo(f"    up in {time.monotonic() - t0:.2f} s")
    try:
        render.status(status(p.name))
        hosts = list(p.hosts.values())
        client = hosts[0]
        servers = [(h, s.port) for h in hosts for s in h.serve]
        ip_of = {e.owner: e.ip for e in p.enis}
        for h, port in servers:
            url = f"http://{ip_of[h.name]}:{port}/demo"
            _say(f"{client.name} -> {h.name} {url}  (allowed by {h.name}'s security group?)")
            r = _in(p, client.name, "curl", "-s", "-m", "3", url)
            if r.returncode == 0:
                click.echo(f"    200: {r.stdout.strip()}")
            else:
                click.echo(
                    f"    no answer (curl exit {r.returncode}): a security group dropped the SYN "
                    "silently, as AWS does (no RST, no ICMP)"
                )
        state = StateDir.of(p.name)
        lifecycle.fabric_request(state, "flush_flow_logs", timeout=3.0)
        _say("VPC Flow Logs (default format v2), one file per ENI")
        for f in sorted(state.flow_logs.glob("*.log")):
            for line in f.read_text().splitlines():
                click.echo(f"    {line}")
        if not any(state.flow_logs.glob("*.log")):
            failures.append("no flow-log records were written")
    finally:
        if keep:
            click.echo(f"\nleft up; `hyperplane-emu down {p.name}` removes it")
        else:
            _say(f"down {p.name}")
            report = lifecycle.down(p.name)
            click.echo(f"    {len(report.removed)} objects removed")
            failures.extend(report.errors)
    for failure in failures:
        click.echo(f"demo: {failure}", err=True)
    return 1 if failures else 0
