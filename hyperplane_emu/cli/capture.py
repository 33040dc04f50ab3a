"""`capture`: frames of one ENI, both directions, via tcpdump on the ENI itself.

Virtual ENIs (interface endpoints) and NLB nodes have no veth that carries their
data flows: the fabric mirrors, into a pcap it writes, each frame as it looks on
that ENI's side of the address translation (plus, for NLB nodes, the health
checks their veth carries).

A host ENI is captured on its own end of the veth (`eth0` in the host's
namespace): that is what the instance's ENI carries on AWS, and it shows the
frames the fabric emitted too (a capture on the fabric end would miss those,
since the fabric sends with PACKET_QDISC_BYPASS, which skips packet taps).

SIGINT, SIGTERM and SIGHUP all end a capture the same way: tcpdump (or the
fabric's mirror) is stopped and its pcap closed, never left running under init.
SIGINT is handled explicitly because a shell starts background jobs (`capture … &`)
with SIGINT ignored, and Python would otherwise keep ignoring it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from types import FrameType

import click

from hyperplane_emu.plan.model import Plan, PlanEni
from hyperplane_emu.realize import netns


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
    if target.port < 0 or target.kind == "nlb":
        return _mirrored(p, target, write, count, timeout)
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise click.ClickException("tcpdump is not installed (scripts/setup installs it)")
    # --immediate-mode: else packets still in the ring at a stop are lost.
    argv = netns.exec_argv(
        target.namespace,
        [tcpdump, "-i", target.ifname, "-U", "--immediate-mode", "-n", "-s", "0"],
    )
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
    with stop_signals():
        proc = subprocess.Popen(argv)
        try:
            return proc.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, Stopped):
            return 0
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()


class Stopped(Exception):
    """A stop signal arrived (SIGINT, SIGTERM, SIGHUP)."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """The first stop signal raises Stopped where the capture waits; later ones are
    absorbed so that the cleanup (stop tcpdump, close the pcap) is not cut short."""
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not fired:
            fired.append(signum)
            raise Stopped(signum)

    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _mirrored(
    p: Plan, target: PlanEni, write: str | None, count: int | None, timeout: float | None
) -> int:
    """An ENI no veth carries (endpoint, NLB node): the fabric writes the pcap itself."""
    from hyperplane_emu.runtime.lifecycle import fabric_request
    from hyperplane_emu.runtime.state import StateDir

    state = StateDir.of(p.name)
    fd, tmp = tempfile.mkstemp(suffix=".pcap")
    os.close(fd)
    path = os.path.abspath(write) if write and write != "-" else tmp
    answer = fabric_request(state, "capture_start", timeout=3.0, eni=target.id, path=path)
    if answer is None or not answer.get("ok"):
        os.unlink(tmp)
        raise click.ClickException(f"the fabric refused the capture: {answer}")
    click.echo(
        f"capturing {target.id} ({target.kind} {target.owner}, {target.ip}) as the fabric "
        "mirrors it; Ctrl-C to stop",
        err=True,
    )
    deadline = time.monotonic() + timeout if timeout else None
    with stop_signals():
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
                if count and _frames(path) >= count:
                    break
        except Stopped:
            pass
        answer = fabric_request(state, "capture_stop", timeout=3.0, eni=target.id) or {}
    click.echo(f"{answer.get('frames', 0)} frames", err=True)
    if path == tmp:
        tcpdump = shutil.which("tcpdump")
        if tcpdump:
            subprocess.run([tcpdump, "-n", "-r", path], check=False)
    os.unlink(tmp)
    return 0


def _frames(path: str) -> int:
    from hyperplane_emu.fabric.pcapfile import read_pcap

    try:
        with open(path, "rb") as f:
            return len(read_pcap(f)[1])
    except (OSError, ValueError):
        return 0
