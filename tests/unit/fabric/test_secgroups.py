"""Security groups: allow matrix, stateful replies, silent denies, live changes."""

from __future__ import annotations

import pytest
from fabric_helpers import (
    ALL_EGRESS,
    APP1,
    APP2,
    CLIENT,
    GHOST,
    SG_APP,
    SG_DEFAULT,
    default_groups,
    drops,
    frame,
    make_plan,
    ping,
    rule,
    sg,
    tcp,
    udp,
    with_groups,
)
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import TraceHop
from hyperplane_emu.fabric.secgroup import EniPolicy, compile_group
from hyperplane_emu.plan.model import PlanSecurityGroup

APP1_IP, APP2_IP, CLIENT_IP = "10.0.1.11", "10.0.2.10", "10.0.1.10"


@pytest.mark.parametrize(
    ("src", "dst_ip", "l4", "ok", "reason"),
    [
        (CLIENT, APP1_IP, tcp(40000, 8080), True, None),  # app: tcp 8080 from 10.0.0.0/16
        (CLIENT, APP1_IP, tcp(40000, 8081), False, "sg-ingress"),
        (CLIENT, APP1_IP, tcp(40000, 22), False, "sg-ingress"),
        (CLIENT, APP1_IP, udp(4000, 5000), True, None),  # app: udp 5000-5010 from sg default
        (CLIENT, APP1_IP, udp(4000, 5010), True, None),
        (CLIENT, APP1_IP, udp(4000, 5011), False, "sg-ingress"),
        (APP2, APP1_IP, udp(4000, 5005), False, "sg-ingress"),  # app2 is not in sg default
        (CLIENT, APP1_IP, ping(), True, None),  # icmp from 10.0.0.0/16
        (APP1, CLIENT_IP, tcp(40000, 22), False, "sg-ingress"),  # default: only from itself
        (APP1, APP2_IP, tcp(40000, 8080), True, None),
        (APP1, APP2_IP, ping(), True, None),
    ],
)
def test_allow_matrix(src: int, dst_ip: str, l4: object, ok: bool, reason: str | None) -> None:
    fab = Fabric(make_plan())
    out = fab.handle(src, frame(src, dst_ip, l4), 1.0)
    assert bool(out) is ok
    assert drops(fab) == ([] if ok else [reason])


def test_sg_reference_matches_members_only() -> None:
    g = default_groups()
    pol = EniPolicy("eni-x", [SG_DEFAULT], {x.id: compile_group(x) for x in g.values()})
    member, stranger = frozenset({SG_DEFAULT, "sg-zzz"}), frozenset({SG_APP})
    for proto, port in ((6, 22), (17, 53), (1, 8), (47, 0)):
        v = pol.evaluate("ingress", proto, port, 0, 123, member)
        assert v.allowed and v.rule_id == g["default"].rules[0].rule_id
        assert not pol.evaluate("ingress", proto, port, 0, 123, stranger).allowed
    # in the fabric: ghost -> ghost2 share the other VPC's default group
    fab = Fabric(make_plan())
    assert fab.handle(GHOST, frame(GHOST, "10.0.1.11", udp(1, 9999)), 1.0)
    # app1 (sg app) -> client (default) is not a member
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, udp(1, 9999)), 1.0) == []
    assert drops(fab) == ["sg-ingress"]


def test_egress_deny_is_recorded_on_sender() -> None:
    groups = with_groups(
        default=sg(
            SG_DEFAULT,
            "customer",
            [rule("ingress", "all", None, SG_DEFAULT), rule("egress", "tcp", 443, "0.0.0.0/0")],
            "default",
        )
    )
    fab = Fabric(make_plan(groups))
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0) == []
    ev = fab.events[-1]
    assert ev.reason == "sg-egress" and ev.eni_id == "eni-00000000000000000"  # type: ignore[union-attr]
    assert ev.detail == "no rule matched"  # type: ignore[union-attr]
    fab.tick(61.0)
    lines = [r.line for r in fab.drain_flow_logs()]
    assert lines == [
        "2 111122223333 eni-00000000000000000 10.0.1.10 10.0.1.11 40000 8080 6 1 40 1 1 REJECT OK"
    ]


def test_tracked_reply_allowed_although_ingress_would_deny(fab: Fabric) -> None:
    # client's default group has no ingress rule for app1; the SYN-ACK is a reply.
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    out = fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), 1.1)
    assert len(out) == 1 and out[0][0] == CLIENT
    # but app1 opening a new flow to the same port of the client is denied
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8081, 40000, "S")), 1.2) == []
    assert drops(fab) == ["sg-ingress"]


def test_icmp_echo_reply_is_tracked(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, ping(ident=5)), 1.0)
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, ping(ident=5, type_=0)), 1.1)
    # an echo reply with another id is not a reply of anything -> judged, denied
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, ping(ident=6, type_=0)), 1.2) == []


def test_deny_emits_nothing_no_rst_no_icmp(fab: Fabric) -> None:
    out = fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 22)), 1.0)
    assert out == []
    out = fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(40000, 9)), 1.0)
    assert out == []
    assert fab.counters["dropped.sg-ingress"] == 2
    assert fab.counters.get("forwarded", 0) == 0


def test_verdict_names_rule() -> None:
    g = default_groups()
    compiled = {s.id: compile_group(s) for s in g.values()}
    pol = EniPolicy("eni-x", [SG_APP], compiled)
    v = pol.evaluate(
        "ingress", 6, 8080, 0, int.from_bytes(bytes([10, 0, 3, 4]), "big"), frozenset()
    )
    assert v.allowed and v.sg_id == SG_APP and v.rule_id == g["app"].rules[0].rule_id
    assert not v.untracked
    assert str(v).endswith(f"rule {v.rule_id} ACCEPT")
    v = pol.evaluate(
        "ingress", 6, 8080, 0, int.from_bytes(bytes([192, 0, 2, 1]), "big"), frozenset()
    )
    assert not v.allowed and v.rule_id is None and "no rule matched" in str(v)
    # other protocols only match "all" rules
    v = pol.evaluate("ingress", 47, 0, 0, int.from_bytes(bytes([10, 0, 3, 4]), "big"), frozenset())
    assert not v.allowed
    v = pol.evaluate("egress", 47, 0, 0, 1, frozenset())
    assert v.allowed


def test_icmp_type_code_rules() -> None:
    g = sg("sg-icmp", "customer", [rule("ingress", "icmp", (8, -1), "0.0.0.0/0")])
    pol = EniPolicy("eni-x", ["sg-icmp"], {"sg-icmp": compile_group(g)})
    assert pol.evaluate("ingress", 1, 8, 0, 5, frozenset()).allowed
    assert not pol.evaluate("ingress", 1, 3, 4, 5, frozenset()).allowed
    g = sg("sg-icmp", "customer", [rule("ingress", "icmp", (3, 4), "0.0.0.0/0")])
    pol = EniPolicy("eni-x", ["sg-icmp"], {"sg-icmp": compile_group(g)})
    assert pol.evaluate("ingress", 1, 3, 4, 5, frozenset()).allowed
    assert not pol.evaluate("ingress", 1, 3, 3, 5, frozenset()).allowed


def test_live_removal_keeps_tracked_flow_and_denies_new(fab: Fabric) -> None:
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), 1.1)
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"hi")), 1.2)
    app = default_groups()["app"]
    fab.replace_security_group(
        sg(SG_APP, "customer", [r for r in app.rules if r.from_port != 8080], "app")
    )
    # established flow keeps going, both ways
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"more")), 2.0)
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "A", b"ok")), 2.1)
    # a new connection to the same port is denied
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40001, 8080)), 2.2) == []
    assert drops(fab) == ["sg-ingress"]


def open_groups() -> dict[str, PlanSecurityGroup]:
    """app: tcp 8080 from 0.0.0.0/0 + all egress 0.0.0.0/0 -> untracked on app1."""
    rules = [rule("ingress", "tcp", 8080, "0.0.0.0/0"), rule(*ALL_EGRESS)]
    return with_groups(app=sg(SG_APP, "customer", rules, "app"))


def test_untracked_flow_is_cut_at_once_when_rule_removed() -> None:
    fab = Fabric(make_plan(open_groups()))
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), 1.1)
    (flow,) = fab.conntrack.flows()
    assert flow.untracked_dst and not flow.untracked_src
    assert fab.conntrack_dump()[0]["tracked"] is False
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"x")), 1.2)
    # remove the 0.0.0.0/0 ingress rule: the flow stops at once
    fab.replace_security_group(sg(SG_APP, "customer", [rule(*ALL_EGRESS)], "app"))
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"y")), 2.0) == []
    assert drops(fab) == ["sg-ingress"]
    assert "untracked" in fab.events[-1].detail  # type: ignore[union-attr]


def test_untracked_reply_needs_the_return_rule() -> None:
    # Replies of an untracked flow are judged by the rule in their direction:
    # app1's all-egress rule. Remove it, the replies stop, the requests do not.
    fab = Fabric(make_plan(open_groups()))
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "SA")), 1.1)
    fab.replace_security_group(
        sg(SG_APP, "customer", [rule("ingress", "tcp", 8080, "0.0.0.0/0")], "app")
    )
    assert fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080, "A", b"x")), 2.0)
    assert fab.handle(APP1, frame(APP1, CLIENT_IP, tcp(8080, 40000, "A", b"y")), 2.1) == []
    assert drops(fab) == ["sg-egress"]


def test_tracked_when_source_not_open() -> None:
    # 10.0.0.0/16 instead of 0.0.0.0/0: tracked, so removal does not cut it (AWS's SSH example).
    fab = Fabric(make_plan())
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    (flow,) = fab.conntrack.flows()
    assert not flow.untracked


def test_icmp_is_always_tracked() -> None:
    rules = [rule("ingress", "all", None, "0.0.0.0/0"), rule(*ALL_EGRESS)]
    fab = Fabric(make_plan(with_groups(app=sg(SG_APP, "customer", rules, "app"))))
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, ping()), 1.0)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, udp(1, 2)), 1.0)
    flows = {f.proto: f for f in fab.conntrack.flows()}
    assert not flows[1].untracked
    assert flows[17].untracked_dst


def test_trace_hops() -> None:
    fab = Fabric(make_plan())
    fab.trace_address(CLIENT_IP)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    hops = [e for e in fab.events if isinstance(e, TraceHop)]
    assert [h.step for h in hops] == ["egress-sg", "route", "ingress-sg", "deliver"]
    assert hops[0].where == "eni-00000000000000000" and hops[0].action == "ACCEPT"
    assert hops[0].detail.startswith(SG_DEFAULT + " sgr-")
    assert "10.0.0.0/16 -> local (eni-00000000000000001)" in hops[1].detail
    assert hops[2].where == "eni-00000000000000001" and hops[2].detail.startswith(SG_APP)
    fab.events.clear()
    fab.handle(APP2, frame(APP2, "10.0.1.11", tcp(40000, 22)), 1.0)
    assert not [e for e in fab.events if isinstance(e, TraceHop)]  # not traced: other hosts


def test_trace_off_costs_no_events(fab: Fabric) -> None:
    fab.drop_events = False
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 8080)), 1.0)
    fab.handle(CLIENT, frame(CLIENT, APP1_IP, tcp(40000, 22)), 1.0)
    assert len(fab.events) == 0
    assert fab.counters["dropped.sg-ingress"] == 1


def test_new_flow_from_reply_side_is_judged(fab: Fabric) -> None:
    raw = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:fa:00:00:00:01")
        / IP(src=APP1_IP, dst=CLIENT_IP)
        / TCP(sport=8080, dport=40000, flags="S")
    )
    assert fab.handle(APP1, raw, 1.0) == []


def test_tcp_rule_with_minus_one_ports_means_all_ports() -> None:
    g = sg("sg-t", "customer", [rule("ingress", "tcp", (-1, -1), "10.0.0.0/8")])
    pol = EniPolicy("eni-x", ["sg-t"], {"sg-t": compile_group(g)})
    for port in (0, 1, 8080, 65535):
        assert pol.evaluate("ingress", 6, port, 0, 0x0A000001, frozenset()).allowed
    assert not pol.evaluate("ingress", 17, 53, 0, 0x0A000001, frozenset()).allowed


def test_an_unfiltered_eni_allows_everything_and_names_no_rule() -> None:
    pol = EniPolicy("eni-nlb", [], {}, unfiltered=True)
    for direction in ("ingress", "egress"):
        v = pol.evaluate(direction, 6, 443, 0, 0x0A000001, frozenset())
        assert (v.allowed, v.sg_id, v.rule_id, v.untracked) == (True, None, None, False)
    assert not EniPolicy("eni-x", [], {}).evaluate("ingress", 6, 443, 0, 1, frozenset()).allowed
