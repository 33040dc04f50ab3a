"""The name every emulator process shows in ps, top and /proc/<pid>/comm.

prctl(PR_SET_NAME) sets the kernel's 15-character task name; the runtime starts
`python -m …`, so without it every process would show as `python3`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

PR_SET_NAME = 15
TASK_COMM_LEN = 16  # including the terminating NUL

log = logging.getLogger("hyperplane_emu")


def set_process_name(name: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    raw = name.encode()[: TASK_COMM_LEN - 1]
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_NAME) failed: %s", os.strerror(ctypes.get_errno()))
