"""The core's side of the kernel fast path, against an in-memory flow map.

The real map is `fabric/ebpf` (tests/e2e/test_ebpf_fastpath_e2e.py); here a fake
keeps what the core installs and plays the kernel by counting packets on it, so
what the core does with installs, counters and removals is checked exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from fabric_helpers import (
    ALL_EGRESS,
    APP1,
    CLIENT,
    SG_APP,
    frame,
    make_plan,
    rule,
    sg,
    tcp,
    udp,
    with_groups,
)

from hyperplane_emu.fabric.conntrack import ConntrackTimeouts
from hyperplane_emu.fabric.core import Fabric

APP1_IP, CLIENT_IP = "10.0.1.11", "10.0.1.10"
IFINDEX = [100, 101, 102, 103, 104]


class Full(Exception):
    pass


@dataclass(frozen=True)
class Action:
    rmac: bytes
    l2: bytes
    nat: bytes | None
    out_ifindex: int


@dataclass
class Counters:
    packets: int = 0
    bytes: int = 0
    last_ns: int = 0


class FakeKernel:
    def __init__(self, max_entries: int = 1000) -> None:
        self.map: dict[tuple[int, int, bytes], tuple[Action, Counters]] = {}
        self.max = max_entries
        self.enabled = True
        self.deleted: list[tuple[int, int, bytes]] = []
        self.lookups = 0

    def put(self, key: tuple[int, int, bytes], action: object) -> None:
        assert isinstance(action, Action)
        if len(self.map) >= self.max and key not in self.map:
            raise Full
        self.map[key] = (action, Counters())

    def delete(self, key: tuple[int, int, bytes]) -> Counters | None:
        self.deleted.append(key)
        entry = self.map.pop(key, None)
        return entry[1] if entry else None

    def get(self, key: tuple[int, int, bytes]) -> Counters | None:
        self.lookups += 1
        entry = self.map.get(key)
        return entry[1] if entry else None

    def counters(self) -> dict[tuple[int, int, bytes], Counters]:
        return {k: c for k, (_, c) in self.map.items()}

    def set_enabled(self, on: bool) -> None:
        self.enabled = on

    def stats(self) -> dict[str, int]:
        return {"forwarded": sum(c.packets for _, c in self.map.values())}

    def carry(self, key: tuple[int, int, bytes], packets: int, nbytes: int) -> None:
        """What the tc program does for a packet of an installed entry."""
        c = self.map[key][1]
        c.packets += packets
        c.bytes += nbytes
        c.last_ns = time.monotonic_ns()


def attach(fab: Fabric, kernel: FakeKernel) -> None:
    fab.fastpath.attach(kernel, IFINDEX, Action, Full)


def established(fab: Fabric, sport: int = 40000, now: float = 1.0) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(sport, 8080)), now)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, sport, "SA")), now + 0.1)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(sport, 8080, "A")), now + 0.2)
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, sport, "A", b"hi")), now + 0.3)


def key(port: int, src: str, dst: str, sport: int, dport: int, proto: int = 6) -> tuple:
    raw = bytes(map(int, src.split("."))) + bytes(map(int, dst.split(".")))
    return (IFINDEX[port], proto, raw + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))


def test_established_halves_are_installed_with_their_rewrite() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    attach(fab, kernel)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    assert kernel.map == {}  # a SYN: nothing is established yet
    established(fab)
    orig = key(CLIENT, CLIENT_IP, APP1_IP, 40000, 8080)
    reply = key(APP1, APP1_IP, CLIENT_IP, 8080, 40000)
    assert set(kernel.map) == {orig, reply}
    action = kernel.map[orig][0]
    (flow,) = fab.conntrack.flows()
    assert action == Action(flow.orig.rmac, flow.orig.l2, None, IFINDEX[APP1])
    assert kernel.map[reply][0].out_ifindex == IFINDEX[CLIENT]
    assert fab.counters["fastpath.kernel.entries"] == 2
    assert fab.fastpath.describe() == "on (kernel, 2 flow halves)"


def test_what_the_kernel_carried_reaches_flow_logs_and_conntrack() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    attach(fab, kernel)
    established(fab)
    (flow,) = fab.conntrack.flows()
    before = flow.orig.pk, flow.orig.by
    kernel.carry(key(CLIENT, CLIENT_IP, APP1_IP, 40000, 8080), 1000, 1_500_000)
    fab.conntrack_dump(time.time())  # status reads the kernel's counters first
    assert flow.orig.pk == before[0] + 1000 and flow.orig.by == before[1] + 1_500_000
    # a second sync adds only what is new
    kernel.carry(key(CLIENT, CLIENT_IP, APP1_IP, 40000, 8080), 1, 100)
    fab.fastpath.sync(time.time())
    assert flow.orig.pk == before[0] + 1001
    # the flow's end reads the entry's last counts before deleting it
    kernel.carry(key(CLIENT, CLIENT_IP, APP1_IP, 40000, 8080), 5, 500)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "R")), 3.0)
    retired: list[tuple[int, int]] = []
    retire = fab.flowlog.retire
    fab.flowlog.retire = lambda f: (retired.append((f.orig.pk, f.orig.by)), retire(f))[1]  # type: ignore[method-assign]
    fab._end(flow)
    # + 1 for the RST, which Python forwarded itself
    assert retired == [(before[0] + 1007, before[1] + 1_500_600 + 40)]
    assert kernel.map == {}


def test_kernel_activity_keeps_a_flow_from_expiring() -> None:
    timeouts = ConntrackTimeouts(udp_stream=20.0, udp=5.0)
    fab, kernel = Fabric(make_plan(), timeouts=timeouts, clock_start=time.time()), FakeKernel()
    attach(fab, kernel)
    t0 = time.time()
    for i in range(3):  # request, reply, request: a stream
        fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(4000, 5000)), t0 + i)
        fab.handle(APP1, frame(APP1, CLIENT_IP, udp(5000, 4000)), t0 + i + 0.5)
    assert len(kernel.map) == 2
    # Only the kernel sees the next packets; the flow must survive its timeout.
    later = t0 + 100.0
    kernel.carry(key(CLIENT, CLIENT_IP, APP1_IP, 4000, 5000, 17), 10, 300)
    fab.tick(later)
    # carry() stamped the kernel's "now", which `tick(later)` maps to `later`: the
    # flow is alive until later + 20 s, and gone after. Only the due flow was read.
    assert fab.conntrack.count == 1
    assert kernel.lookups == 2
    fab.tick(later + 10.0)
    assert fab.conntrack.count == 1
    fab.tick(later + 30.0)
    assert fab.conntrack.count == 0
    assert kernel.map == {}


def test_untracked_flows_leave_the_kernel_on_a_rule_change_tracked_stay() -> None:
    open_rules = [rule("ingress", "tcp", 8080, "0.0.0.0/0"), rule(*ALL_EGRESS)]
    fab = Fabric(make_plan(with_groups(app=sg(SG_APP, "customer", open_rules, "app"))))
    kernel = FakeKernel()
    attach(fab, kernel)
    established(fab, 40000)
    (untracked,) = fab.conntrack.flows()
    assert untracked.untracked
    assert len(kernel.map) == 2
    fab.replace_security_group(sg(SG_APP, "customer", [rule(*ALL_EGRESS)], "app"))
    assert kernel.map == {}  # its next packet is judged again, in Python
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"y")), 2.0) == []


def test_tracked_flow_stays_in_the_kernel_across_a_rule_change() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    attach(fab, kernel)
    established(fab)
    installed = dict(kernel.map)
    fab.replace_security_group(sg(SG_APP, "customer", [rule(*ALL_EGRESS)], "app"))
    assert kernel.map == installed and kernel.deleted == []


def test_full_map_keeps_the_flow_on_the_python_path_and_says_so() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel(max_entries=1)
    attach(fab, kernel)
    established(fab)
    assert len(kernel.map) == 1
    assert fab.counters["fastpath.kernel.full"] == 1
    # The half the kernel refused is in Python's own cache; the other only in the kernel.
    assert fab.counters["fastpath.entries"] == 1
    fast = fab._fast_forwarded
    (refused,) = fab.fastpath.entries.values()
    port, ip, sport, dport = (
        (CLIENT, APP1_IP, 40000, 8080) if not refused.is_reply else (APP1, CLIENT_IP, 8080, 40000)
    )
    out = fab.handle(port, frame(port, ip, tcp(sport, dport, "A", b"more")), 2.0)
    assert out and fab._fast_forwarded == fast + 1


def test_pause_for_captures_reaches_the_kernel() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    fab.fastpath.set_enabled(False)  # before attach: nothing to tell
    assert fab.fastpath.describe() == "off (not loaded)"
    attach(fab, kernel)
    fab.fastpath.enabled = True
    fab.fastpath.set_enabled(False)
    assert kernel.enabled is False
    assert fab.fastpath.describe().startswith("paused")


def test_paused_kernel_path_sends_packets_through_python_fast_cache() -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    attach(fab, kernel)
    established(fab)
    assert fab.counters["fastpath.entries"] == 0  # both halves in the kernel only
    fab.fastpath.set_enabled(False)  # a capture: the program passes every packet up
    data = frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"seen"))
    assert fab.handle(CLIENT, data, 2.0)  # slow path: enters the dict cache
    fast = fab._fast_forwarded
    assert fab.handle(CLIENT, data, 2.1)
    assert fab._fast_forwarded == fast + 1
    assert len(kernel.map) == 2  # still installed, for when the capture ends


@pytest.mark.parametrize("first", ["orig", "reply"])
def test_udp_turnaround_takes_the_other_half_out_of_the_kernel(first: str) -> None:
    fab, kernel = Fabric(make_plan()), FakeKernel()
    attach(fab, kernel)
    req = frame(CLIENT, APP1_IP, udp(4001, 5000))
    rep = frame(APP1, CLIENT_IP, udp(5000, 4001))
    if first == "orig":
        fab.handle(CLIENT, req, 1.0)
        fab.handle(CLIENT, req, 1.1)  # a one-way run: installed
        assert list(kernel.map) == [key(CLIENT, CLIENT_IP, APP1_IP, 4001, 5000, 17)]
        fab.handle(APP1, rep, 1.2)  # the turnaround must be counted in Python
        assert kernel.map == {}
    else:
        fab.handle(CLIENT, req, 1.0)
        fab.handle(APP1, rep, 1.1)
        fab.handle(APP1, rep, 1.2)
        fab.handle(CLIENT, req, 1.3)
        assert kernel.map == {}
