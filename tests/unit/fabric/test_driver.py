"""Driver data path without root: SOCK_DGRAM socketpairs stand in for the veths."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_helpers import APP1, CLIENT, frame, make_plan, tcp
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.driver import Driver
from hyperplane_emu.fabric.pcapfile import read_pcap

APP1_ENI = "eni-00000000000000001"


class Link:
    """The host end of a fake veth: what the host sends, what it receives."""

    def __init__(self, host: socket.socket) -> None:
        self.host = host

    def send(self, data: bytes) -> None:
        self.host.send(data)

    def received(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self.host.recv(65536))
            except BlockingIOError:
                return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Driver, dict[int, Link]]]:
    plan = make_plan()
    drv = Driver(Fabric(plan, clock_start=1_700_000_000.0), plan, tmp_path, batch=4)
    drv.clock = lambda: 1_700_000_000.0
    links: dict[int, Link] = {}
    socks = []
    for e in plan.enis:
        fab_end, host_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        fab_end.setblocking(False)
        host_end.setblocking(False)
        drv.attach(e.port, fab_end)
        links[e.port] = Link(host_end)
        socks += [fab_end, host_end]
    yield drv, links
    drv.close()
    for s in socks:
        s.close()


def test_frames_are_forwarded_and_counted(rig: tuple[Driver, dict[int, Link]]) -> None:
    drv, links = rig
    links[CLIENT].send(frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    drv._drain(CLIENT)
    got = links[APP1].received()
    assert len(got) == 1
    assert Ether(got[0])[TCP].flags == "S"
    assert drv.rx[CLIENT] == 1 and drv.tx[APP1] == 1
    st = drv.status()
    assert st["counters"]["driver.rx"] == 1  # type: ignore[index]


def test_batch_limit_leaves_the_rest_for_the_next_wakeup(
    rig: tuple[Driver, dict[int, Link]],
) -> None:
    drv, links = rig
    for i in range(6):
        links[CLIENT].send(frame(CLIENT, "10.0.1.11", tcp(40000 + i, 8080, "S")))
    drv._drain(CLIENT)
    assert len(links[APP1].received()) == 4
    drv._drain(CLIENT)
    assert len(links[APP1].received()) == 2


def test_capture_mirrors_both_directions(
    rig: tuple[Driver, dict[int, Link]], tmp_path: Path
) -> None:
    drv, links = rig
    path = tmp_path / "app1.pcap"
    drv.capture_start(APP1_ENI, str(path))
    links[CLIENT].send(frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    drv._drain(CLIENT)
    links[APP1].send(frame(APP1, "10.0.1.10", tcp(8080, 40000, "SA")))
    drv._drain(APP1)
    links[CLIENT].send(frame(CLIENT, "10.0.1.10", tcp(1, 2, "S")))  # not app1's: not captured
    drv._drain(CLIENT)
    assert drv.capture_stop(APP1_ENI) == 2
    _, recs = read_pcap(path.open("rb"))
    flags = [str(Ether(r.data)[TCP].flags) for r in recs]
    assert flags == ["S", "SA"]
    # As seen on app1's veth: the SYN after the fabric's rewrite, the SYN-ACK as sent.
    assert Ether(recs[0].data).dst == "02:00:00:00:00:01"
    assert Ether(recs[1].data).src == "02:00:00:00:00:01"


def test_send_errors_are_counted_not_raised(rig: tuple[Driver, dict[int, Link]]) -> None:
    drv, links = rig
    links[APP1].host.close()  # the peer is gone: send fails
    links[CLIENT].send(frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    drv._drain(CLIENT)
    assert sum(drv.tx_errors.values()) == 1
    assert drv.tx[APP1] == 0


def test_tick_writes_closed_flow_log_windows(
    rig: tuple[Driver, dict[int, Link]], tmp_path: Path
) -> None:
    drv, links = rig
    links[CLIENT].send(frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    drv._drain(CLIENT)
    drv.tick(1_700_000_000.0 + 1)
    assert not (tmp_path / "flow-logs").exists()  # the 60 s window is still open
    drv.tick(1_700_000_000.0 + 61)
    lines = (tmp_path / "flow-logs" / f"{APP1_ENI}.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("ACCEPT OK")
