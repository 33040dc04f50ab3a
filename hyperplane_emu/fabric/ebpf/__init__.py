"""The fabric's eBPF fast path (issue 20): a tc ingress program on every fabric-side
veth forwards established flows that Python installed in a BPF hash map.

- `fastpath.bpf.c`: the program; `build`: compiles it (scripts/setup does);
- `layout`: the map key/value byte layouts; `libbpf`: the ctypes binding;
- `maps.KernelFlows`: load, attach, put/delete/get/counters, close.
"""

from .layout import FlowAction, FlowCounters, KernelKey
from .libbpf import bpf_objects
from .maps import FastPathUnavailable, KernelFlows, MapFull, last_seen_wall, monotonic_offset

__all__ = [
    "FastPathUnavailable",
    "FlowAction",
    "FlowCounters",
    "KernelFlows",
    "KernelKey",
    "MapFull",
    "bpf_objects",
    "last_seen_wall",
    "monotonic_offset",
]
