"""Security groups compiled for per-packet evaluation.

Model (AWS EC2 User Guide, "Security group rules" and "Security group
connection tracking"):

- Allow-only, stateful, separate ingress and egress rules. A packet that opens
  a new flow must be allowed by the *egress* rules of the sending ENI and the
  *ingress* rules of the receiving ENI; an ENI's rules are the union of the
  rules of all its groups. Nothing matched -> the packet is dropped silently.
- A rule's peer is a CIDR or another security group (matches any ENI that has
  that group, by its private address).
- TCP/UDP rules have a port range; ICMP rules have a type (``from_port``) and a
  code (``to_port``), -1 meaning any; protocol -1 ("all") matches everything.
- Untracked flows: a TCP or UDP flow allowed by a rule whose peer is
  0.0.0.0/0, on an ENI that also has a rule in the *other* direction for
  0.0.0.0/0 on all ports of that protocol, is not tracked on that ENI. Its
  packets keep being judged by the rules, so removing the rule cuts it at
  once. ICMP and other protocols are always tracked.

`EniPolicy.evaluate` returns a `Verdict` that names the matching rule, or says
that no rule matched. Rules are compiled once per change into per-protocol
tuples (protocol-specific rules first, then the "all" rules) with CIDRs as
(network, mask) ints, so evaluation is a short scan with integer compares.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from hyperplane_emu.plan.model import PlanSecurityGroup

from .packet import PROTO_ICMP, PROTO_TCP, PROTO_UDP

INGRESS = "ingress"
EGRESS = "egress"
_OPEN_NET = (0, 0)  # 0.0.0.0/0 as (network, mask)


class CompiledRule(NamedTuple):
    rule_id: str
    sg_id: str
    proto: int  # -1 = all
    lo: int  # port range; for ICMP: type (-1 any)
    hi: int  # for ICMP: code (-1 any)
    net: int
    mask: int
    group_id: str | None  # set for SG-reference rules (then net/mask unused)

    @property
    def open(self) -> bool:
        """Peer is 0.0.0.0/0: the first half of AWS's untracked condition."""
        return self.group_id is None and self.mask == 0

    @property
    def all_ports(self) -> bool:
        return self.proto == -1 or (
            self.proto in (PROTO_TCP, PROTO_UDP)
            and (self.lo == -1 or (self.lo <= 0 and self.hi >= 65535))
        )


class Verdict(NamedTuple):
    """Decision of one ENI's security groups on one packet (never a bare bool)."""

    allowed: bool
    direction: str  # "ingress" | "egress"
    eni_id: str
    sg_id: str | None  # group of the matching rule
    rule_id: str | None  # sgr-… of the matching rule
    untracked: bool  # allowed under AWS's untracked-flow condition on this ENI

    @property
    def action(self) -> str:
        return "ACCEPT" if self.allowed else "REJECT"

    def __str__(self) -> str:
        if not self.allowed:
            return f"ENI {self.eni_id} {self.direction} REJECT no rule matched"
        tracking = " (untracked)" if self.untracked else ""
        where = f"ENI {self.eni_id} {self.direction} SG {self.sg_id}"
        return f"{where} rule {self.rule_id} ACCEPT{tracking}"


def compile_group(sg: PlanSecurityGroup) -> dict[str, tuple[CompiledRule, ...]]:
    """Rules of one group by direction, CIDRs turned into ints. IPv6 CIDRs are skipped."""
    out: dict[str, list[CompiledRule]] = {INGRESS: [], EGRESS: []}
    for r in sg.rules:
        net = mask = 0
        if r.group_id is None:
            if r.cidr is None:
                continue
            try:
                n = ipaddress.ip_network(r.cidr, strict=False)
            except ValueError:
                continue
            if n.version != 4:
                continue
            net, mask = int(n.network_address), int(n.netmask)
        lo, hi = r.from_port, r.to_port
        out[r.direction].append(
            CompiledRule(r.rule_id, sg.id, r.protocol, lo, hi, net, mask, r.group_id)
        )
    return {d: tuple(rules) for d, rules in out.items()}


def _port_match(rule: CompiledRule, proto: int, a: int, b: int) -> bool:
    if rule.proto == -1:
        return True
    if proto in (PROTO_TCP, PROTO_UDP):
        # -1 = every port (how the EC2 API spells "all" for some rule shapes)
        return rule.lo == -1 or rule.lo <= a <= rule.hi
    if proto == PROTO_ICMP:
        return (rule.lo == -1 or rule.lo == a) and (rule.hi == -1 or rule.hi == b)
    return True  # other protocols have no ports


class EniPolicy:
    """The union of an ENI's security groups, ready for per-packet evaluation."""

    __slots__ = ("eni_id", "group_ids", "_rules", "_open_all_ports", "unfiltered", "_verdicts")

    def __init__(
        self,
        eni_id: str,
        group_ids: Iterable[str],
        compiled: dict[str, dict[str, tuple[CompiledRule, ...]]],
        unfiltered: bool = False,
    ) -> None:
        self.eni_id = eni_id
        # ENIs no security group applies to (NLB nodes, the DNS server, API Gateway's
        # own): every packet is allowed, with a verdict that names no rule.
        self.unfiltered = unfiltered
        self.group_ids = frozenset(group_ids)
        self._rules: dict[str, dict[int, tuple[CompiledRule, ...]]] = {}
        self._open_all_ports: dict[str, frozenset[int]] = {}
        # Verdicts are immutable and few (one per rule, direction and tracking): every
        # flow they admit shares them (a flow keeps its verdicts for status and trace).
        self._verdicts: dict[tuple[str, int, bool], Verdict] = {}
        for d in (INGRESS, EGRESS):
            self._verdicts[(d, 0, True)] = Verdict(True, d, eni_id, None, None, False)
            self._verdicts[(d, 0, False)] = Verdict(False, d, eni_id, None, None, False)
        for direction in (INGRESS, EGRESS):
            rules = [
                r for g in sorted(self.group_ids) for r in compiled.get(g, {}).get(direction, ())
            ]
            any_proto = tuple(r for r in rules if r.proto == -1)
            by_proto: dict[int, tuple[CompiledRule, ...]] = {-1: any_proto}
            for p in {r.proto for r in rules if r.proto != -1}:
                by_proto[p] = tuple(r for r in rules if r.proto == p) + any_proto
            self._rules[direction] = by_proto
            self._open_all_ports[direction] = frozenset(
                r.proto for r in rules if r.open and r.all_ports
            )

    def evaluate(
        self,
        direction: str,
        proto: int,
        a: int,
        b: int,
        peer_ip: int,
        peer_groups: frozenset[str],
    ) -> Verdict:
        """Judge a packet opening a flow; ``peer_*`` = the other end (source for ingress).

        ``a``/``b`` are the destination port for TCP/UDP (``b`` unused) or
        the ICMP type/code.
        """
        if self.unfiltered:
            return self._verdicts[(direction, 0, True)]
        by_proto = self._rules[direction]
        first: CompiledRule | None = None
        any_open = False
        for r in by_proto.get(proto, by_proto[-1]):
            if not _port_match(r, proto, a, b):
                continue
            if r.group_id is not None:
                if r.group_id not in peer_groups:
                    continue
            elif peer_ip & r.mask != r.net:
                continue
            if first is None:
                first = r
            if r.mask == 0 and r.group_id is None:
                any_open = True
                break
        if first is None:
            return self._verdicts[(direction, 0, False)]
        untracked = False
        if any_open and (proto in (PROTO_TCP, PROTO_UDP)):
            other = self._open_all_ports[EGRESS if direction == INGRESS else INGRESS]
            untracked = proto in other or -1 in other
        key = (direction, id(first), untracked)  # rules live as long as the policy
        v = self._verdicts.get(key)
        if v is None:
            v = Verdict(True, direction, self.eni_id, first.sg_id, first.rule_id, untracked)
            self._verdicts[key] = v
        return v
