"""Kernel object names: every one starts with `he-<topology>-`, or `he-` where
the kernel's 15-character interface limit leaves no room for more.

Namespaces (`he-<topology>-<host>`, `he-<topology>-fabric`) carry the whole
prefix, so `down` and `clean` find a topology's objects by name. Interfaces
live *inside* those namespaces and need only be unique there: the host side is
`eth0`, `eth1`… as on an instance; the fabric side is `he-<host>` cut to fit,
with the ENI's port number when two cut names collide, so `tcpdump -i` inside
the fabric namespace still says which host it is.
"""

from __future__ import annotations

from hyperplane_emu.prefix import PREFIX

IFNAMSIZ = 15  # IFNAMSIZ is 16 including the terminating NUL


def topology_prefix(topology: str) -> str:
    return f"{PREFIX}{topology}-"


def namespace(topology: str, owner: str) -> str:
    return f"{topology_prefix(topology)}{owner}"


def fabric_namespace(topology: str) -> str:
    return namespace(topology, "fabric")


def host_ifname(index: int) -> str:
    return f"eth{index}"


def fabric_ifnames(owners: list[tuple[int, str]]) -> dict[int, str]:
    """Port -> fabric-side interface name for `(port, owner)` pairs, all distinct."""
    wanted = {port: f"{PREFIX}{owner}"[:IFNAMSIZ] for port, owner in owners}
    counts: dict[str, int] = {}
    for n in wanted.values():
        counts[n] = counts.get(n, 0) + 1
    out: dict[int, str] = {}
    for port, owner in owners:
        n = wanted[port]
        if counts[n] > 1:
            suffix = f"-{port}"
            n = f"{PREFIX}{owner}"[: IFNAMSIZ - len(suffix)] + suffix
        out[port] = n
    return out
