"""`KernelFlows`: load the fast path, attach it to tc ingress, and drive its maps.

Lifetime: nothing is pinned. The program and its maps live as long as this
object holds them or a tc filter references the program. If the process dies
(kill -9), each veth's tc filter keeps the program (and through it the maps)
alive until the veth is deleted, which `down` does; then the kernel frees them.
`close()` detaches from every veth it attached to and closes the object.

tc attach/detach go through rtnetlink of the calling thread's network namespace:
`load` attaches in the namespace the caller is in; `close` detaches in that same
namespace whatever thread it is called from.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import layout
from .layout import FlowAction, FlowCounters, KernelKey
from .libbpf import (
    BPF_ANY,
    BPF_EXIST,
    BPF_NOEXIST,
    BPF_TC_EGRESS,
    BPF_TC_F_REPLACE,
    BPF_TC_INGRESS,
    BatchOpts,
    LibbpfMissing,
    TcHook,
    TcOpts,
    clear_messages,
    errno_text,
    last_warnings,
    lib,
)

log = logging.getLogger("hyperplane_emu.fabric.ebpf")
T = TypeVar("T")

PROGRAM = "he_fastpath"
FLOWS, CONFIG, STATS = "he_flows", "he_config", "he_stats"
TC_HANDLE = 0x4845  # "HE"
TC_PRIORITY = 1
_BATCH = 8192
_COUNTERS_ONLY = struct.Struct("=36xIQQQ")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class FastPathUnavailable(Exception):
    """str(e) is the one-line reason (kernel refused: ..., object not built: ...,
    libbpf missing ...)."""


class MapFull(Exception):
    """he_flows has max_flows entries: the flow stays on the slow path."""


class _Closed(dict[str, int]):
    def __missing__(self, key: str) -> int:
        raise ValueError(f"KernelFlows is closed (no {key})")


def _netns_ino() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def _in_netns(fd: int, fn: Callable[[], T]) -> T:
    """Run `fn` on a fresh thread that entered the namespace open at `fd`."""
    out: list[T] = []
    err: list[BaseException] = []

    def go() -> None:
        try:
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the fast path's namespace")
            out.append(fn())
        except BaseException as e:  # re-raised in the caller's thread
            err.append(e)

    t = threading.Thread(target=go, name="he-ebpf-netns")
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


class KernelFlows:
    """The loaded fast path: he_flows, he_config, he_stats and the tc filters."""

    def __init__(self, obj_ptr: int, fds: dict[str, int], max_flows: int) -> None:
        self._obj: int | None = obj_ptr
        self._fds = fds
        self.max_flows = max_flows
        self._lib = lib()
        # Entries installed (a count, not a set of keys: ~170 bytes a flow saved).
        self._entries = 0
        self._attached: list[tuple[int, bool]] = []  # (ifindex, we created the clsact)
        self._netns_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._netns_ino = _netns_ino()
        self._lock = threading.Lock()
        self._val = ctypes.create_string_buffer(layout.VALUE_SIZE)
        self._ncpus = max(1, self._lib.libbpf_num_possible_cpus())

    # --- loading --------------------------------------------------------------
    @classmethod
    def load(cls, ifindexes: Sequence[int], max_flows: int, obj: Path | None = None) -> KernelFlows:
        """Load the object, size he_flows to `max_flows`, enable, and attach to the tc
        ingress of each ifindex in the CURRENT netns. FastPathUnavailable with a
        one-line reason otherwise; on a partial failure everything done is undone."""
        from . import build  # not at import: `python -m ...ebpf.build` must run it fresh

        path = obj if obj is not None else build.OBJECT
        if not path.exists():
            raise FastPathUnavailable(
                f"object not built: {path} (python -m hyperplane_emu.fabric.ebpf.build)"
            )
        if obj is None and build.is_stale(build.SOURCE, path):
            raise FastPathUnavailable(
                f"object out of date: {path} is older than its source "
                "(python -m hyperplane_emu.fabric.ebpf.build)"
            )
        if max_flows < 1:
            raise FastPathUnavailable(f"max_flows must be >= 1 (got {max_flows})")
        try:
            libbpf = lib()
        except LibbpfMissing as e:
            raise FastPathUnavailable(str(e)) from e
        clear_messages()
        ctypes.set_errno(0)
        ptr = libbpf.bpf_object__open_file(str(path).encode(), None)
        if not ptr:
            raise FastPathUnavailable(f"cannot open {path}: {errno_text(0)} {_why()}".rstrip())
        try:
            fmap = libbpf.bpf_object__find_map_by_name(ptr, FLOWS.encode())
            if not fmap:
                raise FastPathUnavailable(f"object {path} has no map {FLOWS}")
            rc = libbpf.bpf_map__set_max_entries(fmap, max_flows)
            if rc < 0:
                raise FastPathUnavailable(f"cannot size {FLOWS}: {errno_text(rc)}")
            rc = libbpf.bpf_object__load(ptr)
            if rc < 0:
                raise FastPathUnavailable(f"kernel refused: {errno_text(rc)} {_why()}".rstrip())
            fds = {"prog": _prog_fd(libbpf, ptr)}
            for name in (FLOWS, CONFIG, STATS):
                m = libbpf.bpf_object__find_map_by_name(ptr, name.encode())
                fd = libbpf.bpf_map__fd(m) if m else -1
                if fd < 0:
                    raise FastPathUnavailable(f"object {path} has no map {name}")
                fds[name] = fd
        except BaseException:
            libbpf.bpf_object__close(ptr)
            raise
        flows = cls(ptr, fds, max_flows)
        try:
            flows.set_enabled(True)
            for ifindex in ifindexes:
                flows._attach(ifindex)
        except BaseException as e:
            flows.close()
            if isinstance(e, FastPathUnavailable):
                raise
            raise FastPathUnavailable(f"attach failed: {e}") from e
        return flows

    def _attach(self, ifindex: int) -> None:
        hook = _hook(ifindex, BPF_TC_INGRESS)
        rc = self._lib.bpf_tc_hook_create(ctypes.byref(hook))
        if rc < 0 and rc != -errno.EEXIST:
            raise FastPathUnavailable(f"cannot add clsact on ifindex {ifindex}: {errno_text(rc)}")
        created = rc == 0
        opts = _opts(self._fds["prog"])
        opts.flags = BPF_TC_F_REPLACE
        rc = self._lib.bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts))
        if rc < 0:
            if created:
                self._destroy_hook(ifindex)
            raise FastPathUnavailable(
                f"kernel refused tc attach on ifindex {ifindex}: {errno_text(rc)} {_why()}".rstrip()
            )
        self._attached.append((ifindex, created))

    def _destroy_hook(self, ifindex: int) -> None:
        hook = _hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)
        self._lib.bpf_tc_hook_destroy(ctypes.byref(hook))

    # --- flows ----------------------------------------------------------------
    def put(self, key: KernelKey, action: FlowAction) -> None:
        """Install (or replace) a direction; counters start at 0. MapFull when full."""
        k = layout.pack_key(key)
        v = layout.pack_action(action)
        rc = self._lib.bpf_map_update_elem(self._fds[FLOWS], k, v, BPF_NOEXIST)
        if rc == -errno.EEXIST:  # a replacement: one entry still
            rc = self._lib.bpf_map_update_elem(self._fds[FLOWS], k, v, BPF_EXIST)
            self._entries -= rc == 0
        if rc < 0:
            if rc == -errno.E2BIG:
                raise MapFull(f"{FLOWS} is full ({self.max_flows} flows)")
            raise OSError(-rc, f"{FLOWS} update: {os.strerror(-rc)}")
        self._entries += 1

    def delete(self, key: KernelKey) -> FlowCounters | None:
        """Remove a direction; its final counters, None if it was not installed."""
        k = layout.pack_key(key)
        with self._lock:
            rc = self._lib.bpf_map_lookup_and_delete_elem(self._fds[FLOWS], k, self._val)
            raw = self._val.raw
        if rc == -errno.ENOENT:
            return None
        if rc < 0:
            raise OSError(-rc, f"{FLOWS} delete: {os.strerror(-rc)}")
        self._entries -= 1
        return layout.unpack_counters(raw)

    def get(self, key: KernelKey) -> FlowCounters | None:
        k = layout.pack_key(key)
        with self._lock:
            rc = self._lib.bpf_map_lookup_elem(self._fds[FLOWS], k, self._val)
            raw = self._val.raw
        if rc == -errno.ENOENT:
            return None
        if rc < 0:
            raise OSError(-rc, f"{FLOWS} lookup: {os.strerror(-rc)}")
        return layout.unpack_counters(raw)

    def get_action(self, key: KernelKey) -> FlowAction | None:
        """The installed action of a direction (for tests and `status`)."""
        k = layout.pack_key(key)
        with self._lock:
            rc = self._lib.bpf_map_lookup_elem(self._fds[FLOWS], k, self._val)
            raw = self._val.raw
        return None if rc < 0 else layout.unpack_action(raw)[0]

    def counters(self) -> dict[KernelKey, FlowCounters]:
        """Every entry's counters, read in batches (bpf_map_lookup_batch)."""
        out: dict[KernelKey, FlowCounters] = {}
        keys = ctypes.create_string_buffer(layout.KEY_SIZE * _BATCH)
        vals = ctypes.create_string_buffer(layout.VALUE_SIZE * _BATCH)
        tok_in = ctypes.create_string_buffer(64)
        tok_out = ctypes.create_string_buffer(64)
        opts = BatchOpts(sz=ctypes.sizeof(BatchOpts))
        first = True
        fd = self._fds[FLOWS]
        unpack_key = layout.KEY.iter_unpack
        unpack_val = _COUNTERS_ONLY.iter_unpack
        while True:
            count = ctypes.c_uint32(_BATCH)
            rc = self._lib.bpf_map_lookup_batch(
                fd,
                None if first else tok_in,
                tok_out,
                keys,
                vals,
                ctypes.byref(count),
                ctypes.byref(opts),
            )
            if rc < 0 and rc != -errno.ENOENT:
                raise OSError(-rc, f"{FLOWS} batch lookup: {os.strerror(-rc)}")
            n = count.value
            if n:
                ks = unpack_key(keys.raw[: n * layout.KEY_SIZE])
                vs = unpack_val(vals.raw[: n * layout.VALUE_SIZE])
                for (ifi, proto, tup), (flags, pk, by, last) in zip(ks, vs, strict=True):
                    out[(ifi, proto, tup)] = FlowCounters(pk, by, last, flags)
            if rc == -errno.ENOENT:
                return out
            ctypes.memmove(tok_in, tok_out, 64)
            first = False

    def set_enabled(self, on: bool) -> None:
        """0: the program passes everything to the slow path (during a capture)."""
        rc = self._lib.bpf_map_update_elem(
            self._fds[CONFIG], (0).to_bytes(4, "little"), int(on).to_bytes(4, "little"), BPF_ANY
        )
        if rc < 0:
            raise OSError(-rc, f"{CONFIG} update: {os.strerror(-rc)}")

    def stats(self) -> dict[str, int]:
        """he_stats summed over CPUs: forwarded, miss, pass_flags, pass_other, disabled."""
        buf = ctypes.create_string_buffer(8 * self._ncpus)
        out: dict[str, int] = {}
        for i, name in enumerate(layout.STATS):
            rc = self._lib.bpf_map_lookup_elem(self._fds[STATS], i.to_bytes(4, "little"), buf)
            if rc < 0:
                raise OSError(-rc, f"{STATS} lookup: {os.strerror(-rc)}")
            raw = buf.raw
            out[name] = sum(
                int.from_bytes(raw[c * 8 : c * 8 + 8], "little") for c in range(self._ncpus)
            )
        return out

    def ids(self) -> dict[str, int]:
        """Kernel ids of this object's program and maps (to match `bpf_objects`)."""
        return {name: _obj_id(self._lib, fd) for name, fd in self._fds.items()}

    def __len__(self) -> int:
        return self._entries

    def __enter__(self) -> KernelFlows:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Detach from every ifindex (veths already gone are fine), close the object."""
        if self._obj is None:
            return
        attached, self._attached = self._attached, []
        if attached:
            if _netns_ino() == self._netns_ino:
                self._detach_all(attached)
            else:
                _in_netns(self._netns_fd, lambda: self._detach_all(attached))
        self._lib.bpf_object__close(self._obj)
        self._obj = None
        self._fds = _Closed()  # the numbers may be reused by other files now
        self._entries = 0
        os.close(self._netns_fd)

    def _detach_all(self, attached: list[tuple[int, bool]]) -> None:
        for ifindex, created in attached:
            hook = _hook(ifindex, BPF_TC_INGRESS)
            rc = self._lib.bpf_tc_detach(ctypes.byref(hook), ctypes.byref(_opts(0)))
            if rc < 0:
                log.debug("tc detach ifindex %d: %s (ignored)", ifindex, errno_text(rc))
            if created:
                self._destroy_hook(ifindex)


def _why() -> str:
    lines = last_warnings(3)
    return ("(" + " | ".join(ln.strip() for ln in lines) + ")")[:600] if lines else ""


def _prog_fd(libbpf: ctypes.CDLL, ptr: int) -> int:
    prog = libbpf.bpf_object__find_program_by_name(ptr, PROGRAM.encode())
    fd = libbpf.bpf_program__fd(prog) if prog else -1
    if fd < 0:
        raise FastPathUnavailable(f"object has no program {PROGRAM}")
    return int(fd)


def _hook(ifindex: int, point: int) -> TcHook:
    return TcHook(sz=ctypes.sizeof(TcHook), ifindex=ifindex, attach_point=point)


def _opts(prog_fd: int) -> TcOpts:
    return TcOpts(sz=ctypes.sizeof(TcOpts), prog_fd=prog_fd, handle=TC_HANDLE, priority=TC_PRIORITY)


def _obj_id(libbpf: ctypes.CDLL, fd: int) -> int:
    buf = ctypes.create_string_buffer(8)  # prog and map info both start: u32 type, u32 id
    size = ctypes.c_uint32(8)
    if libbpf.bpf_obj_get_info_by_fd(fd, buf, ctypes.byref(size)) != 0:
        return 0
    return int.from_bytes(buf.raw[4:8], "little")


def monotonic_offset() -> float:
    """Add to last_ns / 1e9 to get time.time(): bpf_ktime_get_ns is CLOCK_MONOTONIC."""
    return time.time() - time.monotonic_ns() / 1e9


def last_seen_wall(last_ns: int) -> float | None:
    """last_ns as a time.time() value (None when the flow forwarded nothing yet)."""
    return None if last_ns == 0 else last_ns / 1e9 + monotonic_offset()
