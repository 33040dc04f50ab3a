"""Network ACLs compiled for per-packet evaluation (pure: no I/O, no fabric state).

Model (Amazon VPC User Guide, "Control subnet traffic with network access
control lists": https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html,
and "Network ACL rules": .../nacl-rules.html; EC2 API NetworkAclEntry,
CreateNetworkAclEntry):

- A network ACL has numbered inbound and outbound rules. AWS "processes the
  entries in the network ACL according to the rule numbers, in ascending
  order"; the first rule that matches decides (allow or deny), whatever a
  higher-numbered rule says. When none matches, the final `*` rule denies
  (AWS lists it as rule number 32767).
- Protocol -1 ("all") or a number other than 6, 17 and 1 matches every port;
  tcp/udp rules have an inclusive port range; the emulator's icmp rules match
  every ICMP type and code.
- Stateless: a reply is judged like any packet, by the rules of its own
  direction. An inbound allow for tcp/80 is not enough for a web server:
  the reply leaves with source port 80 to the client's *ephemeral* port, so the
  outbound rules must allow those ports (the "ephemeral-port trap").
- ACLs act at the subnet boundary: traffic leaving a subnet is judged by the
  outbound rules of the subnet's ACL, traffic entering by the inbound rules.
  Traffic between two ENIs of one subnet is not judged at all (`crosses`).
- A subnet is associated with exactly one ACL: the one written, or else the
  VPC's default ACL, which allows all traffic both ways (rule 100).

`NetworkAcl.judge` returns the fabric's `Verdict` (secgroup.py) so that trace
and flow logs print ACL decisions like group decisions: `sg_id` carries the
`acl-…` id and `rule_id` the rule number (`*` for the final deny).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from hyperplane_emu.plan.model import PlanNetworkAcl

from .events import FiveTuple
from .packet import PROTO_TCP, PROTO_UDP
from .secgroup import EGRESS, INGRESS, Verdict
from .tables import EniState

INBOUND = "inbound"
OUTBOUND = "outbound"
DEFAULT_DENY_RULE = 32767
"""The `*` rule: AWS's DescribeNetworkAcls shows it with this number."""
_DIRECTIONS = {INBOUND: INGRESS, OUTBOUND: EGRESS, INGRESS: INGRESS, EGRESS: EGRESS}


class CompiledEntry(NamedTuple):
    rule_number: int
    allow: bool
    proto: int  # -1 all
    lo: int
    hi: int
    net: int
    mask: int

    def matches(self, proto: int, addr: int, port: int) -> bool:
        if self.proto != -1 and self.proto != proto:
            return False
        if (addr & self.mask) != self.net:
            return False
        # Only tcp and udp rules look at ports (AWS: other protocols match every port).
        return self.proto not in (PROTO_TCP, PROTO_UDP) or self.lo <= port <= self.hi


def _compile(
    rule_number: int, action: str, protocol: int, lo: int, hi: int, cidr: str
) -> CompiledEntry:
    n = ipaddress.IPv4Network(cidr, strict=False)
    return CompiledEntry(
        rule_number, action == "allow", protocol, lo, hi, int(n.network_address), int(n.netmask)
    )


@dataclass(frozen=True)
class NetworkAcl:
    """One ACL's rules, by direction, in ascending rule order (final deny implied)."""

    id: str
    inbound: tuple[CompiledEntry, ...]
    outbound: tuple[CompiledEntry, ...]

    @classmethod
    def from_plan(cls, acl: PlanNetworkAcl) -> NetworkAcl:
        inbound: list[CompiledEntry] = []
        outbound: list[CompiledEntry] = []
        for e in acl.entries:
            if e.rule_number >= DEFAULT_DENY_RULE:
                continue  # the `*` rule is the fall-through below
            entry = _compile(
                e.rule_number, e.rule_action, e.protocol, e.from_port, e.to_port, e.cidr
            )
            (outbound if e.egress else inbound).append(entry)
        return cls(acl.id, tuple(sorted(inbound)), tuple(sorted(outbound)))

    @classmethod
    def allow_all(cls, acl_id: str) -> NetworkAcl:
        """A default ACL as AWS creates it: rule 100 allows everything, both ways."""
        everything = (_compile(100, "allow", -1, 0, 65535, "0.0.0.0/0"),)
        return cls(acl_id, everything, everything)

    @property
    def allows_everything(self) -> bool:
        """AWS's default rules (rule 100 allow all, both ways): nothing to evaluate."""
        everything = NetworkAcl.allow_all(self.id)
        return self.inbound == everything.inbound and self.outbound == everything.outbound

    def judge(
        self,
        direction: str,
        proto: int,
        src: int,
        dst: int,
        sport: int,
        dport: int,
        eni_id: str = "",
    ) -> Verdict:
        """The decision on one packet crossing this ACL's subnet boundary.

        `direction` is `inbound` (entering the subnet: the rule's CIDR is matched
        against the source) or `outbound` (leaving it: against the destination);
        `ingress`/`egress` are accepted as synonyms. The port compared is the
        destination port, as AWS's rules describe the traffic's destination port
        range in both directions. `eni_id` only labels the verdict (the ENI on
        whose behalf the boundary was crossed).
        """
        norm = _DIRECTIONS[direction]
        inbound = norm == INGRESS
        entries = self.inbound if inbound else self.outbound
        peer = src if inbound else dst
        for e in entries:
            if e.matches(proto, peer, dport):
                return Verdict(e.allow, norm, eni_id, self.id, str(e.rule_number), False)
        return Verdict(False, norm, eni_id, self.id, "*", False)


def crosses(src_subnet: str | None, dst_subnet: str | None) -> bool:
    """Whether a hop between two places crosses a subnet boundary, so that ACLs judge it.

    Subnets are given as subnet ids (or any unique key); None stands for a place
    outside every subnet of the VPCs (API Gateway's side, the internet, on-premises),
    which does cross. Two ENIs of one subnet talk without any ACL check.
    """
    return src_subnet is None or dst_subnet is None or src_subnet != dst_subnet


class AclTable:
    """Subnet id -> the ACL it is associated with; the fabric's whole NACL view."""

    def __init__(self, by_subnet: Mapping[str, NetworkAcl]) -> None:
        self.by_subnet = dict(by_subnet)

    @classmethod
    def from_plan(cls, acls: Iterable[PlanNetworkAcl], *, sparse: bool = False) -> AclTable:
        """``sparse``: leave out subnets whose ACL allows everything both ways (the
        default ACL as AWS creates it), so that new flows there evaluate nothing."""
        table = cls({})
        for acl in acls:
            table.replace(acl, sparse=sparse)
        return table

    def replace(self, acl: PlanNetworkAcl, *, sparse: bool = False) -> NetworkAcl:
        """Install an ACL's (new) rules for its subnets; returns the compiled ACL."""
        compiled = NetworkAcl.from_plan(acl)
        for subnet_id in acl.subnets:
            if sparse and compiled.allows_everything:
                self.by_subnet.pop(subnet_id, None)
            else:
                self.by_subnet[subnet_id] = compiled
        return compiled

    def hop(
        self,
        src_subnet: str | None,
        dst_subnet: str | None,
        proto: int,
        src: int,
        dst: int,
        sport: int,
        dport: int,
    ) -> Verdict | None:
        """ACL decisions on one hop: None when no ACL applies (same subnet, or
        subnets without an ACL in the table); else the first denying verdict, or
        the last allowing one (outbound of the source subnet, then inbound of the
        destination subnet, the order the packet meets them)."""
        if not crosses(src_subnet, dst_subnet):
            return None
        last: Verdict | None = None
        if src_subnet is not None and src_subnet in self.by_subnet:
            last = self.by_subnet[src_subnet].judge(OUTBOUND, proto, src, dst, sport, dport)
            if not last.allowed:
                return last
        if dst_subnet is not None and dst_subnet in self.by_subnet:
            last = self.by_subnet[dst_subnet].judge(INBOUND, proto, src, dst, sport, dport)
        return last


class Crossing(NamedTuple):
    """One hop of a flow between two places; ``ft`` is the packet on that hop."""

    src: EniState | None
    dst: EniState | None
    ft: FiveTuple

    def reversed(self) -> Crossing:
        ft = self.ft
        return Crossing(self.dst, self.src, FiveTuple(ft.proto, ft.dst, ft.src, ft.dport, ft.sport))
