"""Turn a veth's segmentation and checksum offloads off (or on), from Python.

Why: with offloads on, a veth hands AF_PACKET 64 KiB TSO/GSO "super frames"
and TCP/UDP checksums left for hardware that does not exist (CHECKSUM_PARTIAL).
The fabric forwards frames as they are, through a raw socket that cannot carry
that metadata, so the receiver would get oversized frames with bad checksums.
With these features off, every frame on the wire is a real <= MTU packet with
valid checksums: what a capture shows is what AWS's network would carry.

How: the classic ethtool ioctl (SIOCETHTOOL) with the per-feature "set"
commands (ETHTOOL_STSO, _SGSO, _SGRO, _STXCSUM). The kernel still maps them
onto its feature bits (net/ethtool/ioctl.c, ethtool_set_one_feature), they
need no generic-netlink family lookup, and they work on any kernel this
emulator runs on. pyroute2 0.9's `Ethtool` wraps the same ioctl but has no
setter for these features, so we issue it ourselves.

Both ends of every ENI veth need it: the realize layer calls
`disable_offloads(name, netns=...)` for the host end, the driver for the
fabric end (it already runs inside the fabric namespace). A fabric started
with offloads on (`driver.OffloadMode.ON`) reads GSO metadata with
PACKET_VNET_HDR instead and turns both ends back on (`enable_offloads`).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct

from hyperplane_emu.realize.netns import socket_in

SIOCETHTOOL = 0x8946

# Get/set command pairs (include/uapi/linux/ethtool.h).
ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM = 0x16, 0x17
ETHTOOL_GTSO, ETHTOOL_STSO = 0x1E, 0x1F
ETHTOOL_GGSO, ETHTOOL_SGSO = 0x23, 0x24
ETHTOOL_GGRO, ETHTOOL_SGRO = 0x2B, 0x2C

# Order matters: segmentation first, since the kernel re-derives TSO from
# tx-checksumming (no checksum offload => no TSO) but not the reverse.
FEATURES: dict[str, tuple[int, int]] = {
    "tso": (ETHTOOL_GTSO, ETHTOOL_STSO),
    "gso": (ETHTOOL_GGSO, ETHTOOL_SGSO),
    "gro": (ETHTOOL_GGRO, ETHTOOL_SGRO),
    "tx-checksum": (ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM),
}


def _ethtool_value(sock: socket.socket, ifname: str, cmd: int, data: int = 0) -> int:
    """One ``struct ethtool_value {u32 cmd; u32 data;}`` ioctl; returns ``data``."""
    value = ctypes.create_string_buffer(struct.pack("=II", cmd, data), 8)
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return int(struct.unpack("=II", value.raw)[1])


def get_offloads(ifname: str, netns: str | None = None) -> dict[str, bool]:
    """Current state of the features we manage (``tso``, ``gso``, ``gro``, ``tx-checksum``)."""
    with _control_socket(netns) as sock:
        return {k: bool(_ethtool_value(sock, ifname, g)) for k, (g, _) in FEATURES.items()}


def disable_offloads(ifname: str, netns: str | None = None) -> dict[str, bool]:
    """Switch TSO, GSO, GRO and tx checksum offload off on ``ifname``; returns the new state.

    A feature the driver does not have (EOPNOTSUPP) is skipped: it cannot
    produce what we are protecting against.
    """
    return _set(ifname, netns, dict.fromkeys(FEATURES, False))


def enable_offloads(
    ifname: str, netns: str | None = None, *, gro: bool | None = None
) -> dict[str, bool]:
    """Switch tx checksum offload, TSO and GSO on on ``ifname``; returns the new state.

    For a fabric whose sockets read PACKET_VNET_HDR (`gso.normalize`): super
    frames and partial checksums are then what the kernel hands over, and what
    lets an eBPF fast path forward them at kernel speed. ``gro``: None leaves
    GRO as it is, True/False sets it.
    """
    wanted = {"tx-checksum": True, "tso": True, "gso": True}
    if gro is not None:
        wanted["gro"] = gro
    return _set(ifname, netns, wanted)


def _set(ifname: str, netns: str | None, wanted: dict[str, bool]) -> dict[str, bool]:
    # Off: segmentation before checksum (no checksum offload => no TSO, which the
    # kernel re-derives); on: checksum first, for the same reason.
    order = list(FEATURES) if not any(wanted.values()) else list(reversed(FEATURES))
    with _control_socket(netns) as sock:
        for name in order:
            if name not in wanted:
                continue
            try:
                _ethtool_value(sock, ifname, FEATURES[name][1], int(wanted[name]))
            except OSError as e:
                if e.errno != errno.EOPNOTSUPP:
                    raise
        return {k: bool(_ethtool_value(sock, ifname, g)) for k, (g, _) in FEATURES.items()}


def _control_socket(netns: str | None) -> socket.socket:
    """Any socket of the namespace serves for ioctls on its interfaces."""
    if netns is None:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return socket_in(netns, socket.AF_INET, socket.SOCK_DGRAM)
