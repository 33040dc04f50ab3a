"""The kernel fast path in a real topology: what users see does not change.

One iperf3 transfer through an NLB, with the fast path on and off: the flow logs
count the same packets and bytes (AWS counts wire packets; the kernel counts GSO
segments, Python segments super-frames itself). Captures of a virtual ENI still
see every packet (the kernel path pauses), a target that turns unhealthy still
has its connections reset, and `down` leaves no BPF object behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import unique_name, wait_for

import hyperplane_emu
from hyperplane_emu.fabric.ebpf import bpf_objects
from hyperplane_emu.fabric.pcapfile import read_pcap
from hyperplane_emu.soak.checks import bpf_ids, bpf_leftovers

pytestmark = pytest.mark.root

TOPOLOGY = """
name: NAME
region: us-east-1
vpcs:
  main:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      server:
        ingress: [{protocol: tcp, port: 5201-8080, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a, private_ip: 10.0.1.4}
      server: {subnet: a, security_groups: [server], private_ip: 10.0.1.10, serve: echo:8080}
    load_balancers:
      nlb:
        type: network
        subnets: [a]
        listeners: [{port: 5201, target_group: iperf}]
        target_groups:
          iperf:
            port: 5201
            targets: [server]
            # checks on the echo port: an iperf3 server takes one test at a time
            health_check: {protocol: tcp, port: 8080, interval: 300}
"""

TRANSFER = 24 << 20


@pytest.fixture
def bring_up(tmp_path: Path) -> Iterator[object]:
    started: list[hyperplane_emu.Topology] = []

    def make(fast_path: str) -> hyperplane_emu.Topology:
        name = unique_name("fp")
        path = tmp_path / f"{name}.yaml"
        path.write_text(TOPOLOGY.replace("NAME", name))
        t = hyperplane_emu.up(path, fast_path=fast_path)
        started.append(t)
        return t

    yield make
    for t in started:
        t.down()


SINK = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5201))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
n = 0
while b := c.recv(1 << 20):
    n += len(b)
c.close()
print(n, flush=True)
"""

SOURCE = """
import socket, sys
c = socket.create_connection((sys.argv[1], 5201), timeout=30)
c.sendall(bytes(int(sys.argv[2])))
c.shutdown(socket.SHUT_WR)
assert c.recv(1) == b""
"""


def _transfer(t: hyperplane_emu.Topology) -> dict[str, int]:
    """TRANSFER bytes client -> NLB -> server, every byte read by the server before
    either side closes; the server ENI's flow-log records of that connection."""
    nlb_ip = next(e.ip for e in t.plan.enis if e.kind == "nlb")
    ns = t.hosts["server"].namespace
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", SINK],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    rx = "cat /sys/class/net/eth0/statistics/rx_bytes"
    try:
        assert server.stdout is not None and server.stdout.readline() == "listening\n"
        rx_before = int(t.exec("server", rx).stdout)
        r = t.exec("client", [sys.executable, "-c", SOURCE, nlb_ip, str(TRANSFER)], timeout=60)
        assert r.returncode == 0, r.stderr
        assert int(server.stdout.readline()) == TRANSFER
        rx_bytes = int(t.exec("server", rx).stdout) - rx_before
    finally:
        server.kill()
        server.wait()
    records = [rec for rec in t.flow_logs("server") if rec.dstport == 5201]
    # A transfer can span aggregation windows: its records add up.
    return {
        "rx_bytes": rx_bytes,
        "packets": sum(rec.packets or 0 for rec in records),
        "bytes": sum(rec.bytes or 0 for rec in records),
    }


def test_flow_logs_count_the_same_transfer_the_same_in_both_modes(bring_up) -> None:  # type: ignore[no-untyped-def]
    fast = bring_up("auto")
    assert fast.status()["fabric"]["fast_path"].startswith("on")
    on = _transfer(fast)
    counters = fast.status()["fabric"]["counters"]
    # The kernel carried it (skbs: a GSO super-frame is one), Python saw the edges.
    assert counters["fastpath.kernel.forwarded"] > 100, counters
    assert counters["forwarded"] - counters["fastpath.kernel.forwarded"] < 100, counters
    fast.down()
    slow = bring_up("off")
    assert slow.status()["fabric"]["fast_path"] == "off (--fast-path off)"
    off = _transfer(slow)
    # Wire packets and IP bytes of the data direction: the same within 1 % (only
    # retransmissions could differ), and at least the payload plus its headers.
    print(f"flow log, kernel fast path: {on}; Python path: {off}")
    assert abs(on["bytes"] - off["bytes"]) <= 0.01 * off["bytes"], (on, off)
    assert abs(on["packets"] - off["packets"]) <= 0.01 * off["packets"], (on, off)
    for got in (on, off):
        assert got["bytes"] >= TRANSFER + 40 * got["packets"], (on, off)
        # The server's own interface counted them too (`ip -s link`: skbs, so a
        # TSO super-frame the kernel path hands over counts once; bytes are bytes).
        assert got["rx_bytes"] >= TRANSFER, (on, off)


def test_capture_of_the_nlb_node_pauses_the_kernel_path_and_sees_the_stream(
    bring_up,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    t = bring_up("auto")
    pcap = tmp_path / "nlb.pcap"
    node = next(e.id for e in t.plan.enis if e.kind == "nlb")
    with t.capture(node, path=pcap):
        assert t.status()["fabric"]["fast_path"].startswith("paused")
        got = _transfer(t)
    assert t.status()["fabric"]["fast_path"].startswith("on (kernel")
    with pcap.open("rb") as f:
        _, frames = read_pcap(f)
    payload = sum(max(0, len(r.data) - 66) for r in frames)  # Ethernet + IP + TCP (timestamps)
    assert payload >= TRANSFER, (payload, got)


def test_down_after_kill_leaves_no_bpf_object(bring_up) -> None:  # type: ignore[no-untyped-def]
    before = bpf_ids()
    t = bring_up("auto")
    ours = bpf_ids() - before
    assert {kind for kind, _, i in bpf_objects() if i in ours} == {"prog", "map"}
    pid = t.state.read_pids()["fabric"]
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_for(lambda: t.status()["fabric"]["health"] == "dead", what="status to say dead")
    t.down()
    # The program and maps go with the namespaces (freed asynchronously: polled).
    assert bpf_leftovers(before) == []
