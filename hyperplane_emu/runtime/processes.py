"""Processes the runtime starts inside namespaces, and how they are stopped.

A process is entered into its namespace between fork and exec (setns on the
child's only thread), so no `ip netns exec` is involved and the pid we record
is the program's own. Stopping is by recorded pid, after checking that the pid
still belongs to us (its command line names our state directory), so a reused
pid is never signalled. `clean` additionally finds every process living in a
namespace it is about to delete, by comparing namespace inodes: such a process
(a `tcpdump` started with `exec`, say) would otherwise keep it alive unseen.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from hyperplane_emu.realize import netns as entry


def spawn(argv: Sequence[str], netns: str | None, log: Path) -> int:
    """Start `argv` inside `netns` (None: here), detached, output to `log`; its pid."""
    with entry.child_entry(netns) as preexec, open(log, "ab") as out:
        p = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,  # noqa: PLW1509 - setns must happen in the child
            start_new_session=True,  # Ctrl-C on the CLI does not reach it
            close_fds=True,
        )
    return p.pid


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def alive(pid: int, token: str | None = None) -> bool:
    """The pid runs (not a zombie) and, if `token` is given, its command line contains it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        _reap(pid)
        return False
    return token is None or any(token in a for a in cmdline(pid))


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int, token: str | None = None, grace: float = 3.0) -> bool:
    """SIGTERM, wait up to `grace` s, then SIGKILL. False when it was not running (ours)."""
    if not alive(pid, token):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and alive(pid):
        _reap(pid)
        time.sleep(0.02)
    return True


def pids_in_netns(name: str) -> list[int]:
    """Every process whose network namespace is `name` (by inode, not by name)."""
    target = entry.inode(name)
    if target is None:
        return []
    out = []
    for pid_dir in os.listdir("/proc"):
        if not pid_dir.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{pid_dir}/ns/net")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if (st.st_dev, st.st_ino) == target:
            out.append(int(pid_dir))
    return out
