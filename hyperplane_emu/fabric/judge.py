"""Security groups at work: the one place a verdict is reached and recorded.

How it works: every path that opens a flow (and the re-judging of untracked
flows) asks `judge` once per ENI whose groups apply: the sender's egress, the
receiver's (or the target's) ingress, and on PrivateLink the endpoint ENI's
ingress in between. `judge` evaluates the ENI's compiled `EniPolicy`, traces
the verdict when the flow is traced, and on a rejection does everything AWS
shows for it: a REJECT flow-log record on the judging ENI (for an ingress
rejection also the ACCEPT the sender's egress earned), the
``dropped.sg-egress``/``sg-ingress`` counter, a `DropEvent` and a drop hop.
The caller only stops: ``if not v.allowed: return []``.

A future filter of the same kind (network ACLs, NLB security groups) is
another function like this one, called by the paths it applies to.
"""

from __future__ import annotations

from .datapath import Datapath
from .events import FiveTuple
from .flowlog import ACCEPT, REJECT
from .packet import PROTO_ICMP, Packet
from .reasons import DropReason
from .secgroup import EGRESS, Verdict
from .tables import EniState

NO_RULE = "no rule matched"


def judge(
    dp: Datapath,
    direction: str,
    eni: EniState,
    p: Packet,
    now: float,
    peer_ip: int,
    peer_groups: frozenset[str],
    tracing: bool,
    *,
    ports: tuple[int, int] | None = None,
    seen: FiveTuple | None = None,
    sender: str | None = None,
    sender_saw: FiveTuple | None = None,
    detail: str = NO_RULE,
    exempt: bool = False,
) -> Verdict:
    """`eni`'s security groups on packet `p` going `direction` (ingress: from `peer_ip`,
    egress: to it; `peer_groups`: the peer ENI's groups, for SG-reference rules).

    ``ports``: what the rules match, when not the packet's own (a translated
    packet's destination port); ``seen``: the 5-tuple on `eni`'s side, for its
    flow-log record (default: the packet's); ``sender``: for an ingress
    rejection, the ENI whose egress let the packet out, recorded ACCEPT with
    ``sender_saw`` (default: ``seen``); ``exempt``: traffic no group filters
    (to the Amazon DNS server)."""
    if exempt:
        v = Verdict(True, direction, eni.id, None, None, False)
    else:
        if ports is None:  # inline Packet.sg_ports: this runs for every new flow
            ports = (p.icmp_type, p.icmp_code) if p.proto == PROTO_ICMP else (p.dport, 0)
        v = eni.policy.evaluate(direction, p.proto, ports[0], ports[1], peer_ip, peer_groups)
    egress = direction == EGRESS
    if tracing:
        step = "egress-sg" if egress else "ingress-sg"
        dp.hop(now, p.five(), step, eni.id, v.action, describe(v))
    if not v.allowed:
        ft = seen if seen is not None else p.five()
        if sender is not None:
            dp.flowlog.add(sender, ACCEPT, sender_saw or ft, p.tot_len, now)
        dp.flowlog.add(eni.id, REJECT, ft, p.tot_len, now)
        reason = DropReason.SG_EGRESS if egress else DropReason.SG_INGRESS
        dp.drop(reason, eni, p, now, detail)
    return v


def describe(v: Verdict) -> str:
    """A verdict as a trace hop's detail: the rule, or why there is none."""
    if not v.allowed:
        detail = NO_RULE
    elif v.sg_id is None:
        detail = "no security groups on this ENI (not filtered)"
    else:
        detail = f"{v.sg_id} {v.rule_id}"
    if v.untracked:
        detail += " untracked"
    return detail
