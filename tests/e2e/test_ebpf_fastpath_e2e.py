"""The eBPF fast path on real veths, without the fabric: a -- f -- b.

he-ebpf-a (10.91.1.2) and he-ebpf-b (10.91.2.2) are joined through he-ebpf-f, where
`KernelFlows` is attached to tc ingress of both f-side veths. Neighbours are static,
so nothing needs ARP. The "VIP" 10.91.9.9 exists only in the fast path's map: a
packet to it reaches b only if the program rewrote and redirected it (f has no route
for it). For TCP the handshake and FIN need a slow path: here f's kernel forwards
with a conntrack NAT that chooses exactly the rewrite the map holds (ip_forward=1 in
this test namespace only; the real fabric keeps it 0). Offloads stay on, so TCP
data crosses as GSO super-frames with partial checksums.

Every frame b receives is captured (AF_PACKET with PACKET_AUXDATA) and its checksums
verified: in full, or for a partially checksummed frame, the pseudo-header sum the
device would complete from.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hyperplane_emu.fabric.checksum import internet_checksum
from hyperplane_emu.fabric.ebpf import (
    FastPathUnavailable,
    FlowAction,
    KernelFlows,
    MapFull,
    bpf_objects,
)
from hyperplane_emu.fabric.ebpf.build import build
from hyperplane_emu.realize.netns import run_in

pytestmark = pytest.mark.root

NS_A, NS_F, NS_B = "he-ebpf-a", "he-ebpf-f", "he-ebpf-b"
MAC = {
    "a0": bytes.fromhex("0200aeb00001"),
    "fa": bytes.fromhex("0200aeb0000a"),
    "fb": bytes.fromhex("0200aeb0000b"),
    "b0": bytes.fromhex("0200aeb00002"),
}
A, B, VIP, NLB = "10.91.1.2", "10.91.2.2", "10.91.9.9", "10.91.2.100"
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_CSUMNOTREADY = 1 << 3
ETH_P_ALL = 0x0003
SO_NO_CHECK = 11


def mac_str(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def sh(*argv: str) -> None:
    """Run a command; one string argument is split on spaces."""
    args = argv[0].split() if len(argv) == 1 else list(argv)
    subprocess.run(args, check=True, capture_output=True, text=True)


def tup(src: str, dst: str, sport: int, dport: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


@dataclass
class Rig:
    ifindex: dict[str, int]  # fa, fb inside he-ebpf-f

    def in_a(self, fn: Callable[[], Any]) -> Any:
        return run_in(NS_A, fn)

    def in_b(self, fn: Callable[[], Any]) -> Any:
        return run_in(NS_B, fn)

    def load(self, max_flows: int = 1024) -> KernelFlows:
        return run_in(NS_F, lambda: KernelFlows.load(list(self.ifindex.values()), max_flows))

    def nat_pair(
        self, kf: KernelFlows, proto: int, cport: int, vport: int, nport: int, bport: int
    ) -> tuple[tuple[int, int, bytes], tuple[int, int, bytes]]:
        """a:cport -> VIP:vport becomes NLB:nport -> b:bport, and the reply back."""
        fwd = (self.ifindex["fa"], proto, tup(A, VIP, cport, vport))
        rev = (self.ifindex["fb"], proto, tup(B, NLB, bport, nport))
        kf.put(
            fwd,
            FlowAction(
                MAC["fa"], MAC["b0"] + MAC["fb"], tup(NLB, B, nport, bport), self.ifindex["fb"]
            ),
        )
        kf.put(
            rev,
            FlowAction(
                MAC["fb"], MAC["a0"] + MAC["fa"], tup(VIP, A, vport, cport), self.ifindex["fa"]
            ),
        )
        return fwd, rev


def _cleanup() -> None:
    for ns in (NS_A, NS_F, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    build()
    _cleanup()
    try:
        for ns in (NS_A, NS_F, NS_B):
            sh("ip", "netns", "add", ns)
        for ns, end, peer in ((NS_A, "a0", "fa"), (NS_B, "b0", "fb")):
            sh(
                f"ip -n {ns} link add he-ebpf-{end} address {mac_str(MAC[end])} type veth"
                f" peer name he-ebpf-{peer} address {mac_str(MAC[peer])} netns {NS_F}"
            )
        for ns, dev, addr in (
            (NS_A, "he-ebpf-a0", f"{A}/24"),
            (NS_F, "he-ebpf-fa", "10.91.1.1/24"),
            (NS_F, "he-ebpf-fb", "10.91.2.1/24"),
            (NS_B, "he-ebpf-b0", f"{B}/24"),
        ):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        for ns in (NS_A, NS_F, NS_B):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for ns, ip, dev, mac in (
            (NS_A, "10.91.1.1", "he-ebpf-a0", MAC["fa"]),
            (NS_F, A, "he-ebpf-fa", MAC["a0"]),
            (NS_F, B, "he-ebpf-fb", MAC["b0"]),
            (NS_B, "10.91.2.1", "he-ebpf-b0", MAC["fb"]),
            (NS_B, NLB, "he-ebpf-b0", MAC["fb"]),
        ):
            sh(f"ip -n {ns} neigh replace {ip} lladdr {mac_str(mac)} dev {dev} nud permanent")
        sh("ip", "-n", NS_A, "route", "add", "default", "via", "10.91.1.1")
        sh("ip", "-n", NS_B, "route", "add", "default", "via", "10.91.2.1")
        # The TCP test's slow path (see the module docstring): this namespace only.
        sh("ip", "netns", "exec", NS_F, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        nft = (
            "table ip he_ebpf_nat {\n"
            " chain pre { type nat hook prerouting priority dstnat;"
            f" ip daddr {VIP} tcp dport 7001 dnat to {B}:8001; }}\n"
            " chain post { type nat hook postrouting priority srcnat;"
            f" ip daddr {B} tcp dport 8001 snat to {NLB}:40001; }}\n"
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", NS_F, "nft", "-f", "-"],
            input=nft,
            check=True,
            text=True,
            capture_output=True,
        )
        sh(f"ip netns exec {NS_F} sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1")
        idx = run_in(NS_F, lambda: {d: socket.if_nametoindex(f"he-ebpf-{d}") for d in ("fa", "fb")})
        yield Rig(idx)
    finally:
        _cleanup()


@pytest.fixture
def kf(rig: Rig) -> Iterator[KernelFlows]:
    k = rig.load()
    try:
        yield k
    finally:
        k.close()


# --- capture and checksum verification -----------------------------------------------


class Capture:
    """Every frame arriving on he-ebpf-b0, with its PACKET_AUXDATA status."""

    def __init__(self) -> None:
        def open_() -> socket.socket:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
            s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            s.bind(("he-ebpf-b0", 0))
            s.setblocking(False)
            return s

        self.sock: socket.socket = run_in(NS_B, open_)

    def drain(self) -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(1 << 17, 256)
            except BlockingIOError:
                return out
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            status = next(
                (
                    struct.unpack_from("=I", d)[0]
                    for lvl, t, d in anc
                    if lvl == SOL_PACKET and t == PACKET_AUXDATA
                ),
                0,
            )
            out.append((data, status))

    def close(self) -> None:
        self.sock.close()


def ipv4(frame: bytes, src: str, dst: str, proto: int) -> bool:
    return (
        frame[12:14] == b"\x08\x00"
        and frame[14 + 9] == proto
        and frame[26:30] == socket.inet_aton(src)
        and frame[30:34] == socket.inet_aton(dst)
    )


def check_frame(frame: bytes, status: int) -> str:
    """'full' or 'partial' when the checksums are right, else AssertionError."""
    ip = frame[14:34]
    assert internet_checksum(ip) == 0, f"bad IP header checksum {ip.hex()}"
    total = struct.unpack("!H", ip[2:4])[0]
    l4 = frame[34 : 14 + total]
    proto = ip[9]
    coff = 16 if proto == 6 else 6
    check = struct.unpack_from("!H", l4, coff)[0]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, proto, total - 20)
    if status & TP_STATUS_CSUMNOTREADY:
        # The sender's device would finish it: the field holds the folded pseudo sum.
        want = ~internet_checksum(pseudo) & 0xFFFF
        assert check == want, f"partial checksum {check:#06x}, pseudo-header says {want:#06x}"
        return "partial"
    if proto == 17 and check == 0:
        return "none"
    assert internet_checksum(pseudo + l4) == 0, f"bad L4 checksum {check:#06x}"
    return "full"


def sender_totals(sock: socket.socket) -> tuple[int, int, int]:
    """(tcpi_bytes_sent, tcpi_segs_out, tcpi_data_segs_out) of a TCP socket: what it
    put on the wire, retransmissions included (struct tcp_info, Linux >= 4.19)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    (segs_out,) = struct.unpack_from("=I", info, 136)
    (data_segs_out,) = struct.unpack_from("=I", info, 156)
    (sent,) = struct.unpack_from("=Q", info, 200)
    return sent, segs_out, data_segs_out


def wait_for(pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("tx_csum", ["on", "off"])
def test_udp_nat_both_ways(rig: Rig, kf: KernelFlows, tx_csum: str) -> None:
    for ns, dev in ((NS_A, "he-ebpf-a0"), (NS_B, "he-ebpf-b0")):
        sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", tx_csum)
    fwd, rev = rig.nat_pair(kf, 17, 5000, 7000, 40000, 8000)
    cap = Capture()
    bsock: socket.socket = rig.in_b(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    asock: socket.socket = rig.in_a(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        bsock.bind((B, 8000))
        bsock.settimeout(3)
        asock.bind((A, 5000))
        asock.settimeout(3)
        sizes = [1, 100, 1400, 777, 2]
        for n in sizes:
            payload = os.urandom(n)
            asock.sendto(payload, (VIP, 7000))
            got, src = bsock.recvfrom(2048)
            assert (got, src) == (payload, (NLB, 40000))
            bsock.sendto(payload[::-1], (NLB, 40000))
            got, src = asock.recvfrom(2048)
            assert (got, src) == (payload[::-1], (VIP, 7000))
        frames = [(f, s) for f, s in cap.drain() if ipv4(f, NLB, B, 17)]
        assert len(frames) == len(sizes)
        kinds = {check_frame(f, s) for f, s in frames}
        assert kinds == ({"partial"} if tx_csum == "on" else {"full"}), kinds
        assert {f[14 + 8] for f, _ in frames} == {63}, "TTL must be decremented once"
        assert {f[:12] for f, _ in frames} == {MAC["b0"] + MAC["fb"]}
        want_bytes = sum(20 + 8 + n for n in sizes)
        for key in (fwd, rev):
            c = kf.get(key)
            assert c is not None and (c.packets, c.bytes) == (len(sizes), want_bytes)
            assert 0 < c.last_ns <= time.monotonic_ns()
        assert kf.stats()["forwarded"] == 2 * len(sizes)
    finally:
        asock.close()
        bsock.close()
        cap.close()
        for ns, dev in ((NS_A, "he-ebpf-a0"), (NS_B, "he-ebpf-b0")):
            sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "on")


def test_udp_zero_checksum_stays_zero(rig: Rig, kf: KernelFlows) -> None:
    sh("ip", "netns", "exec", NS_A, "ethtool", "-K", "he-ebpf-a0", "tx", "off")
    rig.nat_pair(kf, 17, 5002, 7002, 40002, 8002)
    cap = Capture()
    bsock: socket.socket = rig.in_b(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    asock: socket.socket = rig.in_a(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        bsock.bind((B, 8002))
        bsock.settimeout(3)
        asock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        asock.bind((A, 5002))
        asock.sendto(b"zero", (VIP, 7002))
        assert bsock.recvfrom(100) == (b"zero", (NLB, 40002))
        frames = [f for f, s in cap.drain() if ipv4(f, NLB, B, 17)]
        assert len(frames) == 1 and frames[0][34 + 6 : 34 + 8] == b"\0\0"
    finally:
        asock.close()
        bsock.close()
        cap.close()
        sh("ip", "netns", "exec", NS_A, "ethtool", "-K", "he-ebpf-a0", "tx", "on")


def test_passes_what_it_must_not_carry(rig: Rig, kf: KernelFlows) -> None:
    """TTL 1 and a disabled program leave the packet to the slow path (here: nothing,
    f has no route to the VIP), counted in he_stats."""
    rig.nat_pair(kf, 17, 5003, 7003, 40003, 8003)
    bsock: socket.socket = rig.in_b(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    asock: socket.socket = rig.in_a(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        bsock.bind((B, 8003))
        bsock.settimeout(0.3)
        asock.bind((A, 5003))
        asock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
        asock.sendto(b"ttl1", (VIP, 7003))
        wait_for(lambda: kf.stats()["pass_other"] >= 1, "pass_other")
        asock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
        kf.set_enabled(False)
        asock.sendto(b"off", (VIP, 7003))
        wait_for(lambda: kf.stats()["disabled"] >= 1, "disabled")
        asock.sendto(b"miss", (VIP, 7999))  # disabled: not even looked up
        kf.set_enabled(True)
        asock.sendto(b"miss", (VIP, 7999))
        wait_for(lambda: kf.stats()["miss"] >= 1, "miss")
        with pytest.raises(TimeoutError):
            bsock.recvfrom(100)
        asock.sendto(b"on", (VIP, 7003))
        bsock.settimeout(3)
        assert bsock.recvfrom(100) == (b"on", (NLB, 40003))
        st = kf.stats()
        assert st["forwarded"] == 1 and st["disabled"] == 2, st
    finally:
        asock.close()
        bsock.close()


def test_tcp_bulk_with_nat_and_gso(rig: Rig, kf: KernelFlows) -> None:
    size = 32 << 20
    data = os.urandom(1 << 20) * 32
    srv: socket.socket = rig.in_b(socket.socket)
    cli: socket.socket = rig.in_a(socket.socket)
    cap = Capture()
    got = hashlib.sha256()
    received = [0]
    try:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((B, 8001))
        srv.listen(1)
        srv.settimeout(5)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        cli.bind((A, 5001))
        cli.settimeout(10)
        cli.connect((VIP, 7001))  # the handshake: f's kernel NAT (SYN is not for us)
        conn, peer = srv.accept()
        assert peer == (NLB, 40001)
        fwd, rev = rig.nat_pair(kf, 6, 5001, 7001, 40001, 8001)

        def reader() -> None:
            conn.settimeout(10)
            while chunk := conn.recv(1 << 20):
                got.update(chunk)
                received[0] += len(chunk)

        t = threading.Thread(target=reader)
        t.start()
        cli.sendall(data)
        cli.shutdown(socket.SHUT_WR)  # FIN: passed to f's kernel
        t.join(20)
        conn.close()
        assert received[0] == size and got.digest() == hashlib.sha256(data).digest()
        c = kf.get(fwd)
        assert c is not None
        # The data crossed the fast path, retransmissions included (they are wire
        # packets too): IP bytes = payload + 52 per segment (IP 20 + TCP 32 with
        # timestamps), except a last frame the FIN rode on (the slow path's). The
        # few pure ACKs the sender sends count as packets without payload.
        sent, segs_out, data_segs_out = sender_totals(cli)
        assert sent >= size
        payload = c.bytes - 52 * c.packets
        assert sent - 65536 <= payload <= sent, (payload, sent, c)
        assert data_segs_out - 46 <= c.packets <= segs_out - 1, (segs_out, data_segs_out, c)
        st = kf.stats()
        assert st["forwarded"] < c.packets, "no GSO super-frame crossed (offloads off?)"
        assert st["pass_flags"] >= 1 and c.tcp_flags & 0x01, "the FIN went to the slow path"
        r = kf.get(rev)
        assert r is not None and r.packets > 0
        frames = [(f, s) for f, s in cap.drain() if ipv4(f, NLB, B, 6)]
        assert frames
        kinds = [check_frame(f, s) for f, s in frames]
        assert "partial" in kinds
        assert max(len(f) for f, _ in frames) > 1514, "expected GSO super-frames at b"
    finally:
        cli.close()
        srv.close()
        cap.close()


def test_map_full_and_close_leaves_nothing(rig: Rig) -> None:
    k = rig.load(max_flows=4)
    ids = set(k.ids().values())
    try:
        assert {i for _, _, i in bpf_objects()} >= ids
        act = FlowAction(MAC["fa"], MAC["b0"] + MAC["fb"], None, rig.ifindex["fb"])
        keys = [(rig.ifindex["fa"], 6, tup(A, B, 1000 + i, 80)) for i in range(4)]
        for key in keys:
            k.put(key, act)
        k.put(keys[0], act)  # replacing an entry is not growing the map
        with pytest.raises(MapFull):
            k.put((rig.ifindex["fa"], 6, tup(A, B, 2000, 80)), act)
        assert len(k) == 4 and set(k.counters()) == set(keys)
        assert k.get_action(keys[1]) == act
        assert k.delete(keys[1]) is not None and k.delete(keys[1]) is None
        assert len(k) == 3 and k.get(keys[1]) is None
    finally:
        k.close()
        k.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        k.put(keys[0], act)
    wait_for(lambda: not ids & {i for _, _, i in bpf_objects()}, "BPF objects freed")
    tc = subprocess.run(
        ["ip", "netns", "exec", NS_F, "tc", "filter", "show", "dev", "he-ebpf-fa", "ingress"],
        capture_output=True,
        text=True,
    )
    assert "he_fastpath" not in tc.stdout


def test_missing_object_is_a_clear_reason(rig: Rig) -> None:
    with pytest.raises(FastPathUnavailable, match="object not built: /nonexistent"):
        KernelFlows.load([rig.ifindex["fa"]], 10, obj=Path("/nonexistent/fastpath.bpf.o"))
    with pytest.raises(FastPathUnavailable, match="ifindex 999999"):
        run_in(NS_F, lambda: KernelFlows.load([rig.ifindex["fa"], 999999], 10))
    tc = subprocess.run(
        ["ip", "netns", "exec", NS_F, "tc", "filter", "show", "dev", "he-ebpf-fa", "ingress"],
        capture_output=True,
        text=True,
    )
    assert "he_fastpath" not in tc.stdout, "a partial load must undo its attachments"
