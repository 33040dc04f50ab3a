"""One-way UDP runs take the fast path without changing the flow's state machine."""

from __future__ import annotations

from fabric_helpers import APP1, CLIENT, frame, udp

from hyperplane_emu.fabric.conntrack import UDP_REPLIED, UDP_STREAM, UDP_UNREPLIED
from hyperplane_emu.fabric.core import Fabric


def out(fab: Fabric, port: int, f: bytes, now: float) -> list[tuple[int, bytes]]:
    return [(p, bytes(b)) for p, b in fab.handle(port, f, now)]


def test_one_way_run_goes_fast_and_turnarounds_still_count(fab: Fabric) -> None:
    req = frame(CLIENT, "10.0.1.11", udp(4000, 5000))
    rep = frame(APP1, "10.0.1.10", udp(5000, 4000))
    first = out(fab, CLIENT, req, 1.0)  # new flow: slow
    (flow,) = fab.conntrack.flows()
    assert flow.state == UDP_UNREPLIED
    second = out(fab, CLIENT, req, 1.1)  # same direction again: slow, installs
    assert fab._fast_forwarded == 0
    for i in range(5):
        assert out(fab, CLIENT, req, 1.2 + i) == first == second
    assert fab._fast_forwarded == 5
    assert flow.orig.pk == 7 and flow.orig.last == 5.2
    assert flow.state == UDP_UNREPLIED
    # The reply takes the slow path, counts the turnaround and takes the
    # request direction off the fast path, so the next request is seen too.
    out(fab, APP1, rep, 6.0)
    assert flow.state == UDP_REPLIED
    assert flow.orig.fast_key is None
    fast_before = fab._fast_forwarded
    out(fab, CLIENT, req, 7.0)
    assert fab._fast_forwarded == fast_before  # slow: it flips the direction back
    out(fab, APP1, rep, 8.0)
    assert flow.state == UDP_STREAM


def test_alternating_exchange_never_goes_fast(fab: Fabric) -> None:
    req = frame(CLIENT, "10.0.1.11", udp(4001, 5000))
    rep = frame(APP1, "10.0.1.10", udp(5000, 4001))
    out(fab, CLIENT, req, 1.0)
    out(fab, APP1, rep, 1.0)
    (flow,) = fab.conntrack.flows()
    assert flow.state == UDP_REPLIED
    assert fab._fast_forwarded == 0
    assert fab.counters["fastpath.entries"] == 0
