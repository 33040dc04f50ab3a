"""Where established flows go fast: the core's own cache and, when loaded, the kernel's map.

Python decides, the kernel carries. A flow half that the slow path has judged
and that can no longer change state without a SYN, FIN or RST (`Flow.fast_eligible`)
is *installed*:

- always in the core's dict cache (`entries`, read by `Fabric.handle` before
  anything else: one lookup and a splice, no parsing);
- and, when the driver loaded the eBPF program (`fabric/ebpf`), in its flow map,
  keyed on the fabric-side veth's ifindex and the same 12 wire bytes. The tc
  ingress program then rewrites and redirects that half's packets in the
  kernel: Python never sees them. It passes SYN/FIN/RST, fragments, options and
  anything it does not know to the slow path, so connection tracking stays exact.

The kernel counts packets, bytes and the last-seen time per entry; `sync` (all
entries: flow-log windows, `conntrack`) and `refresh` (one flow, before it may
expire) add what it counted since the last look into the half's own counters
(`pk`, `by`, `last`), which is all flow logs, conntrack expiry and ``status`` ever read. An
entry leaves the kernel when its flow ends, when its target's connections are
terminated, or when a security-group change may reverse its verdict (untracked
flows; AWS keeps tracked ones): its final counters are read as it goes.

A full map is not an error: the half stays on the Python path, and
``fastpath.kernel.full`` counts it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .conntrack import FastKey, Flow, FlowHalf


class KernelCounters(Protocol):
    @property
    def packets(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def last_ns(self) -> int: ...


class KernelTable(Protocol):
    """What the core needs of `ebpf.KernelFlows` (a fake in unit tests)."""

    def put(self, key: tuple[int, int, bytes], action: Any) -> None: ...
    def delete(self, key: tuple[int, int, bytes]) -> KernelCounters | None: ...
    def get(self, key: tuple[int, int, bytes]) -> KernelCounters | None: ...
    def counters(self) -> Mapping[tuple[int, int, bytes], KernelCounters]: ...
    def set_enabled(self, on: bool) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def close(self) -> None: ...


class ActionFactory(Protocol):
    def __call__(self, rmac: bytes, l2: bytes, nat: bytes | None, out_ifindex: int) -> object: ...


class FastPath:
    """The established-flow caches of one fabric. See the module docstring."""

    def __init__(self) -> None:
        self.entries: dict[FastKey, FlowHalf] = {}
        self.kernel: KernelTable | None = None
        self._action: ActionFactory | None = None
        self._full_error: type[Exception] = Exception
        self._ifindex: Sequence[int] = ()
        self.installed: dict[tuple[int, int, bytes], FlowHalf] = {}
        self.full = 0
        self.removed = 0
        self.enabled = True
        self.reason = "not loaded"  # why the kernel path is off, for status

    def attach(
        self,
        kernel: KernelTable,
        ifindex_of_port: Sequence[int],
        action: ActionFactory,
        full_error: type[Exception],
    ) -> None:
        """Use `kernel` from now on; ``ifindex_of_port[port]`` is each port's fabric-side veth."""
        self.kernel = kernel
        self._ifindex = ifindex_of_port
        self._action = action
        self._full_error = full_error
        self.reason = ""

    # ------------------------------------------------------------ install

    def add(self, half: FlowHalf, key: FastKey) -> None:
        """Install a half that the slow path just forwarded in an eligible state.

        A half the kernel carries is not kept in the dict too (its packets never
        reach Python: ~350 bytes a flow saved); while the kernel path is paused
        (a capture), its packets come back here and it enters the dict."""
        if self.kernel is not None and self.enabled:
            if half.kkey is None:
                self._install(half, key)
            if half.kkey is not None:
                return
        half.fast_key = key
        self.entries[key] = half

    def _install(self, half: FlowHalf, key: FastKey) -> None:
        assert self.kernel is not None and self._action is not None
        kkey = (self._ifindex[key[0]], key[1], key[2])
        action = self._action(half.rmac, half.l2, half.nat, self._ifindex[half.out_port])
        try:
            self.kernel.put(kkey, action)
        except self._full_error:
            self.full += 1
            return
        half.kkey = kkey
        half.kpk = 0
        half.kby = 0
        self.installed[kkey] = half

    # ------------------------------------------------------------- remove

    def drop_half(self, half: FlowHalf) -> None:
        """Take one half off both caches (its kernel counters are kept)."""
        if half.fast_key is not None:
            self.entries.pop(half.fast_key, None)
            half.fast_key = None
        if half.kkey is not None:
            self._uninstall(half)

    def forget(self, flow: Flow) -> None:
        self.drop_half(flow.orig)
        self.drop_half(flow.reply)

    def rules_changed(self) -> None:
        """Security-group rules changed: untracked flows must be judged again on their
        next packet, so they leave both caches; tracked flows keep going (AWS) and
        stay in the kernel, and re-enter the dict cache on their next slow packet."""
        for h in list(self.installed.values()):
            if h.flow.untracked:
                self._uninstall(h)
        for h in self.entries.values():
            h.fast_key = None
        self.entries.clear()

    def _uninstall(self, half: FlowHalf) -> None:
        assert self.kernel is not None and half.kkey is not None
        c = self.kernel.delete(half.kkey)
        self.installed.pop(half.kkey, None)
        half.kkey = None
        self.removed += 1
        if c is not None:
            _take(half, c, time.time(), time.monotonic_ns())

    # --------------------------------------------------------------- read

    def sync(self, now: float) -> None:
        """Add what the kernel forwarded since the last look to each half's counters
        (one batched read of the whole map: flow-log windows, ``conntrack``)."""
        if self.kernel is None or not self.installed:
            return
        mono = time.monotonic_ns()
        installed = self.installed
        for kkey, c in self.kernel.counters().items():
            half = installed.get(kkey)
            if half is not None:
                _take(half, c, now, mono)

    def refresh(self, flow: Flow, now: float) -> None:
        """Bring one flow's counters up to date: conntrack asks before expiring it, so
        expiry costs a lookup per *due* flow, never a read of the whole map."""
        kernel = self.kernel
        if kernel is None:
            return
        mono = time.monotonic_ns()
        for half in (flow.orig, flow.reply):
            if half.kkey is not None:
                c = kernel.get(half.kkey)
                if c is not None:
                    _take(half, c, now, mono)

    def carries(self, port: int, frame: bytes) -> bool:
        """Would the kernel forward this frame arriving on `port` (an installed entry)?
        For in-process benchmarks, which play the kernel's part."""
        if self.kernel is None or not self.enabled:
            return False
        return (self._ifindex[port], frame[23], frame[26:38]) in self.installed

    def set_enabled(self, on: bool) -> None:
        """Off while a capture runs: every packet then reaches Python (and the pcap)."""
        if self.kernel is not None and on != self.enabled:
            self.kernel.set_enabled(on)
        self.enabled = on

    def close(self) -> None:
        """Detach the program and free the map (the process is stopping)."""
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
            self.reason = "stopped"
        self.installed.clear()

    def counters(self) -> dict[str, int]:
        c = {"fastpath.entries": len(self.entries)}
        if self.kernel is not None:
            c["fastpath.kernel.entries"] = len(self.installed)
            c["fastpath.kernel.full"] = self.full
            c["fastpath.kernel.removed"] = self.removed
            for name, n in self.kernel.stats().items():
                c[f"fastpath.kernel.{name}"] = n
        return c

    def describe(self) -> str:
        """One line for ``status``: ``on (kernel, N flows)`` or ``off (why)``."""
        if self.kernel is None:
            return f"off ({self.reason})"
        state = "on" if self.enabled else "paused (capture running)"
        return f"{state} (kernel, {len(self.installed)} flow halves)"


def _take(half: FlowHalf, c: KernelCounters, now: float, mono_ns: int) -> None:
    """Fold an entry's cumulative counters into its half (only the part not yet taken)."""
    dp = c.packets - half.kpk
    if dp <= 0:
        return
    half.pk += dp
    half.by += c.bytes - half.kby
    half.kpk = c.packets
    half.kby = c.bytes
    last = now - (mono_ns - c.last_ns) / 1e9
    if last > half.last:
        half.last = last
