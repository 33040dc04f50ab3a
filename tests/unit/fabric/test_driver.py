"""Driver data path without root: SOCK_DGRAM socketpairs stand in for the veths."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_helpers import APP1, CLIENT, frame, make_plan, tcp
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.driver import Driver, OffloadMode
from hyperplane_emu.fabric.gso import F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6, pack_vnet_hdr
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


# ---------------------------------------------------------- offloads "on"

VNET_PLAIN = pack_vnet_hdr()


@pytest.fixture
def vrig(tmp_path: Path) -> Iterator[tuple[Driver, dict[int, Link], dict[int, Link]]]:
    """Each port gets a second pair standing in for the ETH_P_IP PACKET_VNET_HDR socket."""
    plan = make_plan()
    drv = Driver(Fabric(plan, clock_start=1_700_000_000.0), plan, tmp_path, batch=64)
    drv.clock = lambda: 1_700_000_000.0
    drv.offload_mode = OffloadMode.ON
    links: dict[int, Link] = {}
    vlinks: dict[int, Link] = {}
    socks = []
    for e in plan.enis:
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
        for a, b in pairs:
            a.setblocking(False)
            b.setblocking(False)
            socks += [a, b]
        drv.attach(e.port, pairs[0][0], pairs[1][0])
        links[e.port] = Link(pairs[0][1])
        vlinks[e.port] = Link(pairs[1][1])
    yield drv, links, vlinks
    drv.close()
    for s in socks:
        s.close()


def _gso_frame(data: bytes, mss: int, flags: str = "PA") -> bytes:
    hdr = pack_vnet_hdr(F_NEEDS_CSUM, GSO_TCPV4, 54, mss, 34, 16)
    return hdr + frame(CLIENT, "10.0.1.11", tcp(40000, 8080, flags, data))


def _valid_tcp(f: bytes) -> bool:
    ip = bytes(Ether(f)[IP])
    l4 = ip[20 : int.from_bytes(ip[2:4], "big")]
    return internet_checksum(ip[12:20] + b"\x00\x06" + len(l4).to_bytes(2, "big") + l4) == 0


def test_vnet_superframe_goes_through_the_core_as_wire_segments(
    vrig: tuple[Driver, dict[int, Link], dict[int, Link]],
) -> None:
    drv, links, vlinks = vrig
    vlinks[CLIENT].send(VNET_PLAIN + frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    data = bytes(range(256)) * 12  # 3072 bytes: 1000 + 1000 + 1000 + 72
    vlinks[CLIENT].send(_gso_frame(data, 1000, "FPA"))
    drv._drain_vnet(CLIENT)
    got = [Ether(f) for f in links[APP1].received()]
    assert [str(p[TCP].flags) for p in got] == ["S", "A", "A", "A", "FPA"]
    assert b"".join(bytes(p[TCP].payload) for p in got[1:]) == data
    assert all(_valid_tcp(bytes(p)) for p in got[1:])
    assert drv.rx[CLIENT] == 5 and drv.tx[APP1] == 5
    st = drv.status()
    assert st["offloads"] == "on"
    c = st["counters"]
    assert c["driver.rx-gso-frames"] == 1 and c["driver.rx-gso-segments"] == 4  # type: ignore[index]
    assert c["driver.rx"] == 5  # type: ignore[index]


def test_vnet_partial_checksum_is_completed_before_the_core(
    vrig: tuple[Driver, dict[int, Link], dict[int, Link]],
) -> None:
    drv, links, vlinks = vrig
    f = bytearray(frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S", b"hello")))
    # With tx checksum offload the field holds only the pseudo-header sum.
    l4len = len(f) - 34
    pseudo = bytes(f[26:34]) + b"\x00\x06" + l4len.to_bytes(2, "big")
    f[50:52] = (0xFFFF - internet_checksum(pseudo)).to_bytes(2, "big")
    assert not _valid_tcp(bytes(f))
    vlinks[CLIENT].send(pack_vnet_hdr(F_NEEDS_CSUM, 0, 0, 0, 34, 16) + bytes(f))
    drv._drain_vnet(CLIENT)
    (out,) = links[APP1].received()
    assert bytes(Ether(out)[TCP].payload) == b"hello"
    assert _valid_tcp(out)


def test_vnet_frames_that_cannot_be_normalized_are_counted(
    vrig: tuple[Driver, dict[int, Link], dict[int, Link]],
) -> None:
    drv, links, vlinks = vrig
    vlinks[CLIENT].send(pack_vnet_hdr(F_NEEDS_CSUM, GSO_TCPV6, 0, 1000, 54, 16) + b"\x00" * 100)
    drv._drain_vnet(CLIENT)
    assert links[APP1].received() == []
    assert drv.status()["counters"]["driver.gso-drop.gso-tcpv6"] == 1  # type: ignore[index]
    assert drv.rx[CLIENT] == 0


def test_vnet_capture_records_wire_frames(
    vrig: tuple[Driver, dict[int, Link], dict[int, Link]], tmp_path: Path
) -> None:
    drv, links, vlinks = vrig
    path = tmp_path / "client.pcap"
    drv.capture_start("eni-00000000000000000", str(path))
    vlinks[CLIENT].send(VNET_PLAIN + frame(CLIENT, "10.0.1.11", tcp(40000, 8080, "S")))
    vlinks[CLIENT].send(_gso_frame(b"x" * 2500, 1000))
    drv._drain_vnet(CLIENT)
    assert drv.capture_stop("eni-00000000000000000") == 4
    _, recs = read_pcap(path.open("rb"))
    assert [len(Ether(r.data)[TCP].payload) for r in recs] == [0, 1000, 1000, 500]
    assert all(_valid_tcp(r.data) for r in recs[1:])


def test_non_ipv4_still_uses_the_plain_socket_in_on_mode(
    vrig: tuple[Driver, dict[int, Link], dict[int, Link]],
) -> None:
    drv, links, vlinks = vrig
    arp = bytes(
        Ether(src="02:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc="02:00:00:00:00:00", psrc="10.0.1.10", pdst="10.0.1.1")
    )
    links[CLIENT].send(arp)
    drv._drain(CLIENT)
    (reply,) = links[CLIENT].received()
    assert Ether(reply)[ARP].op == 2


@pytest.mark.parametrize("mode", ["on", "off"])
def test_open_sets_both_ends_of_every_veth_for_the_mode(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hyperplane_emu.fabric import driver as drvmod

    calls: list[tuple[str, str, str | None]] = []
    monkeypatch.setattr(drvmod, "enable_offloads", lambda i, ns=None: calls.append(("on", i, ns)))
    monkeypatch.setattr(drvmod, "disable_offloads", lambda i, ns=None: calls.append(("off", i, ns)))
    plan = make_plan()
    drv = Driver(Fabric(plan, clock_start=0.0), plan, tmp_path)
    drv._set_link_offloads(OffloadMode(mode))
    want = []
    for e in plan.enis:
        want += [(mode, e.fabric_ifname, None), (mode, e.ifname, e.namespace)]
    assert calls == want
