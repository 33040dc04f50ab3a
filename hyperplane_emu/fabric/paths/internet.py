"""Routes to an internet gateway: out of the VPC to the emulated internet.

How it works: the source becomes the VPC's public address (the ``igw`` ENI's,
as behind a NAT gateway) with a free NAT port; the destination is an address
of the emulated internet VPC: a client there, or API Gateway's regional front,
whose listener hands the flow to API Gateway's ENI (the regional front
preserves the caller's address inbound; outbound callers are NATed here).
Only new TCP flows start with a SYN; UDP flows start with any packet.
"""

from __future__ import annotations

from .. import boundary
from ..datapath import Datapath, Frames
from ..events import FiveTuple
from ..judge import judge
from ..nat import Translation, nat_port
from ..nlb import flow_hash
from ..packet import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, TCP_SYN, Packet
from ..reasons import DropReason
from ..routing import Route
from ..secgroup import EGRESS, INGRESS
from ..tables import NO_GROUPS, EniState

INTERNET_IDLE = 350
"""Idle timeout of a TCP flow through the gateway's NAT (as an NLB's)."""


def path(
    dp: Datapath, eni: EniState, route: Route, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    topo = dp.topology
    inet = topo.internet
    igw = topo.igw_of_vpc.get(eni.vpc.name)
    if inet is None or igw is None or p.proto not in (PROTO_TCP, PROTO_UDP):
        return dp.drop(DropReason.ROUTE_TARGET_NOT_EMULATED, eni, p, now, str(route))
    dst = inet.enis.get(p.dst)
    if dst is None:
        return dp.drop(DropReason.INTERNET_UNREACHABLE, eni, p, now, "not an emulated address")
    ve = judge(dp, EGRESS, eni, p, now, p.dst, NO_GROUPS, tracing)
    if not ve.allowed:
        return []
    if p.proto == PROTO_TCP and p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
        return dp.drop(DropReason.NAT_NO_FLOW, igw, p, now)
    h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, 0)
    if dst.kind == "apigw-public":
        front = topo.lb_of_node[dst.id]
        listener = front.listeners.get((p.proto, p.dport))
        if listener is None:
            return dp.drop(DropReason.NLB_NO_LISTENER, dst, p, now, "API Gateway")
        target = listener[0].targets[0]
        t_eni, t_ip, t_port = target.eni, target.ip, target.port
        pvpc = front.vpc
    else:
        t_eni, t_ip, t_port, pvpc = dst, p.dst, p.dport, inet
    if t_eni is None:
        return dp.drop(DropReason.TARGET_NOT_EMULATED, dst, p, now)
    port = nat_port(dp.conntrack.table, pvpc.index, p.proto, t_ip, t_port, igw.ip, h)
    if port is None:
        return dp.drop(DropReason.NAT_PORTS_EXHAUSTED, igw, p, now)
    client_ft = p.five()
    prov_ft = FiveTuple(p.proto, igw.ip, t_ip, port, t_port)
    if tracing:
        dp.hop(now, client_ft, "internet-gateway", igw.id, "FORWARD",
               f"{route} : {client_ft} -> {prov_ft}")  # fmt: skip
    vt = judge(
        dp, INGRESS, t_eni, p, now, igw.ip, NO_GROUPS, tracing,
        ports=(t_port, 0), seen=prov_ft, sender=eni.id, sender_saw=client_ft,
    )  # fmt: skip
    if not vt.allowed:
        return []
    acl = boundary.hop(eni, None, client_ft)  # leaving the subnet for the internet
    if acl and not boundary.cross(dp, acl, p, now, tracing):
        return []
    dp.count("internet.flows")
    log = ((eni.id, False), (igw.id, True), (t_eni.id, True))
    nat = Translation(pvpc, igw.ip, port, t_ip, t_port, igw, INTERNET_IDLE, log)
    return dp.open_flow(eni, t_eni, p, frame, now, (ve, vt), tracing, nat, acl)
