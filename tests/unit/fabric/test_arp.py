"""The VPC router answers ARP for its VPC with the asking ENI's fabric MAC."""

from __future__ import annotations

import pytest
from fabric_helpers import APP1, CLIENT, GHOST, fmac, mac
from scapy.layers.l2 import ARP, Ether

from hyperplane_emu.fabric.core import Fabric


def arp_request(port: int, spa: str, tpa: str, op: int = 1) -> bytes:
    return bytes(
        Ether(src=mac(port), dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=op, hwsrc=mac(port), psrc=spa, hwdst="00:00:00:00:00:00", pdst=tpa)
    )


@pytest.mark.parametrize(
    "target",
    ["10.0.1.11", "10.0.2.10", "10.0.1.1", "10.0.0.2", "10.0.99.99", "169.254.169.253"],
)
def test_reply_for_any_vpc_address(fab: Fabric, target: str) -> None:
    out = fab.handle(CLIENT, arp_request(CLIENT, "10.0.1.10", target), 1.0)
    assert len(out) == 1
    port, raw = out[0]
    assert port == CLIENT
    r = Ether(bytes(raw))
    assert r.dst == mac(CLIENT) and r.src == fmac(CLIENT)
    a = r[ARP]
    assert a.op == 2
    assert a.hwsrc == fmac(CLIENT) and a.psrc == target
    assert a.hwdst == mac(CLIENT) and a.pdst == "10.0.1.10"
    assert fab.counters["arp.replied"] == 1


def test_each_eni_gets_its_own_router_mac(fab: Fabric) -> None:
    ((_, raw),) = fab.handle(APP1, arp_request(APP1, "10.0.1.11", "10.0.1.10"), 1.0)
    assert Ether(bytes(raw))[ARP].hwsrc == fmac(APP1)
    ((_, raw),) = fab.handle(GHOST, arp_request(GHOST, "10.0.1.10", "10.0.1.11"), 1.0)
    assert Ether(bytes(raw))[ARP].hwsrc == fmac(GHOST)


@pytest.mark.parametrize(
    ("spa", "tpa", "op", "counter"),
    [
        ("10.0.1.10", "10.0.1.10", 1, "arp.arp-gratuitous"),
        ("0.0.0.0", "10.0.1.10", 1, "arp.own-address"),  # duplicate address probe
        ("10.0.1.10", "10.0.1.11", 2, "arp.arp-reply-ignored"),
        ("10.0.1.10", "192.0.2.1", 1, "arp.outside-vpc"),
        ("10.0.1.10", "169.254.169.254", 1, "arp.outside-vpc"),
    ],
)
def test_ignored_arp(fab: Fabric, spa: str, tpa: str, op: int, counter: str) -> None:
    assert fab.handle(CLIENT, arp_request(CLIENT, spa, tpa, op), 1.0) == []
    assert fab.counters[counter] == 1
    assert "arp.replied" not in fab.counters


def test_truncated_and_malformed_arp(fab: Fabric) -> None:
    good = arp_request(CLIENT, "10.0.1.10", "10.0.1.11")
    assert fab.handle(CLIENT, good[:30], 1.0) == []
    assert fab.counters["arp.arp-truncated"] == 1
    bad = good[:14] + b"\x00\x06" + good[16:]  # hardware type IEEE 802
    assert fab.handle(CLIENT, bad, 1.0) == []
    assert fab.counters["arp.arp-malformed"] == 1
