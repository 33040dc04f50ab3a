"""New flows to an HTTP API VPC link's front (API Gateway -> a private target).

How it works: the link has one ENI per subnet in the target's VPC (VPC-to-VPC
NAT, "Hyperplane ENIs"). A flow to the front's port leaves from the link ENI in
the target's AZ: to an NLB (then through that NLB's node as any client's flow,
keeping the link ENI's address when the target group preserves client IPs) or
straight to an instance/IP target. The link ENI's egress rules judge the first
hop, the target's ingress rules the address it sees; the flow opens translated.
"""

from __future__ import annotations

from .. import boundary
from ..datapath import Datapath, Frames
from ..events import FiveTuple
from ..judge import judge
from ..nacl import Crossing
from ..nat import PathLog, Translation, nat_port
from ..nlb import flow_hash
from ..packet import PROTO_TCP, TCP_ACK, TCP_RST, TCP_SYN, Packet
from ..reasons import DropReason
from ..secgroup import EGRESS, INGRESS
from ..tables import NO_GROUPS, EniState, ip

DIRECT_IDLE = 350
"""Idle timeout of a TCP flow to an instance/IP target (no NLB listener to say)."""


def path(
    dp: Datapath, eni: EniState, front: EniState, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    if p.proto != PROTO_TCP or p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
        return dp.drop(DropReason.VPCLINK_NO_FLOW, front, p, now)
    topo = dp.topology
    state = topo.links_of_front[front.id]
    link, link_enis = state.link, state.enis
    entry = state.targets.get(p.dport)
    if entry is None or not link_enis:
        return dp.drop(DropReason.VPCLINK_NO_TARGET, front, p, now, link.id)
    client_ft = p.five()
    off = 14 + p.ihl + 4
    h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, int.from_bytes(frame[off : off + 4]))
    by_az = {e.az: e for e in link_enis}
    if entry.kind == "nlb":
        lb = topo.load_balancers.get(entry.key)
        if lb is None:
            return dp.drop(DropReason.VPCLINK_NO_TARGET, front, p, now, entry.key)
        link_eni = next((by_az[n.az] for n in lb.nodes if n.az in by_az), link_enis[0])
        node = lb.node_for(link_eni.az)
        listener = lb.listeners.get((p.proto, entry.dport))
        if listener is None:
            return dp.drop(DropReason.NLB_NO_LISTENER, node, p, now, lb.name)
        tg, idle = listener
        target = tg.choose(node.az, lb.cross_zone, h)
        if isinstance(target, DropReason):
            return dp.drop(target, node, p, now, f"{lb.name} {tg.name}")
        t_eni, t_ip, t_port = target.eni, target.ip, target.port
        # With client IP preservation the target sees the link ENI, else the NLB node.
        src_eni = link_eni if tg.preserve_client_ip else node
        # What the link ENI's egress rules judge: the NLB node on the listener port.
        first_hop, first_port, first_groups = node.ip, entry.dport, node.groups
    else:
        t_ip, t_port = ip(entry.ip), entry.dport
        t_eni = next((st for st in topo.enis.values() if st.ip == t_ip
                      and st.vpc.name == link.vpc and st.port >= 0), None)  # fmt: skip
        link_eni = by_az.get(entry.az, link_enis[0])
        src_eni, node, idle = link_eni, link_eni, DIRECT_IDLE
        first_hop, first_port = t_ip, t_port
        first_groups = t_eni.groups if t_eni is not None else NO_GROUPS
    if t_eni is None or t_eni.port < 0:
        return dp.drop(DropReason.TARGET_NOT_EMULATED, link_eni, p, now, entry.key)
    pvpc = link_eni.vpc
    if tracing:
        what = f"V2 link {link.id} ({link.name}): Hyperplane ENI -> {entry.kind} {entry.key}"
        dp.hop(now, client_ft, "vpc-link", link_eni.id, "FORWARD", what)
    ve = judge(
        dp, EGRESS, link_eni, p, now, first_hop, first_groups, tracing,
        ports=(first_port, 0), detail="no rule matched (VPC link)",
    )  # fmt: skip
    if not ve.allowed:
        return []
    new_src = src_eni.ip
    port = nat_port(dp.conntrack.table, pvpc.index, p.proto, t_ip, t_port, new_src, h)
    if port is None:
        return dp.drop(DropReason.NAT_PORTS_EXHAUSTED, link_eni, p, now, link.id)
    prov_ft = FiveTuple(p.proto, new_src, t_ip, port, t_port)
    if tracing:
        dp.hop(now, client_ft, "nat", link_eni.id, "FORWARD", f"{client_ft} -> {prov_ft}")
    acl: tuple[Crossing, ...] = ()
    if node is not link_eni:
        # Through an NLB: the link ENI -> node hop, then node -> target.
        to_node = FiveTuple(p.proto, link_eni.ip, node.ip, port, entry.dport)
        if node.kind == "nlb" and not node.unfiltered:  # the NLB's group must admit the link
            vn = judge(
                dp, INGRESS, node, p, now, link_eni.ip, link_eni.groups, tracing,
                ports=(entry.dport, 0), seen=to_node, sender=link_eni.id,
            )  # fmt: skip
            if not vn.allowed:
                return []
            vo = judge(
                dp, EGRESS, node, p, now, t_ip, t_eni.groups, tracing,
                ports=(t_port, 0), seen=prov_ft,
            )  # fmt: skip
            if not vo.allowed:
                return []
        acl = boundary.hop(link_eni, node, to_node) + boundary.hop(node, t_eni, prov_ft)
    else:
        acl = boundary.hop(link_eni, t_eni, prov_ft)
    if acl and not boundary.cross(dp, acl, p, now, tracing):
        return []
    peer_groups = src_eni.groups | node.groups
    vt = judge(
        dp, INGRESS, t_eni, p, now, new_src, peer_groups, tracing,
        ports=(t_port, 0), seen=prov_ft, sender=link_eni.id,
    )  # fmt: skip
    if not vt.allowed:
        return []
    if node is not link_eni:
        log: PathLog = ((eni.id, False), (link_eni.id, True), (node.id, True), (t_eni.id, True))
    else:
        log = ((eni.id, False), (link_eni.id, True), (t_eni.id, True))
    dp.count("vpclink.flows")
    nat = Translation(pvpc, new_src, port, t_ip, t_port, link, idle, log)
    return dp.open_flow(eni, t_eni, p, frame, now, (ve, vt), tracing, nat, acl)
