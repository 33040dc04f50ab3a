"""Routes to a virtual private gateway: the emulated on-premises network (a VPC
of its own) and the VPC behind the same gateway reach each other unchanged.

How it works: the peer is the other VPC whose routes use the same ``vgw-…`` and
whose CIDR holds the destination. Addresses are kept (no NAT), but the flow's
two halves live in different VPCs, so it is opened as a translation to the same
tuple in the peer VPC. An interface endpoint or NLB there is reached as from
inside. Security groups of the two sides cannot reference each other's groups
(different VPCs): peers match by CIDR only.
"""

from __future__ import annotations

from .. import boundary
from ..datapath import Datapath, Frames
from ..judge import judge
from ..nat import Translation
from ..packet import PROTO_TCP, PROTO_UDP, Packet
from ..reasons import DropReason
from ..routing import Route
from ..secgroup import EGRESS, INGRESS
from ..tables import NO_GROUPS, EniState
from . import loadbalanced


def path(
    dp: Datapath, eni: EniState, route: Route, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    peer = next(
        (
            v for v in dp.topology.vpcs.values()
            if v is not eni.vpc and v.contains(p.dst)
            and any(r.target == route.target for r in v.routes.routes)
        ),
        None,
    )  # fmt: skip
    if peer is None or p.proto not in (PROTO_TCP, PROTO_UDP):
        return dp.drop(DropReason.VGW_UNREACHABLE, eni, p, now, str(route))
    dst = peer.enis.get(p.dst)
    if dst is None:
        return dp.drop(DropReason.NO_ENI, eni, p, now, f"{peer.name} via {route.target}")
    if tracing:
        dp.hop(now, p.five(), "vgw", route.target, "FORWARD", f"{eni.vpc.name} -> {peer.name}")
    if dst.kind in ("nlb", "vpce"):
        return loadbalanced.path(dp, eni, dst, p, frame, now, tracing)
    if dst.port < 0:
        return dp.drop(DropReason.NO_ENI, eni, p, now, dst.id)
    ve = judge(dp, EGRESS, eni, p, now, p.dst, NO_GROUPS, tracing)
    if not ve.allowed:
        return []
    acl = boundary.hop(eni, dst, p.five())  # two subnets of two VPCs: both ACLs judge
    if acl and not boundary.cross(dp, acl, p, now, tracing):
        return []
    vi = judge(dp, INGRESS, dst, p, now, p.src, NO_GROUPS, tracing, sender=eni.id)
    if not vi.allowed:
        return []
    nat = Translation(
        peer, p.src, p.sport, p.dst, p.dport, route.target, 0, ((eni.id, False), (dst.id, True))
    )
    return dp.open_flow(eni, dst, p, frame, now, (ve, vi), tracing, nat, acl)
