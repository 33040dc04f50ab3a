"""ctypes binding to the few libbpf 1.x calls the fast path needs, and `bpf_objects`.

libbpf 1.x returns -errno from int functions and NULL (errno set) from pointer
functions. Its messages (verifier log included) go to the `hyperplane_emu.fabric.ebpf`
logger at debug level; the last warning is kept so a refusal can say why.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from collections import deque
from typing import Any

log = logging.getLogger("hyperplane_emu.fabric.ebpf")

LIBBPF_SONAME = "libbpf.so.1"
BPF_TC_INGRESS = 1
BPF_TC_EGRESS = 2
BPF_TC_F_REPLACE = 1
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2


class LibbpfMissing(OSError):
    """libbpf.so.1 cannot be loaded."""


class TcHook(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("ifindex", ctypes.c_int),
        ("attach_point", ctypes.c_int),
        ("parent", ctypes.c_uint32),
    ]


class TcOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("prog_fd", ctypes.c_int),
        ("flags", ctypes.c_uint32),
        ("prog_id", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("priority", ctypes.c_uint32),
    ]


class BatchOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("elem_flags", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


_P = ctypes.c_void_p
_I = ctypes.c_int
_U32 = ctypes.c_uint32
_PU32 = ctypes.POINTER(ctypes.c_uint32)
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "bpf_object__open_file": (_P, [ctypes.c_char_p, _P]),
    "bpf_object__load": (_I, [_P]),
    "bpf_object__close": (None, [_P]),
    "bpf_object__find_program_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_object__find_map_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_program__fd": (_I, [_P]),
    "bpf_map__fd": (_I, [_P]),
    "bpf_map__set_max_entries": (_I, [_P, _U32]),
    "bpf_tc_hook_create": (_I, [ctypes.POINTER(TcHook)]),
    "bpf_tc_hook_destroy": (_I, [ctypes.POINTER(TcHook)]),
    "bpf_tc_attach": (_I, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_tc_detach": (_I, [ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts)]),
    "bpf_map_update_elem": (_I, [_I, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64]),
    "bpf_map_lookup_elem": (_I, [_I, ctypes.c_char_p, _P]),
    "bpf_map_delete_elem": (_I, [_I, ctypes.c_char_p]),
    "bpf_map_lookup_and_delete_elem": (_I, [_I, ctypes.c_char_p, _P]),
    "bpf_map_lookup_batch": (_I, [_I, _P, _P, _P, _P, _PU32, ctypes.POINTER(BatchOpts)]),
    "bpf_prog_get_next_id": (_I, [_U32, _PU32]),
    "bpf_map_get_next_id": (_I, [_U32, _PU32]),
    "bpf_prog_get_fd_by_id": (_I, [_U32]),
    "bpf_map_get_fd_by_id": (_I, [_U32]),
    "bpf_obj_get_info_by_fd": (_I, [_I, _P, _PU32]),
    "libbpf_set_print": (_P, [_P]),
    "libbpf_num_possible_cpus": (_I, []),
}

# enum libbpf_print_level: LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
_libc.vsnprintf.restype = ctypes.c_int

_lib: ctypes.CDLL | None = None
_lock = threading.Lock()
_warnings: deque[str] = deque(maxlen=8)
_messages: deque[str] = deque(maxlen=200)


def _on_print(level: int, fmt: bytes, args: int) -> int:
    buf = ctypes.create_string_buffer(2048)
    # va_list is an array type on x86-64 and aarch64: it is passed as a pointer.
    _libc.vsnprintf(buf, len(buf), fmt, args)
    text = buf.value.decode(errors="replace").rstrip()
    if text:
        _messages.append(text)
        if level == 0:
            _warnings.append(text)
        log.debug("libbpf: %s", text)
    return 0


_print_cb = _PRINT_FN(_on_print)  # kept alive for the life of the process


def lib() -> ctypes.CDLL:
    """libbpf, typed and with its messages routed to logging; LibbpfMissing if absent."""
    global _lib
    with _lock:
        if _lib is None:
            name = LIBBPF_SONAME
            try:
                handle = ctypes.CDLL(name, use_errno=True)
            except OSError as e:
                found = ctypes.util.find_library("bpf")
                raise LibbpfMissing(
                    f"libbpf missing: cannot load {name} ({e}); "
                    f"install libbpf1 (found: {found or 'nothing'})"
                ) from e
            for fn, (restype, argtypes) in _SIGNATURES.items():
                f = getattr(handle, fn)
                f.restype = restype
                f.argtypes = argtypes
            handle.libbpf_set_print(ctypes.cast(_print_cb, ctypes.c_void_p))
            _lib = handle
        return _lib


def last_warnings(n: int = 3) -> list[str]:
    """libbpf's last warning lines (why a load failed), oldest first."""
    return list(_warnings)[-n:]


def recent_messages() -> list[str]:
    """libbpf's recent messages of every level (the verifier log on a refusal)."""
    return list(_messages)


def clear_messages() -> None:
    _warnings.clear()
    _messages.clear()


def errno_text(rc: int) -> str:
    err = -rc if rc < 0 else ctypes.get_errno()
    return f"{os.strerror(err)} (errno {err})"


# struct bpf_prog_info: name[16] at offset 64; struct bpf_map_info: name[16] at 24.
_PROG_INFO_LEN = 80
_PROG_NAME_OFF = 64
_MAP_INFO_LEN = 40
_MAP_NAME_OFF = 24


def _walk(kind: str, prefix: str) -> list[tuple[str, str, int]]:
    libbpf = lib()
    next_id = getattr(libbpf, f"bpf_{kind}_get_next_id")
    get_fd = getattr(libbpf, f"bpf_{kind}_get_fd_by_id")
    info_len, name_off = (
        (_PROG_INFO_LEN, _PROG_NAME_OFF) if kind == "prog" else (_MAP_INFO_LEN, _MAP_NAME_OFF)
    )
    out: list[tuple[str, str, int]] = []
    cur = ctypes.c_uint32(0)
    while True:
        nxt = ctypes.c_uint32(0)
        if next_id(cur.value, ctypes.byref(nxt)) != 0:
            break  # ENOENT: the end
        cur = nxt
        fd = get_fd(nxt.value)
        if fd < 0:
            continue  # gone meanwhile
        try:
            buf = ctypes.create_string_buffer(info_len)
            size = ctypes.c_uint32(info_len)
            if libbpf.bpf_obj_get_info_by_fd(fd, buf, ctypes.byref(size)) != 0:
                continue
            name = buf.raw[name_off : name_off + 16].split(b"\0", 1)[0].decode(errors="replace")
        finally:
            os.close(fd)
        if name.startswith(prefix):
            out.append((kind, name, nxt.value))
    return out


def bpf_objects(prefix: str = "he_") -> list[tuple[str, str, int]]:
    """("prog"|"map", name, id) of every BPF program and map loaded in the kernel
    whose name starts with `prefix` (names are truncated by the kernel to 15 chars).
    Needs CAP_SYS_ADMIN; raises LibbpfMissing without libbpf."""
    return _walk("prog", prefix) + _walk("map", prefix)
