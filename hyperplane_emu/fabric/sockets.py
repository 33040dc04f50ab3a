"""AF_PACKET sockets for the fabric's ports (`driver.Driver.open`).

- created with protocol 0 and bound afterwards, so no frame of another
  interface queues in between, and a socket filter is in place before the first frame;
- ETH_P_ALL sockets (every frame, before tc ingress: a tap) get
  PACKET_IGNORE_OUTGOING (our own sends are not looped back) and
  PACKET_QDISC_BYPASS (sent frames go straight to the veth's xmit);
- with offloads on, the ETH_P_ALL socket carries `NOT_IPV4_FILTER` and IPv4
  comes from an ETH_P_IP socket with PACKET_VNET_HDR (delivered after tc
  ingress, with the GSO metadata `gso.normalize` reads);
- 32 MiB SO_RCVBUFFORCE / SO_SNDBUFFORCE (root), nonblocking.
"""

from __future__ import annotations

import ctypes
import socket
import struct

from .gso import VNET_HDR_LEN

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_VNET_HDR = 15
SO_ATTACH_FILTER = 26
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SOCKET_BUFFER = 32 << 20
# An IPv4 GSO skb is at most 64 KiB of IP packet, behind a vnet header, an
# Ethernet header and perhaps a VLAN tag.
VNET_RECV_SIZE = VNET_HDR_LEN + 18 + 65536

# Classic BPF for the ETH_P_ALL socket in "on" mode: everything but IPv4.
#   ldh [12]; jeq #0x0800, drop, keep; drop: ret #0; keep: ret #0x40000
NOT_IPV4_FILTER = (
    (0x28, 0, 0, 12),
    (0x15, 0, 1, ETH_P_IP),
    (0x06, 0, 0, 0),
    (0x06, 0, 0, 0x40000),
)


def packet_socket(
    ifname: str, proto: int, *, not_ipv4: bool = False, vnet_hdr: bool = False
) -> socket.socket:
    """A nonblocking AF_PACKET socket on ``ifname``, configured before it is bound.

    Created with protocol 0 so nothing queues before the bind (and the filter
    is in place first); ETH_P_ALL sockets skip their own sends and bypass the qdisc.
    """
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        if proto == ETH_P_ALL:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        if not_ipv4:
            attach_filter(s, NOT_IPV4_FILTER)
        if vnet_hdr:
            s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        set_buffer(s, socket.SO_RCVBUF, SO_RCVBUFFORCE)
        set_buffer(s, socket.SO_SNDBUF, SO_SNDBUFFORCE)
        s.bind((ifname, proto))
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


def attach_filter(s: socket.socket, prog: tuple[tuple[int, int, int, int], ...]) -> None:
    """SO_ATTACH_FILTER with a classic BPF program (struct sock_fprog)."""
    insns = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *i) for i in prog))
    fprog = struct.pack("HL", len(prog), ctypes.addressof(insns))
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def set_buffer(s: socket.socket, opt: int, force_opt: int) -> None:
    # The FORCE variants ignore net.core.[rw]mem_max (root only); fall back if refused.
    try:
        s.setsockopt(socket.SOL_SOCKET, force_opt, SOCKET_BUFFER)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
