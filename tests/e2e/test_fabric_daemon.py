"""The fabric daemon on real veths: two hosts in their namespaces, a hand-built plan.

client 10.0.1.10 (subnet a) and server 10.0.2.10 (subnet b); the server's
group allows tcp 8080 and ICMP from the VPC. The server listens on 8080 *and*
9090, so a connection to 9090 can only fail because the fabric drops it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pyroute2 import netns
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from hyperplane_emu.bench import topo
from hyperplane_emu.bench.lab import Lab
from hyperplane_emu.fabric.control import request
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize.netns import entered as in_netns

pytestmark = pytest.mark.root

NAME = "e2efab"
PREFIX = f"he-{NAME}-"
ALLOWED, DENIED = 8080, 9090


@dataclass
class Rig:
    lab: Lab
    plan: Plan
    state: Path
    daemon: subprocess.Popen[bytes]
    stop_servers: threading.Event

    @property
    def sock(self) -> str:
        return str(self.state / "fabric.sock")

    def ask(self, op: str, **args: object) -> dict[str, object]:
        answer = request(self.sock, op, **args)
        assert answer["ok"] is True, answer
        return answer

    def eni(self, owner: str) -> str:
        return next(e.id for e in self.plan.enis if e.owner == owner)

    def ns(self, owner: str) -> str:
        return next(e.namespace for e in self.plan.enis if e.owner == owner)


def connect(ns_name: str, ip: str, port: int, timeout: float = 1.5) -> str:
    """'connected', 'refused' or 'timeout' for a TCP connect from inside ``ns_name``."""
    with in_netns(ns_name):
        s = socket.socket()
    with s:
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "timeout"
        s.sendall(b"hello")
        assert s.recv(100) == b"hello"
        return "connected"


def _echo_once(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(10)
        try:
            data = conn.recv(100)
            if data:
                conn.sendall(data)
        except OSError:
            pass


def _serve(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_echo_once, args=(conn,), daemon=True).start()
    listener.close()


def wait_for(pred: object, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    state = tmp_path_factory.mktemp("fabric-state")
    plan = topo.two_host_plan(NAME, tcp_ports=[ALLOWED])
    topo.write_state(state, plan)
    stop = threading.Event()
    with Lab(PREFIX) as lab:
        topo.build(lab, plan)
        server_ns = next(e.namespace for e in plan.enis if e.owner == "server")
        for port in (ALLOWED, DENIED):
            with in_netns(server_ns):
                listener = socket.create_server(("0.0.0.0", port))
            threading.Thread(target=_serve, args=(listener, stop), daemon=True).start()
        log = (state / "fabric.log").open("wb")
        daemon = lab.popen(
            plan.fabric_namespace,
            [sys.executable, "-m", "hyperplane_emu.fabric.daemon", "--state-dir", str(state)],
            stderr=log,
        )
        wait_for(
            lambda: (state / "fabric.ready").exists() or daemon.poll() is not None,
            what="fabric.ready",
        )
        assert daemon.poll() is None, (state / "fabric.log").read_text()
        try:
            yield Rig(lab, plan, state, daemon, stop)
        finally:
            stop.set()
            lab.stop(daemon)
            log.close()
    left = [n for n in netns.listnetns() if n.startswith(PREFIX)]
    assert left == []


def test_control_socket_is_private(rig: Rig) -> None:
    assert (rig.state / "fabric.sock").stat().st_mode & 0o777 == 0o600
    assert rig.ask("ping")["pong"] is True
    assert Path(f"/proc/{rig.daemon.pid}/comm").read_text().strip() == "he-fabric"


def test_ping_through_the_fabric(rig: Rig) -> None:
    r = rig.lab.run(rig.ns("client"), ["ping", "-c", "2", "-i", "0.2", "-W", "2", topo.SERVER_IP])
    assert r.returncode == 0, r.stdout + r.stderr
    router = rig.lab.run(rig.ns("client"), ["ping", "-c", "1", "-W", "2", "10.0.1.1"])
    assert router.returncode == 0, router.stdout


def test_allowed_port_connects_denied_port_times_out(rig: Rig) -> None:
    assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "connected"
    # No RST, no ICMP: the SYN vanishes, as on AWS.
    assert connect(rig.ns("client"), topo.SERVER_IP, DENIED) == "timeout"
    counters = rig.ask("status")["counters"]
    assert counters["dropped.sg-ingress"] >= 1  # type: ignore[index]


def test_flow_logs_have_accept_and_reject(rig: Rig) -> None:
    assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "connected"
    assert connect(rig.ns("client"), topo.SERVER_IP, DENIED, timeout=0.5) == "timeout"
    assert rig.ask("flush_flow_logs")["records"] > 0  # type: ignore[operator]
    lines = (rig.state / "flow-logs" / f"{rig.eni('server')}.log").read_text().splitlines()
    fields = [x.split() for x in lines]
    accepted = [f for f in fields if f[3] == topo.CLIENT_IP and f[6] == str(ALLOWED)]
    rejected = [f for f in fields if f[3] == topo.CLIENT_IP and f[6] == str(DENIED)]
    assert accepted and all(f[12] == "ACCEPT" for f in accepted)
    assert rejected and all(f[12] == "REJECT" for f in rejected)
    assert all(f[1] == "111122223333" and f[2] == rig.eni("server") for f in fields)


def test_capture_contains_the_syn(rig: Rig, tmp_path: Path) -> None:
    path = tmp_path / "server.pcap"
    rig.ask("capture_start", eni=rig.eni("server"), path=str(path))
    assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "connected"
    frames = rig.ask("capture_stop", eni=rig.eni("server"))["frames"]
    assert frames >= 4  # type: ignore[operator]
    pkts = rdpcap(str(path))
    syns = [p for p in pkts if TCP in p and p[TCP].dport == ALLOWED and p[TCP].flags == "S"]
    assert syns, [p.summary() for p in pkts]
    assert syns[0][IP].src == topo.CLIENT_IP
    assert syns[0][IP].ttl == 63  # after the VPC router's hop
    # Both directions: the server's SYN-ACK is in the capture too.
    assert any(TCP in p and p[TCP].sport == ALLOWED and p[TCP].flags == "SA" for p in pkts)


def test_replace_sg_stops_new_connections_keeps_tracked_ones(rig: Rig) -> None:
    original = rig.plan.vpcs["main"].security_groups["server"]
    with in_netns(rig.ns("client")):
        kept = socket.socket()
    kept.settimeout(2)
    kept.connect((topo.SERVER_IP, ALLOWED))
    try:
        without = replace(
            original, rules=tuple(r for r in original.rules if r.from_port != ALLOWED)
        )
        answer = rig.ask("replace_sg", sg=json.loads(json.dumps(topo.group_json(without))))
        assert answer["sg_id"] == original.id
        assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "timeout"
        # The connection made before the change is tracked: it goes on (AWS).
        kept.sendall(b"still")
        assert kept.recv(100) == b"still"
    finally:
        kept.close()
        rig.ask("replace_sg", sg=topo.group_json(original))
    assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "connected"


def test_sigterm_flushes_and_removes_the_socket(rig: Rig) -> None:
    # Last test of the module: it ends the daemon.
    assert connect(rig.ns("client"), topo.SERVER_IP, ALLOWED) == "connected"
    assert rig.lab.stop(rig.daemon, timeout=10) == 0
    assert not (rig.state / "fabric.sock").exists()
    assert not (rig.state / "fabric.ready").exists()
    log = (rig.state / "fabric.log").read_text()
    assert "SIGTERM, stopping" in log
    # The window still open at SIGTERM was written out.
    client_log = (rig.state / "flow-logs" / f"{rig.eni('client')}.log").read_text()
    assert client_log.count("ACCEPT") >= 1
