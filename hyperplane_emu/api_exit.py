"""Topologies brought up by the Python API come down when the process ends.

`with` blocks do not unwind on SIGTERM/SIGHUP, and a forgotten handle is still
running at exit: this module keeps the live handles and takes down, at exit or on
those signals, the ones this very process brought up.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from types import FrameType
from typing import Protocol


class Live(Protocol):
    """What this module needs of a handle (api.Topology), without importing it."""

    _pid: int

    def down(self) -> object: ...


LIVE: set[Live] = set()
"""The handles brought up and not yet down (`Topology.down` takes itself out)."""


def _down_all() -> None:
    # Children forked without exec (pyroute2 forks one to enter a namespace) inherit
    # atexit hooks and signal handlers: only the process that brought a topology up
    # may take it down, or a helper's exit would tear down its parent's topology.
    for t in list(LIVE):
        if t._pid != os.getpid():
            continue
        with contextlib.suppress(Exception):
            t.down()


atexit.register(_down_all)

_armed_by = 0


def arm_signals() -> None:
    """SIGTERM and SIGHUP (a CI runner cancelling, a closed terminal) kill a Python
    process without unwinding `with` blocks; turn them into SystemExit so the
    topologies come down. Only where nobody installed a handler, and only from the
    main thread (the only one that may)."""
    global _armed_by
    if _armed_by == os.getpid() or threading.current_thread() is not threading.main_thread():
        return
    _armed_by = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _armed_by:  # a forked helper: die as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise SystemExit(128 + signum)
