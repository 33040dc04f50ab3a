"""`capture`: frames of one ENI, both directions, via tcpdump on the ENI itself.

A host ENI is captured on its own end of the veth (`eth0` in the host's
namespace): that is what the instance's ENI carries on AWS, and it shows the
frames the fabric emitted too (a capture on the fabric end would miss those,
since the fabric sends with PACKET_QDISC_BYPASS, which skips packet taps).
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
        target.namespace,
        tcpdump,
        "-i",
        target.ifname,
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
        f"{target.namespace}/{target.ifname}",
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
