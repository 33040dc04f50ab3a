"""VPC Flow Logs records: exact v2 text on both ENIs, REJECT on the rejecting ENI."""

from __future__ import annotations

from fabric_helpers import APP1, CLIENT, frame, make_plan, ping, tcp

from hyperplane_emu.fabric.core import Fabric

APP1_IP, CLIENT_IP = "10.0.1.11", "10.0.1.10"
E_CLIENT, E_APP1 = "eni-00000000000000000", "eni-00000000000000001"


def lines(fab: Fabric) -> list[str]:
    return sorted(f"{r.eni_id}|{r.line}" for r in fab.drain_flow_logs())


def test_accepted_flow_recorded_on_both_enis() -> None:
    fab = Fabric(make_plan(flow_log_interval=60), clock_start=1700000000.0)
    t = 1700000005.0
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "S")), t)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), t + 1)
    for i in range(5):  # fast path packets count too
        fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"x" * 60)), t + 2 + i)
    fab.tick(t + 30)
    assert fab.drain_flow_logs() == []  # window not over yet
    fab.tick(1700000060.0)
    acct = "111122223333"
    fwd = f"10.0.1.10 10.0.1.11 40000 8080 6 6 540 {int(t)} {int(t) + 6} ACCEPT OK"
    rev = f"10.0.1.11 10.0.1.10 8080 40000 6 1 40 {int(t) + 1} {int(t) + 1} ACCEPT OK"
    assert lines(fab) == sorted(
        [
            f"{E_CLIENT}|2 {acct} {E_CLIENT} {fwd}",
            f"{E_APP1}|2 {acct} {E_APP1} {fwd}",
            f"{E_CLIENT}|2 {acct} {E_CLIENT} {rev}",
            f"{E_APP1}|2 {acct} {E_APP1} {rev}",
        ]
    )
    # next window: only new packets
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"y")), 1700000070.0)
    fab.tick(1700000120.0)
    got = lines(fab)
    assert len(got) == 2
    assert all(" 40000 8080 6 1 41 1700000070 1700000070 ACCEPT OK" in g for g in got)


def test_rejected_flow_recorded_on_rejecting_eni() -> None:
    fab = Fabric(make_plan(flow_log_interval=10))
    for t in (1.0, 2.0, 4.0):  # SYN retransmissions
        assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 22, "S")), t) == []
    fab.tick(10.0)
    acct = "111122223333"
    assert lines(fab) == sorted(
        [
            f"{E_APP1}|2 {acct} {E_APP1} 10.0.1.10 10.0.1.11 40000 22 6 3 120 1 4 REJECT OK",
            f"{E_CLIENT}|2 {acct} {E_CLIENT} 10.0.1.10 10.0.1.11 40000 22 6 3 120 1 4 ACCEPT OK",
        ]
    )


def test_icmp_ports_are_zero_and_expired_flows_still_logged() -> None:
    fab = Fabric(make_plan(flow_log_interval=60))
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, ping()), 1.0)
    fab.tick(40.0)  # the ICMP flow expires before the window ends
    assert fab.counters["conntrack.entries"] == 0
    fab.tick(60.0)
    got = lines(fab)
    assert len(got) == 2
    assert all(g.endswith("10.0.1.10 10.0.1.11 0 0 1 1 36 1 1 ACCEPT OK") for g in got)


def test_pkt_address_format_per_eni() -> None:
    fab = Fabric(make_plan(), flow_log_formats={E_APP1: "v2+pkt"})
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 22, "S")), 1.0)
    fab.flush_flow_logs(5.0)
    recs = {r.eni_id: r.line for r in fab.drain_flow_logs()}
    assert recs[E_APP1].endswith("REJECT OK 10.0.1.10 10.0.1.11")
    assert recs[E_CLIENT].endswith("ACCEPT OK")


def test_windows_align_without_walking_from_zero() -> None:
    fab = Fabric(make_plan(flow_log_interval=60))  # clock_start 0, epoch-sized now
    t = 1_700_000_030.0
    fab.tick(t)  # must not loop 28 million windows
    assert fab.flowlog.window_start == 1_699_999_980.0
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 22, "S")), t + 1)
    fab.tick(t + 5)  # window [..9980, ..0040) still open
    assert fab.drain_flow_logs() == []
    fab.tick(1_700_000_040.0)
    assert len(fab.drain_flow_logs()) == 2
