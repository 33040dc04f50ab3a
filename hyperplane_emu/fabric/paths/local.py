"""Routes to an ENI of the VPC: ``local`` (the ENI with the destination address)
and ``eni-…`` targets (an appliance ENI, e.g. a NAT instance). Both end in
`Datapath.deliver`, which hands fronts (NLB nodes, endpoints…) to their path."""

from __future__ import annotations

from ..datapath import Datapath, Frames
from ..packet import Packet
from ..reasons import DropReason
from ..routing import Route
from ..tables import EniState


def route_local(
    dp: Datapath, eni: EniState, route: Route, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    dst = eni.vpc.enis.get(p.dst)
    # A host needs a port; a front (endpoint, API Gateway's fronts) has none of its
    # own: its path decides where the flow goes.
    if dst is None or (dst.port < 0 and dst.kind not in ("vpce", "apigw-public", "vpclink-front")):
        return dp.drop(DropReason.NO_ENI, eni, p, now, str(route))  # AWS drops silently
    return dp.deliver(eni, dst, route, p, frame, now, tracing)


def route_eni(
    dp: Datapath, eni: EniState, route: Route, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    for st in eni.vpc.enis.values():
        if st.id == route.target:
            if st.port < 0:
                return dp.drop(DropReason.NO_ENI, eni, p, now, str(route))
            return dp.deliver(eni, st, route, p, frame, now, tracing)
    # AWS: a route whose target is gone is a blackhole.
    return dp.drop(DropReason.BLACKHOLE, eni, p, now, str(route))
