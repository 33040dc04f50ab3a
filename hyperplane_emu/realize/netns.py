"""The one way into a named network namespace (`/run/netns/<name>`).

A network namespace is a per-thread attribute: `setns(2)` moves only the
calling thread, and a socket keeps the namespace it was created in for its
whole life. Everything here is built on that:

- `entered(name)`: this thread runs the block inside `name`, then returns
  where it was (sockets opened inside keep working after);
- `run_in(name, fn)`: `fn` on a fresh thread that entered `name`, so the
  caller's thread never moves even if `fn` fails half-way;
- `enter(name)`: move this thread for good (a process that lives in one
  namespace, entered at start while it still has one thread);
- `child_entry(name)`: a `preexec_fn` for `subprocess.Popen` that enters
  `name` between fork and exec, so the pid recorded is the program's own;
- `exec_argv(name, argv)`: ``ip netns exec`` for the programs that also need
  the per-namespace files it bind-mounts (`/etc/netns/<name>/resolv.conf`,
  the trust store under `ssl/`): curl, dig, an interactive shell.

Namespaces are never created here: `realize.kernel.Kernel` does that (and all
netlink), through pyroute2.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def path(name: str) -> str:
    """Where the namespace `name` is bound (what `ip netns add` creates)."""
    return f"{NETNS_DIR}/{name}"


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns {what}: {os.strerror(err)}")


def enter(name: str) -> None:
    """Move the calling thread into `name` for good; OSError when it does not exist."""
    fd = os.open(path(name), os.O_RDONLY)
    try:
        _setns(fd, name)
    finally:
        os.close(fd)


@contextmanager
def entered(name: str | None) -> Iterator[None]:
    """Run the block with this thread inside `name` (None: stay where it is)."""
    if name is None:
        yield
        return
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter(name)
        try:
            yield
        finally:
            _setns(here, "back")
    finally:
        os.close(here)


def run_in(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a fresh thread that has entered `name`; return its result or raise."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            enter(name)
            result.append(fn())
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            error.append(e)

    t = threading.Thread(target=run, name=f"he-netns-{name}")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def socket_in(
    name: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A socket created inside `name`; the calling thread stays where it was."""
    with entered(name):
        return socket.socket(family, kind)


@contextmanager
def child_entry(name: str | None) -> Iterator[Callable[[], None] | None]:
    """A `preexec_fn` entering `name` in the child (None when `name` is None).

    The namespace is opened here, in the parent, so a missing one raises
    before anything is forked; the child only calls setns(2) and, if that
    fails, exits 126 (no Python exception can cross exec). Keep the block
    around the `Popen` call: the descriptor is closed when it ends.
    """
    if name is None:
        yield None
        return
    fd = os.open(path(name), os.O_RDONLY)

    def preexec() -> None:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            os._exit(126)

    try:
        yield preexec
    finally:
        os.close(fd)


def exec_argv(name: str, argv: Sequence[str]) -> list[str]:
    """`argv` run by ``ip netns exec``: for programs that read `/etc/netns/<name>/`."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    return [ip, "netns", "exec", name, *argv]


def inode(name: str) -> tuple[int, int] | None:
    """(device, inode) of namespace `name`, how a process's /proc/<pid>/ns/net names it."""
    try:
        st = os.stat(path(name))
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)
