"""`capture`: frames of one ENI as they cross the fabric, via tcpdump on its fabric end.

Capturing on the fabric-side veth (not inside the host) shows exactly what the
Hyperplane received and emitted for that ENI, both directions, and needs no
tool inside the host's namespace.
"""

from __future__ import annotations

import shutil
import subprocess

import click

from hyperplane_emu.plan.model import Plan


def run(
    p: Plan,
    eni: str,
    write: str | None,
    count: int | None,
    timeout: float | None,
    filter_expr: list[str],
) -> int:
    target = next((e for e in p.enis if eni in (e.id, e.owner)), None)
    if target is None:
        known = ", ".join(f"{e.owner} ({e.id})" for e in p.enis)
        raise click.ClickException(f"{p.name} has no ENI {eni!r}; ENIs: {known}")
    if target.port < 0:
        raise click.ClickException(
            f"{target.id} is a virtual ENI; its capture is not available yet"
        )
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise click.ClickException("tcpdump is not installed (scripts/setup installs it)")
    ip = shutil.which("ip") or "/usr/sbin/ip"
    argv = [
        ip,
        "netns",
        "exec",
        p.fabric_namespace,
        tcpdump,
        "-i",
        target.fabric_ifname,
        "-U",
        "-n",
        "-s",
        "0",
    ]
    if write:
        argv += ["-w", write]
    if count:
        argv += ["-c", str(count)]
    argv += filter_expr
    click.echo(
        f"capturing {target.id} ({target.owner}, {target.ip}) on "
        f"{p.fabric_namespace}/{target.fabric_ifname}",
        err=True,
    )
    proc = subprocess.Popen(argv)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        return 0
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0
