"""New flows to a load-balanced front: an NLB node, an interface endpoint ENI, or
API Gateway's regional front.

How it works: the client's egress rules judge the front; an endpoint ENI's own
ingress rules judge the client and the endpoint connection must be
`available`. The node (the front itself, or for PrivateLink the service NLB's
node in the endpoint's AZ / the endpoint's own ingress address for
execute-api) hashes the flow (TCP: with the SYN's sequence number) onto a
target of the listener's target group (`TargetGroupState.choose`). The source
stays the client's when the target group preserves client IPs (never over
PrivateLink), else becomes the node's address with a free NAT port. The
target's ingress rules judge what it will see, and the flow opens translated.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from .. import boundary, ppv2, tcpreset
from ..datapath import Datapath, Frames
from ..events import FiveTuple
from ..flowlog import ACCEPT, REJECT
from ..judge import judge
from ..nat import PathLog, Translation, nat_port
from ..nlb import EndpointState, flow_hash
from ..packet import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, TCP_SYN, Packet
from ..reasons import ENDPOINT_NOT_AVAILABLE, DropReason
from ..secgroup import EGRESS, INGRESS, Verdict
from ..tables import NO_GROUPS, EniState


def path(
    dp: Datapath, eni: EniState, front: EniState, p: Packet, frame: bytes, now: float, tracing: bool
) -> Frames:
    if p.proto not in (PROTO_TCP, PROTO_UDP) or p.later_fragment:
        return dp.drop(DropReason.NLB_PROTOCOL_NOT_FORWARDED, front, p, now)
    topo = dp.topology
    client_ft = p.five()
    ve = judge(dp, EGRESS, eni, p, now, p.dst, front.groups, tracing)
    if not ve.allowed:
        return []
    acl = boundary.hop(eni, front, client_ft)  # client -> NLB node / endpoint ENI
    if acl and not boundary.cross(dp, acl, p, now, tracing):
        return []
    endpoint: EndpointState | None = None
    verdicts: tuple[Verdict, ...] = (ve,)
    if front.kind == "vpce":
        endpoint = topo.endpoint_of_eni[front.id]
        vi = judge(dp, INGRESS, front, p, now, p.src, eni.groups, tracing, sender=eni.id)
        if not vi.allowed:
            return []
        verdicts += (vi,)
        if endpoint.state != "available":
            dp.flowlog.add(eni.id, ACCEPT, client_ft, p.tot_len, now)
            dp.flowlog.add(front.id, REJECT, client_ft, p.tot_len, now)
            return dp.drop(ENDPOINT_NOT_AVAILABLE[endpoint.state], front, p, now, endpoint.id)
        lb = endpoint.lb
        if lb is None:
            return dp.drop(DropReason.SERVICE_NOT_EMULATED, front, p, now, endpoint.service_id)
        if endpoint.nodes:
            node = endpoint.nodes.get(front.az) or next(iter(endpoint.nodes.values()))
        else:
            node = lb.node_for(front.az)
        preserve: bool | None = False  # PrivateLink: targets see the NLB's address
        if node.kind == "nlb" and not node.unfiltered and lb.enforce_privatelink:
            # AWS: with inbound rules on PrivateLink traffic, "the source of the traffic
            # is the private IP address of the client, not the endpoint interface".
            vn = judge(dp, INGRESS, node, p, now, p.src, NO_GROUPS, tracing, sender=front.id)
            if not vn.allowed:
                return []
            verdicts += (vn,)
    else:
        lb = topo.lb_of_node[front.id]
        node = front
        preserve = None
        if front.kind == "nlb" and not front.unfiltered:  # an NLB with groups: inbound rules
            vn = judge(dp, INGRESS, front, p, now, p.src, eni.groups, tracing, sender=eni.id)
            if not vn.allowed:
                return []
            verdicts += (vn,)
    listener = lb.listeners.get((p.proto, p.dport))
    if listener is None:
        return dp.drop(DropReason.NLB_NO_LISTENER, front, p, now, lb.name)
    tg, idle = listener
    seq = 0
    if p.proto == PROTO_TCP:
        if p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
            # AWS: a packet for a connection the NLB does not know is answered by a RST.
            dp.drop(DropReason.NLB_NO_FLOW, front, p, now, "not a SYN and no tracked flow")
            rst = tcpreset.answer(frame[14 : 14 + p.tot_len])
            if rst is None:
                return []
            dp.count("nlb.reset-sent")
            return [(eni.port, eni.l2_to + b"\x08\x00" + rst)]
        off = 14 + p.ihl + 4
        seq = int.from_bytes(frame[off : off + 4], "big")
    h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, seq)
    target = tg.choose(node.az, lb.cross_zone, h)
    if isinstance(target, DropReason):
        return dp.drop(target, node, p, now, f"{lb.name} {tg.name}")
    t_eni = target.eni
    if t_eni is None or t_eni.port < 0:
        return dp.drop(DropReason.TARGET_NOT_EMULATED, node, p, now, target.id)
    if preserve is None:
        preserve = tg.preserve_client_ip
    pvpc = lb.vpc
    if preserve:
        new_src, new_sport = p.src, p.sport
    else:
        new_src = node.ip
        port = nat_port(dp.conntrack.table, pvpc.index, p.proto, target.ip, target.port, new_src, h)
        if port is None:
            return dp.drop(DropReason.NAT_PORTS_EXHAUSTED, node, p, now, lb.name)
        new_sport = port
    prov_ft = FiveTuple(p.proto, new_src, target.ip, new_sport, target.port)
    if tracing:
        if endpoint is not None:
            v1 = " (VPC link V1)" if endpoint.key.startswith("apigateway/vpclink-") else ""
            dp.hop(now, client_ft, "privatelink", endpoint.id, "FORWARD",
                   f"{endpoint.id} -> {endpoint.service_id} ({lb.vpc.name} VPC){v1}")  # fmt: skip
        dp.hop(now, client_ft, "nat", node.id, "FORWARD", f"{client_ft} -> {prov_ft}")
        dp.hop(now, client_ft, "nlb", node.id, "FORWARD",
               f"{lb.name} {tg.name} -> {target.id} ({prov_ft})")  # fmt: skip
    if node.kind == "nlb" and not node.unfiltered:  # the NLB's outbound rules judge what leaves
        vo = judge(
            dp, EGRESS, node, p, now, target.ip, t_eni.groups, tracing,
            ports=(target.port, 0), seen=prov_ft,
        )  # fmt: skip
        if not vo.allowed:
            return []
        verdicts += (vo,)
    acl2 = boundary.hop(node, t_eni, prov_ft)  # NLB node -> target
    if acl2 and not boundary.cross(dp, acl2, p, now, tracing):
        return []
    # A target's rule naming the NLB's group admits it, "even if you enable client
    # IP preservation" (AWS): the node's groups are peer groups either way.
    peer_groups = node.groups | eni.groups if preserve else node.groups
    vt = judge(
        dp, INGRESS, t_eni, p, now, new_src, peer_groups, tracing,
        ports=(target.port, 0), seen=prov_ft, sender=eni.id, sender_saw=client_ft,
    )  # fmt: skip
    if not vt.allowed:
        return []
    if node is not front or not preserve:
        log: PathLog = ((eni.id, False), (front.id, False), (node.id, True), (t_eni.id, True))
    else:
        log = ((eni.id, False), (front.id, False), (t_eni.id, True))
    dp.count("nlb.flows")
    insert = None
    if tg.proxy_protocol_v2 and p.proto == PROTO_TCP:
        # Source: the client as it connected (over PrivateLink, the consumer's own
        # address: AWS's answer to "targets see the NLB's address"); destination:
        # the address and port it connected to.
        header = ppv2.build(
            str(IPv4Address(p.src)), p.sport, str(IPv4Address(p.dst)), p.dport,
            vpce_id=endpoint.id if endpoint is not None else None,
        )  # fmt: skip
        insert = ppv2.StreamInsert(header)
        if tracing:
            dp.hop(now, client_ft, "proxy-protocol", node.id, "FORWARD",
                   f"proxy protocol v2 header inserted ({len(header)} bytes)")  # fmt: skip
    nat = Translation(
        pvpc, new_src, new_sport, target.ip, target.port, endpoint or lb, idle, log,
        target, insert,
    )  # fmt: skip
    return dp.open_flow(eni, t_eni, p, frame, now, (*verdicts, vt), tracing, nat, acl + acl2)
