"""Network ACLs at work: a packet crossing subnet boundaries, judged and recorded.

How it works: a path that opens a flow lists the hops its packet makes between
two places (`Crossing`: the ENI it leaves, the ENI it reaches, the 5-tuple on
that hop; None for a place outside every subnet: the internet, on premises, API
Gateway's side). `cross` judges each hop with `nacl.AclTable`: the source
subnet's outbound rules, then the destination subnet's inbound rules; two ENIs
of one subnet cross nothing. A denial does what AWS shows for it: a REJECT
flow-log record on the ENI whose subnet's ACL denied (for an inbound denial
also the ACCEPT the sender's side earned), ``dropped.nacl-outbound`` /
``nacl-inbound``, a `DropEvent` and a trace hop naming the ACL and rule.

ACLs are stateless, so a reply is judged by its own direction's rules. The
flow keeps its request crossings (`Flow.acl`) and the reversed ones for the
reply (`Flow.acl_reply`), judged once when the first reply packet arrives and
then cached with the flow (see docs/fabric.md, "Network ACLs"); a rule change
re-judges live flows and ends those now denied (`Fabric.replace_network_acl`).
"""

from __future__ import annotations

from collections.abc import Iterable

from .conntrack import Flow
from .datapath import Datapath
from .events import FiveTuple
from .flowlog import ACCEPT, REJECT
from .nacl import AclTable, Crossing, NetworkAcl
from .packet import Packet
from .reasons import DropReason
from .secgroup import Verdict
from .tables import EniState


def hop(src: EniState | None, dst: EniState | None, ft: FiveTuple) -> tuple[Crossing, ...]:
    """The crossing between two places, or none when they share a subnet (no ACL applies)."""
    s = src.subnet if src is not None else None
    d = dst.subnet if dst is not None else None
    if s is not None and s == d:
        return ()
    return (Crossing(src, dst, ft),)


def replies(crossings: tuple[Crossing, ...]) -> tuple[Crossing, ...]:
    """The hops a reply makes: the same boundaries, the other way, in reverse order."""
    return tuple(c.reversed() for c in reversed(crossings))


def _verdicts(acls: AclTable, c: Crossing) -> list[tuple[NetworkAcl, Verdict, EniState | None]]:
    ft = c.ft
    out = []
    s = c.src.subnet if c.src is not None else None
    d = c.dst.subnet if c.dst is not None else None
    by_subnet = acls.by_subnet
    if s is not None and s in by_subnet:
        acl = by_subnet[s]
        v = acl.judge("outbound", ft.proto, ft.src, ft.dst, ft.sport, ft.dport, _id(c.src))
        out.append((acl, v, c.src))
        if not v.allowed:
            return out
    if d is not None and d in by_subnet:
        acl = by_subnet[d]
        v = acl.judge("inbound", ft.proto, ft.src, ft.dst, ft.sport, ft.dport, _id(c.dst))
        out.append((acl, v, c.dst))
    return out


def allowed(acls: AclTable, crossings: tuple[Crossing, ...]) -> bool:
    """Whether every hop passes (no records, no events: for re-judging live flows)."""
    return all(v.allowed for c in crossings for _, v, _ in _verdicts(acls, c))


def denied(acls: AclTable, flows: Iterable[Flow]) -> list[Flow]:
    """Live flows the ACLs now deny: the request's hops, and the reply's once judged
    (a reply still pending is judged when it comes)."""
    out = []
    for flow in flows:
        if flow.acl:
            hops = flow.acl if flow.acl_reply is not None else flow.acl + replies(flow.acl)
            if not allowed(acls, hops):
                out.append(flow)
    return out


def cross(
    dp: Datapath,
    crossings: tuple[Crossing, ...],
    p: Packet,
    now: float,
    tracing: bool,
) -> bool:
    """Judge `p`'s hops; False (and everything recorded) when an ACL denies one."""
    acls = dp.topology.acls
    if not acls.by_subnet:
        return True
    for c in crossings:
        for acl, v, eni in _verdicts(acls, c):
            outbound = v.direction == "egress"
            if tracing:
                step = "nacl-outbound" if outbound else "nacl-inbound"
                dp.hop(now, p.five(), step, eni.id if eni else "-", v.action, describe(v))
            if v.allowed:
                continue
            if eni is not None:
                if not outbound and c.src is not None:
                    dp.flowlog.add(c.src.id, ACCEPT, c.ft, p.tot_len, now, p.tcp_flags)
                dp.flowlog.add(eni.id, REJECT, c.ft, p.tot_len, now, p.tcp_flags)
            reason = DropReason.NACL_OUTBOUND if outbound else DropReason.NACL_INBOUND
            dp.drop(reason, eni, p, now, f"{describe(v)} ({acl.id}, {c.ft})")
            return False
    return True


def describe(v: Verdict) -> str:
    """An ACL verdict as trace and drops print it: the ACL and the rule that decided."""
    if v.rule_id == "*":
        return f"{v.sg_id} rule * (no rule matched)"
    return f"{v.sg_id} rule {v.rule_id}"


def _id(eni: EniState | None) -> str:
    return eni.id if eni is not None else ""
