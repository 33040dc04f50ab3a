"""The fabric's IO shell: AF_PACKET sockets, epoll, timers, flow-log files, captures.

Everything that decides lives in `core.Fabric`; this module only moves frames
between the fabric-side veths and `Fabric.handle`, and owns the clock.

One raw socket per host ENI, bound to the ENI's ``fabric_ifname``:

- created with protocol 0 and then bound with ETH_P_ALL, so it never queues
  frames of *other* interfaces in the instant between socket() and bind();
- PACKET_IGNORE_OUTGOING: a frame we send on a veth is not looped back to us;
- PACKET_QDISC_BYPASS: sent frames go straight to the veth's xmit (no qdisc
  queue to build up, one lock less per frame);
- SO_RCVBUFFORCE / SO_SNDBUFFORCE (root): 32 MiB, so a burst a Python loop
  cannot follow at once is queued, not dropped;
- nonblocking; each wakeup drains up to ``batch`` frames from a ready socket
  before going back to epoll (level-triggered, so a socket with frames left is
  reported again: ports are served round-robin).

Frames are read with ``recv()`` into a fresh ``bytes``, not ``recv_into`` a
preallocated buffer: `Fabric.handle` works on ``bytes`` (it converts anything
else), so a shared buffer would cost one more copy per frame (measured: 1.25
vs 1.09 us per 64-byte frame on a socketpair) and the fast path's output is a
new ``bytearray`` anyway. Profile of a 9001-MTU TCP stream (perf, py-spy):
~75 % of the fabric's CPU is kernel time, 60 % inside ``send()``, most of it
the *receiving host's* TCP stack, which the veth runs in the sender's softirq;
Python (core + this loop) is ~20 %.

Offloads (`OffloadMode`): "off" (the default) is all of the above, with
TSO/GSO/GRO/tx checksum off on both ends of every veth, so every frame is a
wire frame. "on" keeps TSO, GSO and tx checksum on (what an eBPF fast path at
kernel speed needs) and gives each port a second socket: bound to ETH_P_IP
with PACKET_VNET_HDR, so IPv4 arrives *after* tc ingress (frames a tc program
redirected never reach Python, where an ETH_P_ALL tap would see and re-send
them) and with the GSO metadata `gso.normalize` needs to turn each skb back
into the wire frames it stands for. The ETH_P_ALL socket stays, for sending
(plain wire frames, no header) and for everything that is not IPv4 (ARP,
IPv6, odd frames), with a classic BPF filter that drops IPv4 so it never
arrives twice.

Single-threaded: the control socket (`control.py`) is served from the same
epoll loop through `add_reader`, so the core is never touched by two threads.
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from hyperplane_emu.plan.model import Plan, PlanNetworkAcl, PlanSecurityGroup

from .core import Fabric
from .events import TraceHop
from .gso import VNET_HDR_LEN, normalize
from .offload import disable_offloads, enable_offloads
from .pcapfile import PcapWriter
from .sockets import ETH_P_ALL, ETH_P_IP, VNET_RECV_SIZE, packet_socket

log = logging.getLogger("hyperplane_emu.fabric.driver")

RECV_SIZE = 65536  # larger than any MTU-sized frame; an offload leak shows up as a big frame
TICK_INTERVAL = 0.25  # Fabric.tick at least this often (brief: <= 0.5 s)
DEFAULT_BATCH = 256


class OffloadMode(enum.Enum):
    """How the fabric's veths and sockets handle segmentation/checksum offloads."""

    OFF = "off"  # offloads off on both ends; one ETH_P_ALL socket per port
    ON = "on"  # offloads on; PACKET_VNET_HDR ETH_P_IP socket + filtered ETH_P_ALL socket


class Driver:
    """Moves frames between AF_PACKET sockets and a `Fabric`; owns files and timers.

    Construction opens nothing (so the control logic can be unit-tested without
    root); `open()` creates the sockets, `run()` loops until `stop()`.
    """

    def __init__(
        self,
        fabric: Fabric,
        plan: Plan,
        state_dir: str | Path,
        *,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fabric = fabric
        self.plan = plan
        self.state_dir = Path(state_dir)
        self.batch = batch
        self.clock = clock
        self.started = clock()
        # Every ENI that is a veth: hosts, NLB nodes (health checks), resolvers.
        self.host_enis = [e for e in plan.enis if e.port >= 0]
        nports = max((e.port for e in self.host_enis), default=-1) + 1
        self._socks: list[socket.socket | None] = [None] * nports
        self._sends: list[Callable[[Any], int]] = [_no_send] * nports
        self._vnet_socks: list[socket.socket | None] = [None] * nports
        self.offload_mode = OffloadMode.OFF
        self.gso_frames = 0  # "on" mode: GSO skbs received, and the segments they made
        self.gso_segments = 0
        self.gso_drops: dict[str, int] = {}
        self.rx = [0] * nports
        self.tx = [0] * nports
        self.tx_errors: dict[str, int] = {}
        self.rx_errors: dict[str, int] = {}
        self.captures: dict[int, tuple[str, PcapWriter]] = {}  # port -> (path, writer)
        # Virtual ENIs (endpoints) and NLB nodes: the core mirrors their frames.
        self.mirrors: dict[str, tuple[str, PcapWriter]] = {}  # eni id -> (path, writer)
        self._flow_log_files: dict[str, IO[str]] = {}
        self.flow_log_lines = 0
        self._epoll: select.epoll | None = None
        self._readers: dict[int, Callable[[], None]] = {}
        self._stopping = False
        self._next_tick = 0.0

    # ------------------------------------------------------------ lifecycle

    def open(
        self, *, offloads: OffloadMode | str = OffloadMode.OFF, set_links: bool = True
    ) -> None:
        """Open the sockets of every host ENI (inside the fabric namespace) and the epoll set.

        ``set_links``: first set the offloads of both ends of every ENI veth
        (host end in its namespace) to match ``offloads``.
        """
        mode = OffloadMode(offloads)
        self.offload_mode = mode
        self._epoll = select.epoll()
        if set_links:
            self._set_link_offloads(mode)
        on = mode is OffloadMode.ON
        for eni in self.host_enis:
            s = packet_socket(eni.fabric_ifname, ETH_P_ALL, not_ipv4=on)
            v = packet_socket(eni.fabric_ifname, ETH_P_IP, vnet_hdr=True) if on else None
            self.attach(eni.port, s, v)
            self.add_reader(s.fileno(), lambda port=eni.port: self._drain(port))  # type: ignore[misc]
            if v is not None:
                self.add_reader(v.fileno(), lambda port=eni.port: self._drain_vnet(port))  # type: ignore[misc]
        log.info("fabric driver: %d ports open, offloads %s", len(self.host_enis), mode.value)

    def _set_link_offloads(self, mode: OffloadMode) -> None:
        for eni in self.host_enis:
            if mode is OffloadMode.ON:
                enable_offloads(eni.fabric_ifname)
                enable_offloads(eni.ifname, eni.namespace)
            else:
                disable_offloads(eni.fabric_ifname)
                disable_offloads(eni.ifname, eni.namespace)

    def attach(self, port: int, sock: socket.socket, vnet: socket.socket | None = None) -> None:
        """Use ``sock`` (nonblocking, one frame per datagram) as ``port``'s link.

        `open()` attaches AF_PACKET sockets; tests attach a SOCK_DGRAM socketpair
        end, which keeps frame boundaries the same way, to run the data path
        without root. ``vnet``: the receive-only socket whose datagrams are a
        vnet header + frame (`_drain_vnet`), in "on" mode.
        """
        self._socks[port] = sock
        self._sends[port] = sock.send
        if vnet is not None:
            self._vnet_socks[port] = vnet

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` when ``fd`` is readable (control socket, signal pipe…)."""
        assert self._epoll is not None, "open() first"
        self._readers[fd] = callback
        self._epoll.register(fd, select.EPOLLIN)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None and self._epoll is not None:
            self._epoll.unregister(fd)

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        assert self._epoll is not None, "open() first"
        poll = self._epoll.poll
        readers = self._readers
        clock = self.clock
        self._next_tick = clock() + TICK_INTERVAL
        while not self._stopping:
            timeout = max(0.0, self._next_tick - clock())
            for fd, _ in poll(timeout):
                cb = readers.get(fd)
                if cb is not None:
                    cb()
            now = clock()
            if now >= self._next_tick:
                self.tick(now)
                self._next_tick = now + TICK_INTERVAL

    def close(self) -> None:
        """Flush flow logs and captures, close everything. Idempotent."""
        self.flush_flow_logs()
        self.fabric.fastpath.close()
        for eni_id in list(self.mirrors):
            self.capture_stop(eni_id)
        for port in list(self.captures):
            self._stop_capture(port)
        for f in self._flow_log_files.values():
            f.close()
        self._flow_log_files.clear()
        for i, s in enumerate(self._socks):
            if s is not None:
                s.close()
                self._socks[i] = None
                self._sends[i] = _no_send
        for i, s in enumerate(self._vnet_socks):
            if s is not None:
                s.close()
                self._vnet_socks[i] = None
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        self._readers.clear()

    # ----------------------------------------------------------- data path

    def _drain(self, port: int) -> None:
        """Up to ``batch`` frames from one ready socket through the core."""
        if self.captures or self.mirrors:
            return self._drain_capturing(port)
        sock = self._socks[port]
        assert sock is not None
        recv = sock.recv
        handle = self.fabric.handle
        sends = self._sends
        tx = self.tx
        now = self.clock()
        n = 0
        batch = self.batch
        try:
            while n < batch:
                frame = recv(RECV_SIZE)
                n += 1
                for out_port, out in handle(port, frame, now):
                    try:
                        sends[out_port](out)
                        tx[out_port] += 1
                    except OSError as e:
                        self._tx_error(e)
        except BlockingIOError:
            pass
        except OSError as e:  # the veth went away (ENETDOWN, ENXIO): keep serving the rest
            self._rx_error(port, e)
        self.rx[port] += n

    def _drain_capturing(self, port: int) -> None:
        """The same loop, plus mirroring into the pcap of any captured port."""
        sock = self._socks[port]
        assert sock is not None
        now = self.clock()
        stamp = time.time_ns()
        n = 0
        try:
            while n < self.batch:
                frame = sock.recv(RECV_SIZE)
                n += 1
                self._one_captured(port, frame, now, stamp)
        except BlockingIOError:
            pass
        except OSError as e:  # the veth went away (ENETDOWN, ENXIO): keep serving the rest
            self._rx_error(port, e)
        self.rx[port] += n

    def _one_captured(self, port: int, frame: bytes, now: float, stamp: int) -> None:
        caps = self.captures
        cap = caps.get(port)
        if cap is not None:
            cap[1].write(frame, stamp)
        for out_port, out in self.fabric.handle(port, frame, now):
            cap = caps.get(out_port)
            try:
                self._sends[out_port](out)
                self.tx[out_port] += 1
            except OSError as e:
                self._tx_error(e)
                continue
            if cap is not None:
                cap[1].write(out, stamp)
        if self.mirrors:
            for eni_id, copy in self.fabric.drain_mirror():
                m = self.mirrors.get(eni_id)
                if m is not None:
                    m[1].write(copy, stamp)

    def _drain_vnet(self, port: int) -> None:
        """Offloads on: up to ``batch`` skbs (vnet header + frame) from the IPv4 socket.

        Each skb becomes the wire frames it stands for (`gso.normalize`), and
        each of those goes through the core (and into captures) on its own, so
        conntrack, flow logs and pcaps count wire packets. ``rx`` counts them too.
        """
        sock = self._vnet_socks[port]
        assert sock is not None
        recv = sock.recv
        handle = self.fabric.handle
        sends = self._sends
        tx = self.tx
        drops = self.gso_drops
        capturing = bool(self.captures or self.mirrors)
        now = self.clock()
        stamp = time.time_ns()
        n = frames = 0
        batch = self.batch
        try:
            while n < batch:
                data = recv(VNET_RECV_SIZE)
                n += 1
                if data[0] or data[1]:  # NEEDS_CSUM / DATA_VALID, or a GSO type
                    wire = normalize(data, data[VNET_HDR_LEN:], drops)
                    if data[1]:
                        self.gso_frames += 1
                        self.gso_segments += len(wire)
                else:
                    wire = [data[VNET_HDR_LEN:]]
                for frame in wire:
                    frames += 1
                    if capturing:
                        self._one_captured(port, frame, now, stamp)
                        continue
                    for out_port, out in handle(port, frame, now):
                        try:
                            sends[out_port](out)
                            tx[out_port] += 1
                        except OSError as e:
                            self._tx_error(e)
        except BlockingIOError:
            pass
        except OSError as e:
            self._rx_error(port, e)
        self.rx[port] += frames

    def _rx_error(self, port: int, e: OSError) -> None:
        name = errno.errorcode.get(e.errno or 0, str(e.errno))
        self.rx_errors[name] = self.rx_errors.get(name, 0) + 1
        if self.rx_errors[name] == 1:
            log.warning("port %d: receive failed: %s", port, e)

    def _tx_error(self, e: OSError) -> None:
        # ENOBUFS (send buffer full) or EMSGSIZE (a frame above the MTU, i.e. an
        # offload left on): the frame is lost, as on a congested link; count it.
        name = errno.errorcode.get(e.errno or 0, str(e.errno))
        self.tx_errors[name] = self.tx_errors.get(name, 0) + 1

    # -------------------------------------------------------------- timers

    def tick(self, now: float | None = None) -> None:
        """Core timers, then write closed flow-log windows and flush captures."""
        self.fabric.tick(self.clock() if now is None else now)
        self._write_flow_logs()
        for _, w in self.captures.values():
            w.flush()

    def flush_flow_logs(self) -> int:
        """Close the current window now and write its records; returns how many."""
        self.fabric.flush_flow_logs(self.clock())
        return self._write_flow_logs()

    def _write_flow_logs(self) -> int:
        records = self.fabric.drain_flow_logs()
        if not records:
            return 0
        touched: set[str] = set()
        for rec in records:
            f = self._flow_log_files.get(rec.eni_id)
            if f is None:
                d = self.state_dir / "flow-logs"
                d.mkdir(parents=True, exist_ok=True)
                f = open(d / f"{rec.eni_id}.log", "a", encoding="utf-8")  # noqa: SIM115
                self._flow_log_files[rec.eni_id] = f
            f.write(rec.line + "\n")
            touched.add(rec.eni_id)
        for eni_id in touched:
            self._flow_log_files[eni_id].flush()
        self.flow_log_lines += len(records)
        return len(records)

    # -------------------------------------------------- control operations

    def status(self) -> dict[str, object]:
        counters = self.fabric.counters
        counters["driver.rx"] = sum(self.rx)
        counters["driver.tx"] = sum(self.tx)
        counters["driver.flow-log-lines"] = self.flow_log_lines
        for name, n in self.tx_errors.items():
            counters[f"driver.tx-error.{name}"] = n
        for name, n in self.rx_errors.items():
            counters[f"driver.rx-error.{name}"] = n
        if self.offload_mode is OffloadMode.ON:
            counters["driver.rx-gso-frames"] = self.gso_frames
            counters["driver.rx-gso-segments"] = self.gso_segments
            for name, n in self.gso_drops.items():
                counters[f"driver.gso-drop.{name}"] = n
        return {
            "counters": counters,
            "fast_path": self.fabric.fastpath.describe(),
            "flows": self.fabric.conntrack.count,
            "ports": [
                {
                    "port": e.port,
                    "eni": e.id,
                    "ifname": e.fabric_ifname,
                    "host": e.owner,
                    "ip": e.ip,
                    "rx": self.rx[e.port],
                    "tx": self.tx[e.port],
                    "capture": self.captures[e.port][0] if e.port in self.captures else None,
                }
                for e in self.host_enis
            ],
            "offloads": self.offload_mode.value,
            "uptime": round(self.clock() - self.started, 3),
            "pid": os.getpid(),
        }

    def conntrack(self) -> list[dict[str, object]]:
        return self.fabric.conntrack_dump(self.clock())

    def set_target_health(
        self, load_balancer: str, target_group: str, target: str, state: str, reason: str
    ) -> None:
        self.fabric.set_target_health(load_balancer, target_group, target, state, reason)

    def set_endpoint_state(self, endpoint_id: str, state: str) -> None:
        self.fabric.set_endpoint_state(endpoint_id, state)

    def load_balancers(self) -> list[dict[str, object]]:
        return self.fabric.load_balancer_status()

    def trace_start(self, addresses: list[str]) -> None:
        """Trace new flows from/to `addresses` (every flow when empty) until trace_stop."""
        self.fabric.events.clear()
        if addresses:
            for a in addresses:
                self.fabric.trace_address(a)
        else:
            self.fabric.trace = True

    def trace_stop(self) -> list[dict[str, object]]:
        self.fabric.trace = False
        self.fabric.trace_addresses.clear()
        hops: list[dict[str, object]] = []
        for ev in self.fabric.events:
            if isinstance(ev, TraceHop):
                hops.append(
                    {
                        "time": ev.time,
                        "flow": str(ev.flow),
                        "step": ev.step,
                        "where": ev.where,
                        "action": ev.action,
                        "detail": ev.detail,
                    }
                )
        self.fabric.events.clear()
        return hops

    def nat_origin(
        self, vpc: str, proto: int, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, object] | None:
        return self.fabric.nat_origin(vpc, proto, src, sport, dst, dport)

    def replace_sg(self, sg: PlanSecurityGroup) -> None:
        known = {g.id for v in self.plan.vpcs.values() for g in v.security_groups.values()}
        if sg.id not in known:
            raise KeyError(f"unknown security group {sg.id}")
        self.fabric.replace_security_group(sg)

    def replace_nacl(self, acl: PlanNetworkAcl) -> int:
        known = {a.id for v in self.plan.vpcs.values() for a in v.network_acls.values()}
        if acl.id not in known:
            raise KeyError(f"unknown network ACL {acl.id}")
        return self.fabric.replace_network_acl(acl)

    def capture_start(self, eni_id: str, path: str) -> None:
        eni = next((e for e in self.plan.enis if e.id == eni_id), None)
        if eni is not None and (eni.port < 0 or eni.kind == "nlb"):
            # No veth carries these frames (an NLB node's veth only carries its
            # health checks, which are captured too): the core copies them.
            if eni_id in self.mirrors:
                raise ValueError(f"{eni_id} is already being captured to {self.mirrors[eni_id][0]}")
            writer = PcapWriter.open(path)
            self.mirrors[eni_id] = (path, writer)
            self.fabric.mirror_start(eni_id)
            if eni.port >= 0:
                self.captures[eni.port] = (path, writer)
            self._pause_kernel()
            return
        port = self._port_of(eni_id)
        if port in self.captures:
            raise ValueError(f"{eni_id} is already being captured to {self.captures[port][0]}")
        self.captures[port] = (path, PcapWriter.open(path))
        self._pause_kernel()

    def _pause_kernel(self) -> None:
        """A capture must see every packet: the kernel's fast path passes them all to
        Python while one runs (the flows stay installed, and resume after)."""
        self.fabric.fastpath.set_enabled(not (self.captures or self.mirrors))

    def capture_stop(self, eni_id: str) -> int:
        """Stop capturing ``eni_id``; returns the number of frames written."""
        if eni_id in self.mirrors:
            self.fabric.mirror_stop(eni_id)
            _, w = self.mirrors.pop(eni_id)
            for port, (_, pw) in list(self.captures.items()):
                if pw is w:
                    del self.captures[port]
            w.close()
            self._pause_kernel()
            return w.frames
        port = self._port_of(eni_id)
        if port not in self.captures:
            raise ValueError(f"{eni_id} is not being captured")
        return self._stop_capture(port)

    def _stop_capture(self, port: int) -> int:
        _, w = self.captures.pop(port)
        w.close()
        self._pause_kernel()
        return w.frames

    def _port_of(self, eni_id: str) -> int:
        for e in self.host_enis:
            if e.id == eni_id:
                return e.port
        raise KeyError(f"unknown ENI {eni_id} (or not a host ENI)")


def _no_send(frame: Any) -> int:
    raise OSError(errno.ENODEV, "port has no socket")
