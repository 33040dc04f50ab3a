"""Connection tracking: states, timeouts via tick(), the bound."""

from __future__ import annotations

from fabric_helpers import APP1, CLIENT, drops, frame, make_plan, ping, tcp, udp

from hyperplane_emu.fabric.conntrack import (
    STATE_NAMES,
    TCP_ESTABLISHED,
    ConnTrack,
    ConntrackTimeouts,
    Flow,
)
from hyperplane_emu.fabric.core import Fabric

APP1_IP, CLIENT_IP = "10.0.1.11", "10.0.1.10"


def state(fab: Fabric) -> str:
    (f,) = fab.conntrack.flows()
    return STATE_NAMES[f.state]


def handshake(fab: Fabric, t: float, sport: int = 40000) -> None:
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(sport, 8080, "S")), t)
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, sport, "SA")), t)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(sport, 8080, "A")), t)


def test_tcp_states(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "S")), 1.0)
    assert state(fab) == "SYN_SENT"
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), 1.0)
    assert state(fab) == "ESTABLISHED"
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "FA")), 2.0)
    assert state(fab) == "FIN_WAIT"
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "FA")), 2.0)
    assert state(fab) == "CLOSED"


def test_rst_closes_and_closed_flow_expires_fast(fab: Fabric) -> None:
    handshake(fab, 1.0)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "R")), 2.0)
    assert state(fab) == "CLOSED"
    fab.tick(11.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(13.5)
    assert fab.counters["conntrack.entries"] == 0
    assert fab.counters["conntrack.expired"] == 1
    assert fab.counters["fastpath.entries"] == 0


def test_established_lives_five_days_of_idleness(fab: Fabric) -> None:
    handshake(fab, 0.0)
    for t in range(0, 432000, 3600):
        fab.tick(float(t))
    assert fab.counters["conntrack.entries"] == 1
    # traffic at 400000 s resets the idle clock
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"x")), 400000.0)
    fab.tick(432002.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(832002.0)
    assert fab.counters["conntrack.entries"] == 0
    # a new packet is judged afresh (client->app1 allowed again, new flow)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "S")), 832003.0)
    assert state(fab) == "SYN_SENT"


def test_expired_flow_reply_is_judged_again(fab: Fabric) -> None:
    handshake(fab, 0.0)
    fab.tick(432002.0)
    assert fab.counters["conntrack.entries"] == 0
    # app1 -> client is not allowed by the client's default group: dropped now
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "A", b"late")), 432003.0) == []
    assert drops(fab) == ["sg-ingress"]


def test_syn_sent_times_out(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "S")), 0.0)
    fab.tick(59.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(62.0)
    assert fab.counters["conntrack.entries"] == 0


def test_fin_shortens_an_established_flow(fab: Fabric) -> None:
    handshake(fab, 0.0)
    fab.tick(400.0)  # re-filed at its 5-day deadline (capped horizon)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "FA")), 500.0)
    fab.tick(619.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(622.0)
    assert fab.counters["conntrack.entries"] == 0


def test_udp_timeouts(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(4000, 5000)), 0.0)
    assert state(fab) == "UDP_UNREPLIED"
    fab.tick(29.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(31.5)
    assert fab.counters["conntrack.entries"] == 0
    # request/response twice -> stream, 180 s
    for t in (100.0, 101.0):
        fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(4000, 5000)), t)
        fab.handle(APP1, frame(APP1, CLIENT_IP, udp(5000, 4000)), t)
    assert state(fab) == "UDP_STREAM"
    fab.tick(101.0 + 150)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(101.0 + 182)
    assert fab.counters["conntrack.entries"] == 0


def test_udp_single_exchange_stays_short(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(4000, 5000)), 0.0)
    fab.handle(APP1, frame(APP1, CLIENT_IP, udp(5000, 4000)), 0.5)
    assert state(fab) == "UDP_REPLIED"
    fab.tick(32.0)
    assert fab.counters["conntrack.entries"] == 0


def test_icmp_timeout(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, ping()), 0.0)
    assert state(fab) == "ICMP"
    fab.tick(29.0)
    assert fab.counters["conntrack.entries"] == 1
    fab.tick(32.0)
    assert fab.counters["conntrack.entries"] == 0


def test_full_table_drops_new_keeps_established() -> None:
    fab = Fabric(make_plan(conntrack_max=3))
    handshake(fab, 1.0, 40000)
    handshake(fab, 1.0, 40001)
    handshake(fab, 1.0, 40002)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40003, 8080, "S")), 2.0) == []
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.2.10", tcp(40004, 8080, "S")), 2.0) == []
    c = fab.counters
    assert c["conntrack.full"] == 2 and c["dropped.conntrack-full"] == 2
    assert c["conntrack.entries"] == 3
    for sport in (40000, 40001, 40002):
        assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(sport, 8080, "A", b"d")), 3.0)
        assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, sport, "A", b"d")), 3.0)
        assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, sport, "FA")), 3.0)
    # half-closed flows (FIN_WAIT, 120 s) expire and make room again
    fab.tick(100.0)
    assert fab.counters["conntrack.entries"] == 3
    fab.tick(125.0)
    assert fab.counters["conntrack.entries"] == 0
    assert fab.handle(CLIENT, frame(CLIENT, "10.0.2.10", tcp(40005, 8080, "S")), 126.0)


def test_syn_on_closed_flow_reopens(fab: Fabric) -> None:
    handshake(fab, 1.0)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "R")), 2.0)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "S")), 3.0)
    assert state(fab) == "SYN_SENT"
    assert fab.counters["conntrack.created"] == 2


def test_conntrack_unit_bucket_refiling() -> None:
    ct = ConnTrack(10, ConntrackTimeouts(tcp_established=1000.0))
    f = Flow(0, 6, 1, 2, 3, 4, TCP_ESTABLISHED, 0.0)
    assert ct.add(f, 0.0)
    assert ct.table.get(f.reply_key()) is f.reply
    assert ct.expire(999.0) == []
    f.orig.last = 500.0
    assert ct.expire(1001.0) == []
    assert ct.expire(1501.0) == [f]
    assert ct.count == 0 and ct.table == {}


def test_bucket_memory_stays_bounded() -> None:
    ct = ConnTrack(100)
    for i in range(5000):
        f = Flow(0, 6, i, 2, 3, 4, TCP_ESTABLISHED, float(i))
        if not ct.add(f, float(i)):
            ct.expire(float(i))
            continue
        ct.set_state(f, 3, float(i))  # closed: 10 s
        ct.expire(float(i))
    pending = sum(len(v) for v in ct._buckets.values())
    assert ct.count <= 100
    assert pending <= 2 * 100 + 400  # stale entries live at most HORIZON seconds
