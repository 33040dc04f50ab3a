"""The fabric daemon with ``--offloads on`` and no eBPF program: the pure Python
slow path reading PACKET_VNET_HDR super frames must deliver what a NIC would.

client 10.0.1.10 -- fabric -- server 10.0.2.10, MTU 1500, TSO/GSO/tx checksum
on at both ends of both veths. The client's TCP stack hands its veth 64 KiB
frames with partial checksums; the server must get intact data, and the flow
log must count wire packets (the server interface's rx_packets), not skbs.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import wait_for
from pyroute2 import NetNS
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from hyperplane_emu.bench import topo
from hyperplane_emu.bench.lab import Lab
from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.control import request
from hyperplane_emu.fabric.offload import get_offloads
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize.netns import entered as in_netns

pytestmark = pytest.mark.root

NAME = "e2evnet"
PREFIX = f"he-{NAME}-"
BULK, UDP_PORT = 8080, 8081
MTU = 1500


@dataclass
class Rig:
    lab: Lab
    plan: Plan
    state: Path
    daemon: subprocess.Popen[bytes]

    def counters(self) -> dict[str, int]:
        c = self.ask("status")["counters"]
        assert isinstance(c, dict)
        return c

    def ask(self, op: str, **args: object) -> dict[str, object]:
        answer = request(str(self.state / "fabric.sock"), op, **args)  # type: ignore[arg-type]
        assert answer["ok"] is True, answer
        return answer

    def eni(self, owner: str) -> str:
        return next(e.id for e in self.plan.enis if e.owner == owner)

    def ns(self, owner: str) -> str:
        return next(e.namespace for e in self.plan.enis if e.owner == owner)


def rx_packets(ns_name: str, ifname: str = "eth0") -> int:
    with NetNS(ns_name, flags=0) as ns:
        link = ns.get_links(ns.link_lookup(ifname=ifname)[0])[0]
        return int(link.get("IFLA_STATS64")["rx_packets"])


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    state = tmp_path_factory.mktemp("fabric-vnet")
    plan = topo.two_host_plan(NAME, mtu=MTU, tcp_ports=[BULK], udp_ports=[UDP_PORT])
    topo.write_state(state, plan)
    with Lab(PREFIX) as lab:
        topo.build(lab, plan)  # offloads off, as realize leaves them: the daemon turns them on
        log = (state / "fabric.log").open("wb")
        argv = [sys.executable, "-m", "hyperplane_emu.fabric.daemon", "--state-dir", str(state)]
        argv += ["--fast-path", "off", "--offloads", "on"]  # the Python path itself, offloads on
        daemon = lab.popen(plan.fabric_namespace, argv, stderr=log)
        wait_for(
            lambda: (state / "fabric.ready").exists() or daemon.poll() is not None,
            timeout=10.0,
            what="fabric.ready",
        )
        assert daemon.poll() is None, (state / "fabric.log").read_text()
        try:
            yield Rig(lab, plan, state, daemon)
        finally:
            lab.stop(daemon)
            log.close()


def test_both_ends_have_offloads_on(rig: Rig) -> None:
    assert rig.ask("status")["offloads"] == "on"
    for e in rig.plan.enis:
        for ifname, ns in ((e.ifname, e.namespace), (e.fabric_ifname, rig.plan.fabric_namespace)):
            got = get_offloads(ifname, ns)
            assert got["tso"] and got["gso"] and got["tx-checksum"], (ifname, got)


def test_ping_and_arp_go_through_the_filtered_socket(rig: Rig) -> None:
    r = rig.lab.run(rig.ns("client"), ["ping", "-c", "2", "-i", "0.2", "-W", "2", topo.SERVER_IP])
    assert r.returncode == 0, r.stdout + r.stderr
    # ARP came through the ETH_P_ALL socket (the core answered for the router).
    assert rig.counters()["arp.replied"] >= 1


def _receive_all(listener: socket.socket, out: dict[str, object]) -> None:
    conn, _ = listener.accept()
    h = hashlib.sha256()
    n = 0
    with conn:
        conn.settimeout(20)
        while chunk := conn.recv(1 << 20):
            h.update(chunk)
            n += len(chunk)
    out["sha"] = h.hexdigest()
    out["bytes"] = n


def test_tcp_bulk_arrives_intact_and_flow_log_counts_wire_packets(rig: Rig) -> None:
    data = os.urandom(8 << 20)
    with in_netns(rig.ns("server")):
        listener = socket.create_server(("0.0.0.0", BULK))
    got: dict[str, object] = {}
    t = threading.Thread(target=_receive_all, args=(listener, got), daemon=True)
    t.start()
    before = rx_packets(rig.ns("server"))
    st0 = rig.counters()
    with in_netns(rig.ns("client")):
        c = socket.socket()
    with c:
        c.settimeout(20)
        c.connect((topo.SERVER_IP, BULK))
        sport = c.getsockname()[1]
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        t.join(30)
    listener.close()
    assert got.get("bytes") == len(data)
    assert got["sha"] == hashlib.sha256(data).hexdigest()
    delivered = rx_packets(rig.ns("server")) - before
    st = rig.counters()
    # The client really sent super frames, and Python cut them into wire frames.
    gso = st["driver.rx-gso-frames"] - st0.get("driver.rx-gso-frames", 0)
    segs = st["driver.rx-gso-segments"] - st0.get("driver.rx-gso-segments", 0)
    assert gso > 0 and segs > 2 * gso, st
    assert not [k for k in st if k.startswith("driver.gso-drop")], st
    rig.ask("flush_flow_logs")
    lines = (rig.state / "flow-logs" / f"{rig.eni('server')}.log").read_text().splitlines()
    recs = [x.split() for x in lines]
    inbound = [f for f in recs if f[3] == topo.CLIENT_IP and f[5] == str(sport)]
    assert inbound, lines
    packets = sum(int(f[8]) for f in inbound)
    nbytes = sum(int(f[9]) for f in inbound)
    # Every frame the server's interface received is one the flow log counted
    # (plus at most an ARP exchange or two).
    assert delivered - 4 <= packets <= delivered, (packets, delivered)
    assert packets >= len(data) // (MTU - 40)
    assert len(data) < nbytes < len(data) * 1.05


def test_udp_with_partial_checksum_is_completed(rig: Rig) -> None:
    with in_netns(rig.ns("server")):
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with in_netns(rig.ns("client")):
        cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with srv, cli:
        srv.bind(("0.0.0.0", UDP_PORT))
        srv.settimeout(5)
        for size in (1, 333, 1472):
            msg = os.urandom(size)
            cli.sendto(msg, (topo.SERVER_IP, UDP_PORT))
            # A wrong checksum would be dropped by the server's stack: recv times out.
            assert srv.recv(4096) == msg


def test_capture_holds_wire_frames_with_valid_checksums(rig: Rig, tmp_path: Path) -> None:
    path = tmp_path / "server.pcap"
    rig.ask("capture_start", eni=rig.eni("server"), path=str(path))
    with in_netns(rig.ns("server")):
        listener = socket.create_server(("0.0.0.0", BULK))
    data = os.urandom(300_000)
    got: dict[str, object] = {}
    t = threading.Thread(target=_receive_all, args=(listener, got), daemon=True)
    t.start()
    with in_netns(rig.ns("client")):
        c = socket.socket()
    with c:
        c.settimeout(20)
        c.connect((topo.SERVER_IP, BULK))
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        t.join(30)
    listener.close()
    assert got.get("bytes") == len(data)
    frames = rig.ask("capture_stop", eni=rig.eni("server"))["frames"]
    assert isinstance(frames, int)
    pkts = [p for p in rdpcap(str(path)) if TCP in p and p[TCP].dport == BULK]
    assert frames >= len(pkts) >= len(data) // (MTU - 40)
    for p in pkts:
        raw = bytes(p)
        assert len(raw) <= MTU + 14
        ip = bytes(p[IP])
        l4 = ip[20 : p[IP].len]
        pseudo = ip[12:20] + b"\x00\x06" + len(l4).to_bytes(2, "big")
        assert internet_checksum(pseudo + l4) == 0, p.summary()
    payload = sum(len(p[TCP].payload) for p in pkts if p[IP].src == topo.CLIENT_IP)
    assert payload >= len(data)  # both sides of the veth: what came in, what went out
