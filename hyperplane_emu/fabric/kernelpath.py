"""Load the eBPF fast path for a fabric, or say in one line why it stays in Python.

The fabric process calls `load` once, inside the fabric namespace, after the
plan is read and before its sockets open: whether the kernel carries
established flows decides how the sockets and veth offloads are set up
(driver.Driver.open). Modes: ``auto`` (the default: the kernel if it can),
``off`` (`--fast-path off`, or the environment variable
``HYPERPLANE_EMU_FAST_PATH=off``: every packet through Python, as before the
fast path existed). A kernel or toolchain that cannot load the program is not
an error: the reason goes to ``status`` (``fast path: off (why)``) and the log.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

from hyperplane_emu.plan.model import Plan

if TYPE_CHECKING:  # the runtime and CLI read MODES and ENV without loading the core
    from .core import Fabric

log = logging.getLogger("hyperplane_emu.fabric.kernelpath")

MODES = ("auto", "off")
ENV = "HYPERPLANE_EMU_FAST_PATH"  # the default mode, for runs that do not say
MAP_MAX = 1 << 20
"""Entries of the kernel's flow map at most (two per flow: one per direction)."""


def load(fabric: Fabric, plan: Plan, mode: str) -> bool:
    """Attach the kernel's flow map to ``fabric.fastpath``; True if it is on."""
    fp = fabric.fastpath
    if mode == "off":
        fp.reason = "--fast-path off"
        return False
    try:
        from .ebpf import FastPathUnavailable, FlowAction, KernelFlows, MapFull
    except ImportError as e:  # a broken install, not a kernel matter
        fp.reason = f"cannot import the loader: {e}"
        log.warning("fast path: off (%s)", fp.reason)
        return False
    enis = [eni for eni in plan.enis if eni.port >= 0]
    ifindex = [0] * (max((eni.port for eni in enis), default=-1) + 1)
    for eni in enis:
        ifindex[eni.port] = socket.if_nametoindex(eni.fabric_ifname)
    max_flows = min(MAP_MAX, 2 * plan.settings.conntrack_max)
    try:
        kernel = KernelFlows.load([ifindex[eni.port] for eni in enis], max_flows)
    except FastPathUnavailable as e:
        fp.reason = str(e)
        log.warning("fast path: off (%s)", fp.reason)
        return False
    fp.attach(kernel, ifindex, FlowAction, MapFull)
    log.info("fast path: on (tc ingress on %d ports, map of %d entries)", len(enis), max_flows)
    return True
