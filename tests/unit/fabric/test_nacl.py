"""Network ACL evaluation (fabric/nacl.py): ordered, first match, final deny, stateless."""

from __future__ import annotations

import ipaddress

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.nacl import AclTable, NetworkAcl, crosses
from hyperplane_emu.plan.model import PlanNaclEntry, PlanNetworkAcl

TCP, UDP, ICMP = 6, 17, 1
CLIENT = int(ipaddress.IPv4Address("10.0.2.10"))
SERVER = int(ipaddress.IPv4Address("10.0.1.10"))
OUTSIDE = int(ipaddress.IPv4Address("192.0.2.7"))


def acl(*entries: PlanNaclEntry, acl_id: str = "acl-0123456789abcdef0") -> NetworkAcl:
    return NetworkAcl.from_plan(PlanNetworkAcl(acl_id, "web", "v", False, ("subnet-a",), entries))


def inbound(rule: int, action: str, proto: int, cidr: str, lo: int = 0, hi: int = 65535):
    return PlanNaclEntry(rule, False, proto, action, cidr, lo, hi)  # type: ignore[arg-type]


def outbound(rule: int, action: str, proto: int, cidr: str, lo: int = 0, hi: int = 65535):
    return PlanNaclEntry(rule, True, proto, action, cidr, lo, hi)  # type: ignore[arg-type]


def test_lowest_rule_number_wins_whatever_the_file_order() -> None:
    a = acl(
        inbound(200, "allow", TCP, "0.0.0.0/0", 80, 80),
        inbound(100, "deny", TCP, "10.0.2.0/24", 80, 80),
    )
    v = a.judge("inbound", TCP, CLIENT, SERVER, 40000, 80)
    assert (v.allowed, v.rule_id, v.sg_id, v.direction) == (
        False,
        "100",
        "acl-0123456789abcdef0",
        "ingress",
    )
    v = a.judge("inbound", TCP, OUTSIDE, SERVER, 40000, 80)
    assert (v.allowed, v.rule_id) == (True, "200")


def test_nothing_matches_final_star_deny() -> None:
    a = acl(inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80))
    v = a.judge("inbound", TCP, CLIENT, SERVER, 40000, 443)
    assert not v.allowed and v.rule_id == "*" and v.action == "REJECT"
    # An ACL without outbound rules denies everything leaving.
    assert not a.judge("outbound", TCP, SERVER, CLIENT, 80, 40000).allowed


def test_the_32767_entry_of_the_plan_is_the_fall_through_not_a_rule() -> None:
    a = acl(
        inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
        inbound(32767, "deny", -1, "0.0.0.0/0"),
    )
    assert [e.rule_number for e in a.inbound] == [100]
    assert a.judge("inbound", UDP, CLIENT, SERVER, 1, 53).rule_id == "*"


def test_ephemeral_port_trap_reply_needs_its_own_outbound_rule() -> None:
    """Inbound 80 allowed, outbound only 80: the SYN enters, the SYN-ACK cannot leave."""
    trap = acl(
        inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
        outbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
    )
    assert trap.judge("inbound", TCP, CLIENT, SERVER, 40112, 80).allowed
    reply = trap.judge("outbound", TCP, SERVER, CLIENT, 80, 40112)
    assert not reply.allowed and reply.rule_id == "*"

    fixed = acl(
        inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
        outbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
        outbound(110, "allow", TCP, "0.0.0.0/0", 1024, 65535),
    )
    reply = fixed.judge("outbound", TCP, SERVER, CLIENT, 80, 40112)
    assert reply.allowed and reply.rule_id == "110" and reply.direction == "egress"


def test_stateless_no_memory_of_earlier_packets() -> None:
    a = acl(inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80))
    for _ in range(3):
        assert a.judge("inbound", TCP, CLIENT, SERVER, 40000, 80).allowed
        assert not a.judge("outbound", TCP, SERVER, CLIENT, 80, 40000).allowed


def test_inbound_matches_source_outbound_matches_destination() -> None:
    a = acl(
        inbound(100, "allow", -1, "10.0.2.0/24"),
        outbound(100, "allow", -1, "192.0.2.0/24"),
    )
    assert a.judge("inbound", UDP, CLIENT, OUTSIDE, 5, 6).allowed
    assert not a.judge("inbound", UDP, OUTSIDE, CLIENT, 5, 6).allowed
    assert a.judge("outbound", UDP, CLIENT, OUTSIDE, 5, 6).allowed
    assert not a.judge("outbound", UDP, OUTSIDE, CLIENT, 5, 6).allowed


@pytest.mark.parametrize(
    ("proto", "dport", "allowed"),
    [(TCP, 1023, False), (TCP, 1024, True), (TCP, 65535, True), (UDP, 2000, False)],
)
def test_port_ranges_are_inclusive_and_per_protocol(proto: int, dport: int, allowed: bool) -> None:
    a = acl(inbound(100, "allow", TCP, "0.0.0.0/0", 1024, 65535))
    assert a.judge("ingress", proto, CLIENT, SERVER, 1, dport).allowed is allowed


def test_all_and_other_protocol_numbers_match_every_port() -> None:
    a = acl(inbound(100, "allow", 50, "0.0.0.0/0"), inbound(110, "allow", ICMP, "0.0.0.0/0"))
    assert a.judge("inbound", 50, CLIENT, SERVER, -1, -1).allowed
    assert a.judge("inbound", ICMP, CLIENT, SERVER, 8, 0).allowed
    assert not a.judge("inbound", TCP, CLIENT, SERVER, 1, 80).allowed


def test_deny_before_allow_blocks_one_host() -> None:
    a = acl(
        inbound(90, "deny", -1, "10.0.2.10/32"),
        inbound(100, "allow", -1, "0.0.0.0/0"),
    )
    assert not a.judge("inbound", TCP, CLIENT, SERVER, 1, 80).allowed
    assert a.judge("inbound", TCP, CLIENT + 1, SERVER, 1, 80).allowed


def test_allow_all_is_the_default_acl() -> None:
    d = NetworkAcl.allow_all("acl-d")
    assert d.judge("inbound", TCP, OUTSIDE, SERVER, 1, 22).rule_id == "100"
    assert d.judge("outbound", UDP, SERVER, OUTSIDE, 1, 53).allowed


def test_crosses_only_between_subnets() -> None:
    assert not crosses("subnet-a", "subnet-a")
    assert crosses("subnet-a", "subnet-b")
    assert crosses(None, "subnet-a")
    assert crosses("subnet-a", None)


def test_table_hop_outbound_of_source_then_inbound_of_destination() -> None:
    web = acl(
        inbound(100, "allow", TCP, "0.0.0.0/0", 80, 80),
        outbound(100, "allow", TCP, "0.0.0.0/0", 1024, 65535),
        acl_id="acl-web",
    )
    table = AclTable({"subnet-a": web, "subnet-b": NetworkAcl.allow_all("acl-default")})
    # Same subnet: never judged, even where the ACL would deny.
    assert table.hop("subnet-a", "subnet-a", TCP, SERVER, SERVER + 1, 1, 9999) is None
    # Client (b) -> server (a): b's outbound allows, a's inbound decides.
    v = table.hop("subnet-b", "subnet-a", TCP, CLIENT, SERVER, 40000, 80)
    assert v is not None and v.allowed and v.sg_id == "acl-web" and v.direction == "ingress"
    # Server (a) -> client (b) reply: a's outbound rule 100 (ephemeral ports).
    v = table.hop("subnet-a", "subnet-b", TCP, SERVER, CLIENT, 80, 40000)
    assert v is not None and v.allowed
    # A denial on the way out stops the hop there.
    v = table.hop("subnet-a", "subnet-b", TCP, SERVER, CLIENT, 40000, 80)
    assert v is not None and not v.allowed and v.sg_id == "acl-web" and v.direction == "egress"
    # Unknown subnets (not in the table) are not judged.
    assert table.hop("subnet-x", "subnet-y", TCP, 1, 2, 3, 4) is None


TOPO = """
name: nacl
region: us-east-1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
      c: {cidr: 10.0.3.0/24, az: us-east-1a}
    network_acls:
      web:
        subnets: [a]
        inbound:
          - {rule: 200, action: allow, protocol: tcp, port: 80, cidr: 0.0.0.0/0}
          - {rule: 100, action: deny, protocol: all, cidr: 10.0.3.0/24}
        outbound:
          - {rule: 100, action: allow, protocol: tcp, port: 1024-65535, cidr: 0.0.0.0/0}
    hosts:
      server: {subnet: a}
"""


def test_plan_default_acl_holds_unassociated_subnets_and_entries_are_sorted() -> None:
    p = plan.build(spec.loads(TOPO))
    vpc = p.vpcs["v"]
    acls = vpc.network_acls
    assert list(acls) == ["default", "web"]
    d, web = acls["default"], acls["web"]
    assert d.is_default and not web.is_default
    assert d.id.startswith("acl-") and len(d.id) == 21 and d.id != web.id
    assert web.subnets == (vpc.subnets["a"].id,)
    assert d.subnets == (vpc.subnets["b"].id, vpc.subnets["c"].id)
    assert [(e.egress, e.rule_number) for e in web.entries] == [
        (False, 100),
        (False, 200),
        (False, 32767),
        (True, 100),
        (True, 32767),
    ]
    assert [(e.rule_number, e.rule_action, e.protocol) for e in d.entries if not e.egress] == [
        (100, "allow", -1),
        (32767, "deny", -1),
    ]
    # The plan round-trips through plan.json.
    from hyperplane_emu.plan.serialize import from_json, to_json

    assert from_json(to_json(p)) == p
    table = AclTable.from_plan(acls.values())
    c = int(ipaddress.IPv4Address("10.0.3.9"))
    s = int(ipaddress.IPv4Address("10.0.1.9"))
    denied = table.hop(vpc.subnets["c"].id, vpc.subnets["a"].id, TCP, c, s, 40000, 80)
    assert denied is not None and not denied.allowed and denied.rule_id == "100"
    b = int(ipaddress.IPv4Address("10.0.2.9"))
    ok = table.hop(vpc.subnets["b"].id, vpc.subnets["a"].id, TCP, b, s, 40000, 80)
    assert ok is not None and ok.allowed and ok.rule_id == "200"


def test_written_default_acl_replaces_allow_all() -> None:
    text = TOPO.replace(
        "    hosts:",
        "      default:\n        inbound: [{rule: 10, action: allow, protocol: udp, port: 53,"
        " cidr: 10.0.0.0/16}]\n    hosts:",
    )
    d = plan.build(spec.loads(text)).vpcs["v"].network_acls["default"]
    assert [(e.egress, e.rule_number, e.protocol) for e in d.entries] == [
        (False, 10, 17),
        (False, 32767, -1),
        (True, 32767, -1),
    ]
