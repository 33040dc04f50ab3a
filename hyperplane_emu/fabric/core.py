"""The fabric core: the emulator's Hyperplane, sans-IO.

`Fabric.handle(port, frame, now)` takes one Ethernet frame received on a host
ENI's fabric-side veth and returns the frames to send, as ``(port, frame)``;
what happened besides goes to `Fabric.events` (drops with reasons, trace
hops) and to `Fabric.drain_flow_logs()` (VPC Flow Logs records). No sockets,
no clock, no threads: the driver owns those and calls `tick(now)` for timers.

What it emulates (AWS behaviour, sources in docs/fabric.md):

- The VPC router. Every host ENI sees the router at its ``fabric_mac``: the
  fabric answers ARP for any address of the ENI's VPC with that MAC, so even
  neighbours in one subnet talk through the router and security groups apply
  between them. IPv4 is routed per VPC with that VPC's route table; the
  destination is looked up among the ENIs *of that VPC* (overlapping CIDRs in
  other VPCs never meet). Forwarding rewrites the Ethernet header (dst = the
  receiver ENI's MAC, src = its ``fabric_mac``) and decrements the TTL with
  an incremental checksum update. A packet whose TTL would expire is dropped
  (``ttl-expired``) without an ICMP time-exceeded: AWS's router is not a
  visible traceroute hop.
- Source/destination check per ENI on the way in (source must be the ENI's
  address) and on delivery (destination must be the receiver's address).
- Security groups: egress of the sender then ingress of the receiver for a
  new flow, nothing for packets of a tracked flow; untracked flows (AWS's
  0.0.0.0/0-both-ways condition) are re-judged on every packet after a rule
  change. Rejected packets vanish (no RST, no ICMP), with a drop event naming
  the ENI and a REJECT flow-log record on it.
- The VPC router's own addresses (.1 of each subnet, the resolver at +2 and
  169.254.169.253): ICMP echo to a subnet router is answered; anything else
  is dropped (``vpc-service-not-emulated``) until the resolver service lands.

Speed: an established TCP flow, or a UDP flow once it is a stream, has its
two directions in a *fast cache* keyed on ``(ingress port, protocol, raw bytes
of IPv4 src, dst and ports)``. A hit costs one dict lookup, a few integer
tests, three counter updates, one ``bytearray`` copy with a 12-byte splice
and a TTL/checksum patch from a precomputed table; it builds no objects
besides the output. Everything else (ARP, SYN/FIN/RST, first packets, ICMP,
fragments, drops) takes the slow path, which parses properly and decides.
"""

from __future__ import annotations

import collections
import ipaddress
from collections.abc import Callable

from hyperplane_emu.plan.model import (
    Plan,
    PlanEni,
    PlanHealthCheck,
    PlanLinkTarget,
    PlanListener,
    PlanLoadBalancer,
    PlanSecurityGroup,
    PlanTarget,
    PlanTargetGroup,
    PlanVpc,
    PlanVpcLinkV2,
)

from . import arp
from .checksum import TTL_DECREMENT_CSUM, csum_replace16, internet_checksum
from .conntrack import (
    ICMP_ECHO,
    OTHER,
    STATE_NAMES,
    TCP_CLOSED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT,
    TCP_SYN_SENT,
    UDP_REPLIED,
    UDP_STREAM,
    UDP_UNREPLIED,
    ConnTrack,
    ConntrackTimeouts,
    Flow,
    FlowHalf,
)
from .events import DropEvent, Event, FiveTuple, FlowLogRecord, TraceHop
from .flowlog import ACCEPT, FORMATS, REJECT, FlowLogger
from .nlb import NAT_PORTS, EndpointState, LoadBalancerState, flow_hash
from .packet import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPES_VLAN,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Packet,
    ethertype,
    parse_ipv4,
)
from .routing import Route, RouteTable
from .secgroup import EGRESS, INGRESS, CompiledRule, EniPolicy, Verdict, compile_group

AMAZON_DNS_LINK_LOCAL = int(ipaddress.IPv4Address("169.254.169.253"))
FRAGMENT_TIMEOUT = 30.0  # seconds a first fragment's flow is remembered for its followers
FRAGMENT_TABLE_MAX = 4096
EVENTS_MAX = 65536

Frames = list[tuple[int, bytes]]
RouteHandler = Callable[["VpcState", Route, Packet], "EniState | str"]


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


class EniState:
    """An ENI as the core needs it: ints and bytes, ready for the hot path."""

    __slots__ = (
        "id",
        "port",
        "vpc",
        "ip",
        "mac",
        "fabric_mac",
        "l2_to",
        "source_dest_check",
        "groups",
        "policy",
        "kind",
        "az",
        "unfiltered",
    )

    def __init__(self, eni: PlanEni, vpc: VpcState, policy: EniPolicy) -> None:
        self.id = eni.id
        self.kind = eni.kind
        self.az = eni.az
        self.unfiltered = _unfiltered(eni.kind)
        self.port = eni.port
        self.vpc = vpc
        self.ip = _ip(eni.ip)
        self.mac = _mac(eni.mac)
        self.fabric_mac = _mac(eni.fabric_mac)
        # Ethernet dst+src of every frame delivered *to* this ENI.
        self.l2_to = self.mac + self.fabric_mac
        self.source_dest_check = eni.source_dest_check
        self.groups = frozenset(eni.security_groups)
        self.policy = policy


class VpcState:
    """One VPC: its CIDR, route table, ENIs by address and the router's own addresses."""

    __slots__ = (
        "index",
        "id",
        "name",
        "account_id",
        "net",
        "mask",
        "routes",
        "enis",
        "routers",
        "services",
        "resolver",
        "dns_addresses",
    )

    def __init__(self, index: int, vpc: PlanVpc) -> None:
        n = ipaddress.IPv4Network(vpc.cidr, strict=False)
        self.index = index
        self.id = vpc.id
        self.name = vpc.name
        self.account_id = vpc.account_id
        self.net = int(n.network_address)
        self.mask = int(n.netmask)
        self.routes = RouteTable(vpc.routes)
        self.enis: dict[int, EniState] = {}
        self.routers = frozenset(_ip(s.router_ip) for s in vpc.subnets.values())
        # Addresses the router itself owns: subnet routers, the resolver.
        self.dns_addresses = frozenset((_ip(vpc.dns_ip), AMAZON_DNS_LINK_LOCAL))
        self.services = self.routers | self.dns_addresses
        self.resolver: EniState | None = None

    def contains(self, ip: int) -> bool:
        return ip & self.mask == self.net


_NO_GROUPS: frozenset[str] = frozenset()


class Fabric:
    """Sans-IO Hyperplane for one topology. See the module docstring."""

    def __init__(
        self,
        plan: Plan,
        *,
        clock_start: float = 0.0,
        timeouts: ConntrackTimeouts | None = None,
        flow_log_formats: dict[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.events: collections.deque[Event] = collections.deque(maxlen=EVENTS_MAX)
        self.drop_events = True  # False: count drops only (no DropEvent objects)
        # Virtual ENIs (endpoints, NLB nodes) being captured: their frames are copied
        # to `mirror_out` as (eni id, frame) while the fast path is off.
        self.mirror: set[str] = set()
        self.mirror_out: list[tuple[str, bytes]] = []
        self.trace = False  # True: trace hops of every slow-path decision
        self.trace_addresses: set[int] = set()  # trace flows from/to these IPv4 (ints)
        self._counts: collections.Counter[str] = collections.Counter()
        self._fast_forwarded = 0
        self._fast: dict[tuple[int, int, bytes], FlowHalf] = {}
        self._frags: dict[tuple[int, int, int, int, int], tuple[FlowHalf, float]] = {}
        self.conntrack = ConnTrack(plan.settings.conntrack_max, timeouts)
        self._compiled: dict[str, dict[str, tuple[CompiledRule, ...]]] = {}
        for v in plan.vpcs.values():
            for sg in v.security_groups.values():
                self._compiled[sg.id] = compile_group(sg)
        self.vpcs: dict[str, VpcState] = {}
        for i, (name, v) in enumerate(sorted(plan.vpcs.items())):
            self.vpcs[name] = VpcState(i, v)
        self.enis: dict[str, EniState] = {}
        nports = max((e.port for e in plan.enis), default=-1) + 1
        self._ports: list[EniState | None] = [None] * nports
        accounts: dict[str, str] = {}
        for e in plan.enis:
            vpc = self.vpcs[e.vpc]
            st = EniState(
                e, vpc, EniPolicy(e.id, e.security_groups, self._compiled, _unfiltered(e.kind))
            )
            self.enis[e.id] = st
            vpc.enis[st.ip] = st
            accounts[e.id] = vpc.account_id
            if e.port >= 0:
                self._ports[e.port] = st
        for st in self.enis.values():
            if st.kind == "resolver":
                st.vpc.resolver = st
        self.load_balancers: dict[str, LoadBalancerState] = {
            key: LoadBalancerState(lb, self.vpcs[lb.vpc], self.enis)
            for key, lb in plan.load_balancers.items()
        }
        self._lb_of_node = {n.id: lb for lb in self.load_balancers.values() for n in lb.nodes}
        self.endpoints: dict[str, EndpointState] = {}
        self._endpoint_of_eni: dict[str, EndpointState] = {}
        # HTTP API VPC links: front ENI (API Gateway's VPC) -> link, its ENIs by AZ.
        self._links_of_front: dict[
            str, tuple[PlanVpcLinkV2, dict[int, PlanLinkTarget], list[EniState]]
        ] = {}
        for link in plan.vpc_links_v2.values():
            link_enis = [self.enis[e] for e in link.enis]
            self._links_of_front[link.front_eni] = (
                link,
                {t.port: t for t in link.targets},
                link_enis,
            )
        # The emulated internet: each VPC's public address (its internet gateway).
        self._internet = self.vpcs.get("internet")
        self._igw_of_vpc = {e.owner: self.enis[e.id] for e in plan.enis if e.kind == "igw"}
        front = self._execute_api_front(plan)
        # The regional (public) front: the internet's callers keep their address,
        # which API Gateway needs for aws:SourceIp.
        if plan.api_gateway is not None and plan.api_gateway.public_eni:
            public = self._api_gateway_front(plan, "regional", (plan.api_gateway.public_eni,), True)
            assert public is not None
            self._lb_of_node[plan.api_gateway.public_eni] = public
        for ep in plan.endpoints.values():
            svc = plan.endpoint_services.get(ep.service)
            lb = self.load_balancers[svc.load_balancer] if svc else front
            es = EndpointState(ep.id, ep.key, ep.state, lb, svc.id if svc else ep.service)
            for eni_id in ep.ingress_enis:
                node = self.enis[eni_id]
                es.nodes[node.az] = node
            self.endpoints[ep.id] = es
            for eni_id in ep.enis:
                self._endpoint_of_eni[eni_id] = es
        formats = {k: FORMATS[v] for k, v in (flow_log_formats or {}).items()}
        self.flowlog = FlowLogger(
            plan.settings.flow_log_interval, accounts, formats, clock_start=clock_start
        )
        self._flow_logs: list[FlowLogRecord] = []
        # Route target kind -> handler; later work registers "vpce", "nlb", "igw"…
        self.route_handlers: dict[str, RouteHandler] = {
            "local": self._route_local,
            "eni": self._route_eni,
        }

    # ------------------------------------------------------------------ API

    @property
    def counters(self) -> dict[str, int]:
        """Snapshot: ``forwarded``, ``dropped.<reason>``, ``arp.*``, ``conntrack.*``…"""
        c = dict(self._counts)
        c["forwarded"] = c.get("forwarded", 0) + self._fast_forwarded
        c["conntrack.entries"] = self.conntrack.count
        c["conntrack.max"] = self.conntrack.max_flows
        c["fastpath.entries"] = len(self._fast)
        c["flowlog.skipped"] = self.flowlog.skipped
        return c

    def handle(self, port: int, frame: bytes | memoryview, now: float) -> list[tuple[int, bytes]]:
        """Frames to emit for one received frame. The returned list is new each call.

        Emitted frames are ``bytearray`` (bytes-like; the driver can send them as is).
        """
        if type(frame) is not bytes:
            frame = bytes(frame)
        # Fast path: untagged IPv4, 20-byte header, not a fragment, TTL > 1, to the
        # router MAC, header checksum valid, no SYN/FIN/RST; else the slow path decides.
        if (
            not self.mirror
            and len(frame) >= 42
            and frame[12] == 8
            and frame[13] == 0
            and frame[14] == 0x45
            and not frame[20] & 0x3F
            and not frame[21]
            and frame[22] > 1
        ):
            proto = frame[23]
            h = self._fast.get((port, proto, frame[26:38]))
            if (
                h is not None
                and frame.startswith(h.rmac)
                and (proto != 6 or (len(frame) >= 54 and not frame[47] & 7))
            ):
                tot = (frame[16] << 8) | frame[17]
                # Header checksum valid <=> its words sum to 0xFFFF <=> the
                # 20 bytes as one integer are 0 mod 0xFFFF (2**16 = 1 mod 0xFFFF).
                if tot + 14 <= len(frame) and not int.from_bytes(frame[14:34]) % 0xFFFF:
                    if not h.pk:
                        h.first = now
                    h.pk += 1
                    h.by += tot
                    h.last = now
                    out = bytearray(frame)
                    out[0:12] = h.l2
                    out[22] -= 1
                    c = TTL_DECREMENT_CSUM[(frame[24] << 8) | frame[25]]
                    if h.nat is not None:
                        c = _translate(out, h, c, proto, 34)
                    out[24] = c >> 8
                    out[25] = c & 0xFF
                    self._fast_forwarded += 1
                    # bytearray is bytes-like; a bytes() copy would cost a second memcpy.
                    return [(h.out_port, out)]  # type: ignore[list-item]
        return self._slow(port, frame, now)

    def tick(self, now: float) -> None:
        """Timers: conntrack expiry, fragment memory, flow-log window flush."""
        for flow in self.conntrack.expire(now):
            self.flowlog.retire(flow)
            self._forget_fast(flow)
            self._counts["conntrack.expired"] += 1
        if self._frags:
            stale = [k for k, (_, t) in self._frags.items() if now - t > FRAGMENT_TIMEOUT]
            for k in stale:
                del self._frags[k]
        if self.flowlog.due(now):
            self._flow_logs.extend(self.flowlog.flush(now, self.conntrack.flows()))

    def flush_flow_logs(self, now: float) -> None:
        """Close the current flow-log window now (``flush_flow_logs`` control op)."""
        self._flow_logs.extend(self.flowlog.flush(now, self.conntrack.flows()))

    def drain_flow_logs(self) -> list[FlowLogRecord]:
        """Flow-log records of the closed windows, ``(eni_id, line)`` each; clears them."""
        out, self._flow_logs = self._flow_logs, []
        return out

    def replace_security_group(self, sg: PlanSecurityGroup) -> None:
        """Live rule change. Tracked flows keep going; untracked ones are re-judged
        on their next packet (the fast cache is emptied so that they are)."""
        self._compiled[sg.id] = compile_group(sg)
        for st in self.enis.values():
            if sg.id in st.groups:
                st.policy = EniPolicy(st.id, st.groups, self._compiled, st.unfiltered)
        for h in self._fast.values():
            h.fast_key = None
        self._fast.clear()
        self._counts["sg.replaced"] += 1

    def trace_address(self, ip: str) -> None:
        """Trace every flow from or to ``ip`` (slow-path decisions)."""
        self.trace_addresses.add(_ip(ip))

    def conntrack_dump(self) -> list[dict[str, object]]:
        """The flow table for ``status`` / the ``conntrack`` control op."""
        out: list[dict[str, object]] = []
        for f in self.conntrack.flows():
            out.append(
                {
                    "vpc": f.orig.in_eni.vpc.id if isinstance(f.orig.in_eni, EniState) else None,
                    "flow": str(FiveTuple(f.proto, f.src, f.dst, f.sport, f.dport)),
                    "state": STATE_NAMES[f.state],
                    "tracked": not f.untracked,
                    "src_eni": getattr(f.orig.in_eni, "id", None),
                    "dst_eni": getattr(f.orig.out_eni, "id", None),
                    "verdicts": [str(v) for v in f.verdicts],
                    "last": f.last,
                }
            )
        return out

    # ------------------------------------------------------------ slow path

    def _slow(self, port: int, frame: bytes, now: float) -> Frames:
        eni = self._ports[port] if 0 <= port < len(self._ports) else None
        if eni is None:
            return self._drop("unknown-port", None, None, now)
        et = ethertype(frame)
        if et == ETHERTYPE_ARP:
            return self._arp(eni, frame)
        if et != ETHERTYPE_IPV4:
            if et in ETHERTYPES_VLAN:
                return self._drop("vlan-tagged", eni, None, now)
            if et == ETHERTYPE_IPV6:
                return self._drop("ipv6-not-enabled", eni, None, now)
            return self._drop("unsupported-ethertype" if et >= 0 else "truncated", eni, None, now)
        if not frame.startswith(eni.fabric_mac):
            reason = "not-unicast" if frame[0] & 1 else "l2-not-for-router"
            return self._drop(reason, eni, None, now)
        p = parse_ipv4(frame)
        if isinstance(p, str):
            return self._drop(p, eni, None, now)
        if eni.source_dest_check and p.src != eni.ip:
            # A spoofed source: dropped, and recorded as rejected on the ENI it came from.
            self.flowlog.add(eni.id, REJECT, _five(p), p.tot_len, now)
            return self._drop("src-dst-check", eni, p, now, "source is not the ENI's address")
        vpc = eni.vpc
        if p.dst in vpc.services and not (
            p.dst in vpc.dns_addresses
            and vpc.resolver is not None
            and p.dport == 53
            and p.proto in (PROTO_TCP, PROTO_UDP)
        ):
            return self._to_router(eni, p, frame, now)
        if p.ttl <= 1:
            return self._drop("ttl-expired", eni, p, now)
        if p.later_fragment:
            return self._later_fragment(eni, p, frame, now)
        half = self.conntrack.table.get((vpc.index, p.proto, p.src, p.dst, p.sport, p.dport))
        if half is not None:
            return self._existing(half, eni, p, frame, now)
        return self._new_flow(eni, p, frame, now)

    def _arp(self, eni: EniState, frame: bytes) -> Frames:
        r = arp.parse_request(frame)
        if isinstance(r, str):
            self._counts["arp." + r] += 1
            return []
        _, spa, tpa = r
        vpc = eni.vpc
        if tpa == eni.ip:
            self._counts["arp.own-address"] += 1
            return []
        if not (vpc.contains(tpa) or tpa == AMAZON_DNS_LINK_LOCAL):
            self._counts["arp.outside-vpc"] += 1
            return []
        self._counts["arp.replied"] += 1
        # Answer the ENI's own MAC, whatever the request claims: the VPC only
        # ever delivers to the MAC it gave the interface.
        return [(eni.port, arp.build_reply(eni.fabric_mac, eni.mac, spa, tpa))]

    def _new_flow(self, eni: EniState, p: Packet, frame: bytes, now: float) -> Frames:
        vpc = eni.vpc
        route: Route | None
        if p.dst in vpc.dns_addresses and vpc.resolver is not None:
            route, dst = None, vpc.resolver
        else:
            route = vpc.routes.lookup(p.dst)
            if route is None:
                return self._drop("no-route", eni, p, now)
            if route.kind == "igw":
                return self._via_internet(eni, p, frame, now, route)
            if route.kind == "vgw":
                return self._via_vgw(eni, p, frame, now, route)
            handler = self.route_handlers.get(route.kind)
            if handler is None:
                return self._drop("route-target-not-emulated", eni, p, now, str(route))
            found = handler(vpc, route, p)
            if isinstance(found, str):
                return self._drop(found, eni, p, now, str(route))
            dst = found
        tracing = self._tracing(p)
        if dst.kind == "nlb" or dst.kind == "vpce" or dst.kind == "apigw-public":
            return self._load_balanced(eni, dst, p, frame, now, tracing)
        if dst.kind == "vpclink-front":
            return self._via_vpc_link(eni, dst, p, frame, now, tracing)
        if dst.source_dest_check and p.dst != dst.ip:
            return self._drop("src-dst-check", dst, p, now, "destination is not the ENI's address")
        a, b = _sg_ports(p)
        peer = vpc.enis.get(p.dst)
        if dst.kind == "resolver":  # DNS to the Amazon DNS server is never filtered
            ve = Verdict(True, EGRESS, eni.id, None, None, False)
        else:
            ve = eni.policy.evaluate(
                EGRESS, p.proto, a, b, p.dst, peer.groups if peer else _NO_GROUPS
            )
        if tracing:
            self._trace(now, p, "egress-sg", eni.id, ve)
        if not ve.allowed:
            self.flowlog.add(eni.id, REJECT, _five(p), p.tot_len, now)
            return self._drop("sg-egress", eni, p, now, "no rule matched")
        src_peer = vpc.enis.get(p.src)
        vi = dst.policy.evaluate(
            INGRESS, p.proto, a, b, p.src, src_peer.groups if src_peer else _NO_GROUPS
        )
        if tracing:
            self.events.append(
                TraceHop(now, _five(p), "route", vpc.id, "FORWARD", f"{route or 'dns'} ({dst.id})")
            )
            self._trace(now, p, "ingress-sg", dst.id, vi)
        if not vi.allowed:
            ft = _five(p)
            self.flowlog.add(eni.id, ACCEPT, ft, p.tot_len, now)
            self.flowlog.add(dst.id, REJECT, ft, p.tot_len, now)
            return self._drop("sg-ingress", dst, p, now, "no rule matched")
        flow = Flow(vpc.index, p.proto, p.src, p.dst, p.sport, p.dport, _initial_state(p), now)
        if not self.conntrack.add(flow, now):
            self._counts["conntrack.full"] += 1
            return self._drop("conntrack-full", eni, p, now)
        flow.untracked_src = ve.untracked
        flow.untracked_dst = vi.untracked
        flow.verdicts = (ve, vi)
        o, r = flow.orig, flow.reply
        o.in_eni, o.out_eni, o.out_port, o.l2 = eni, dst, dst.port, dst.l2_to
        r.in_eni, r.out_eni, r.out_port, r.l2 = dst, eni, eni.port, eni.l2_to
        o.rmac, r.rmac = eni.fabric_mac, dst.fabric_mac
        self._counts["conntrack.created"] += 1
        if tracing:
            self.events.append(
                TraceHop(now, _five(p), "deliver", dst.id, "FORWARD", f"port {dst.port}")
            )
            flow.traced = True
        return self._forward(o, p, frame, now)

    def _load_balanced(
        self, eni: EniState, front: EniState, p: Packet, frame: bytes, now: float, tracing: bool
    ) -> Frames:
        """A new flow to an NLB node or an interface endpoint: pick a target, translate."""
        if p.proto not in (PROTO_TCP, PROTO_UDP) or p.later_fragment:
            return self._drop("nlb-protocol-not-forwarded", front, p, now)
        client_ft = _five(p)
        a, b = _sg_ports(p)
        ve = eni.policy.evaluate(EGRESS, p.proto, a, b, p.dst, front.groups)
        if tracing:
            self._trace(now, p, "egress-sg", eni.id, ve)
        if not ve.allowed:
            self.flowlog.add(eni.id, REJECT, client_ft, p.tot_len, now)
            return self._drop("sg-egress", eni, p, now, "no rule matched")
        endpoint: EndpointState | None = None
        verdicts: tuple[Verdict, ...] = (ve,)
        if front.kind == "vpce":
            endpoint = self._endpoint_of_eni[front.id]
            vi = front.policy.evaluate(INGRESS, p.proto, a, b, p.src, eni.groups)
            if tracing:
                self._trace(now, p, "ingress-sg", front.id, vi)
            if not vi.allowed:
                self.flowlog.add(eni.id, ACCEPT, client_ft, p.tot_len, now)
                self.flowlog.add(front.id, REJECT, client_ft, p.tot_len, now)
                return self._drop("sg-ingress", front, p, now, "no rule matched")
            verdicts += (vi,)
            if endpoint.state != "available":
                self.flowlog.add(eni.id, ACCEPT, client_ft, p.tot_len, now)
                self.flowlog.add(front.id, REJECT, client_ft, p.tot_len, now)
                return self._drop(f"endpoint-{endpoint.state}", front, p, now, endpoint.id)
            lb = endpoint.lb
            if lb is None:
                return self._drop("service-not-emulated", front, p, now, endpoint.service_id)
            if endpoint.nodes:
                node = endpoint.nodes.get(front.az) or next(iter(endpoint.nodes.values()))
            else:
                node = lb.node_for(front.az)
            preserve: bool | None = False  # PrivateLink: targets see the NLB's address
        else:
            lb = self._lb_of_node[front.id]
            node = front
            preserve = None
        listener = lb.listeners.get((p.proto, p.dport))
        if listener is None:
            return self._drop("nlb-no-listener", front, p, now, lb.name)
        tg, idle = listener
        seq = 0
        if p.proto == PROTO_TCP:
            if p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
                return self._drop("nlb-no-flow", front, p, now, "not a SYN and no tracked flow")
            off = 14 + p.ihl + 4
            seq = int.from_bytes(frame[off : off + 4], "big")
        h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, seq)
        target = tg.choose(node.az, lb.cross_zone, h)
        if isinstance(target, str):
            return self._drop(target, node, p, now, f"{lb.name} {tg.name}")
        t_eni = target.eni
        if t_eni is None or t_eni.port < 0:
            return self._drop("target-not-emulated", node, p, now, target.id)
        if preserve is None:
            preserve = tg.preserve_client_ip
        pvpc = lb.vpc
        if preserve:
            new_src, new_sport = p.src, p.sport
        else:
            new_src = node.ip
            port = self._nat_port(pvpc.index, p.proto, target.ip, target.port, node.ip, h)
            if port is None:
                return self._drop("nat-ports-exhausted", node, p, now, lb.name)
            new_sport = port
        prov_ft = FiveTuple(p.proto, new_src, target.ip, new_sport, target.port)
        if tracing and endpoint is not None:
            self.events.append(
                TraceHop(
                    now, client_ft, "privatelink", endpoint.id, "FORWARD",
                    f"{endpoint.id} -> {endpoint.service_id} ({lb.vpc.name} VPC)"
                    + (" (VPC link V1)" if endpoint.key.startswith("apigateway/vpclink-") else ""),
                )
            )  # fmt: skip
        if tracing:
            self.events.append(
                TraceHop(
                    now, client_ft, "nat", node.id, "FORWARD", f"{client_ft} -> {prov_ft}"
                )
            )  # fmt: skip
            self.events.append(
                TraceHop(
                    now,
                    client_ft,
                    "nlb",
                    node.id,
                    "FORWARD",
                    f"{lb.name} {tg.name} -> {target.id} ({prov_ft})",
                )
            )
        vt = t_eni.policy.evaluate(
            INGRESS, p.proto, target.port, 0, new_src, eni.groups if preserve else _NO_GROUPS
        )
        if tracing:
            self._trace(now, p, "ingress-sg", t_eni.id, vt)
        if not vt.allowed:
            self.flowlog.add(eni.id, ACCEPT, client_ft, p.tot_len, now)
            self.flowlog.add(t_eni.id, REJECT, prov_ft, p.tot_len, now)
            return self._drop("sg-ingress", t_eni, p, now, "no rule matched")
        path_in = [(eni.id, client_ft), (front.id, client_ft)]
        if node is not front or not preserve:
            path_in.append((node.id, prov_ft))
        path_in.append((t_eni.id, prov_ft))
        self._counts["nlb.flows"] += 1
        return self._translated(
            eni, t_eni, p, frame, now, pvpc, new_src, new_sport, target.ip, target.port,
            endpoint or lb, idle, (*verdicts, vt), path_in, tracing,
        )  # fmt: skip

    def _via_vgw(self, eni: EniState, p: Packet, frame: bytes, now: float, route: Route) -> Frames:
        """Across a virtual private gateway (on premises <-> VPC): same addresses, the
        other VPC's ENIs; an interface endpoint or NLB there works as from inside."""
        tracing = self._tracing(p)
        peer = next(
            (
                v for v in self.vpcs.values()
                if v is not eni.vpc and v.contains(p.dst)
                and any(r.target == route.target for r in v.routes.routes)
            ),
            None,
        )  # fmt: skip
        if peer is None or p.proto not in (PROTO_TCP, PROTO_UDP):
            return self._drop("vgw-unreachable", eni, p, now, str(route))
        dst = peer.enis.get(p.dst)
        if dst is None:
            return self._drop("no-eni", eni, p, now, f"{peer.name} via {route.target}")
        if tracing:
            self.events.append(
                TraceHop(
                    now, _five(p), "vgw", route.target, "FORWARD",
                    f"{eni.vpc.name} -> {peer.name}",
                )
            )  # fmt: skip
        if dst.kind in ("nlb", "vpce"):
            return self._load_balanced(eni, dst, p, frame, now, tracing)
        if dst.port < 0:
            return self._drop("no-eni", eni, p, now, dst.id)
        ft = _five(p)
        a, b = _sg_ports(p)
        ve = eni.policy.evaluate(EGRESS, p.proto, a, b, p.dst, _NO_GROUPS)
        if not ve.allowed:
            self.flowlog.add(eni.id, REJECT, ft, p.tot_len, now)
            return self._drop("sg-egress", eni, p, now, "no rule matched")
        vi = dst.policy.evaluate(INGRESS, p.proto, a, b, p.src, _NO_GROUPS)
        if not vi.allowed:
            self.flowlog.add(eni.id, ACCEPT, ft, p.tot_len, now)
            self.flowlog.add(dst.id, REJECT, ft, p.tot_len, now)
            return self._drop("sg-ingress", dst, p, now, "no rule matched")
        return self._translated(
            eni, dst, p, frame, now, peer, p.src, p.sport, p.dst, p.dport, route.target, 0,
            (ve, vi), [(eni.id, ft), (dst.id, ft)], tracing,
        )  # fmt: skip

    def _via_internet(
        self, eni: EniState, p: Packet, frame: bytes, now: float, route: Route
    ) -> Frames:
        """Out through the VPC's internet gateway: the source becomes the VPC's public
        address (as behind a NAT gateway); the destination is an address of the
        emulated internet (a client there, or API Gateway's regional front)."""
        tracing = self._tracing(p)
        inet = self._internet
        igw = self._igw_of_vpc.get(eni.vpc.name)
        if inet is None or igw is None or p.proto not in (PROTO_TCP, PROTO_UDP):
            return self._drop("route-target-not-emulated", eni, p, now, str(route))
        dst = inet.enis.get(p.dst)
        if dst is None:
            return self._drop("internet-unreachable", eni, p, now, "not an emulated address")
        client_ft = _five(p)
        a, b = _sg_ports(p)
        ve = eni.policy.evaluate(EGRESS, p.proto, a, b, p.dst, _NO_GROUPS)
        if tracing:
            self._trace(now, p, "egress-sg", eni.id, ve)
        if not ve.allowed:
            self.flowlog.add(eni.id, REJECT, client_ft, p.tot_len, now)
            return self._drop("sg-egress", eni, p, now, "no rule matched")
        if p.proto == PROTO_TCP and p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
            return self._drop("nat-no-flow", igw, p, now)
        h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, 0)
        if dst.kind == "apigw-public":
            front = self._lb_of_node[dst.id]
            listener = front.listeners.get((p.proto, p.dport))
            if listener is None:
                return self._drop("nlb-no-listener", dst, p, now, "API Gateway")
            target = listener[0].targets[0]
            t_eni, t_ip, t_port = target.eni, target.ip, target.port
            pvpc = front.vpc
        else:
            t_eni, t_ip, t_port, pvpc = dst, p.dst, p.dport, inet
        if t_eni is None:
            return self._drop("target-not-emulated", dst, p, now)
        port = self._nat_port(pvpc.index, p.proto, t_ip, t_port, igw.ip, h)
        if port is None:
            return self._drop("nat-ports-exhausted", igw, p, now)
        prov_ft = FiveTuple(p.proto, igw.ip, t_ip, port, t_port)
        if tracing:
            self.events.append(
                TraceHop(now, client_ft, "internet-gateway", igw.id, "FORWARD",
                         f"{route} : {client_ft} -> {prov_ft}")
            )  # fmt: skip
        vt = t_eni.policy.evaluate(INGRESS, p.proto, t_port, 0, igw.ip, _NO_GROUPS)
        if not vt.allowed:
            return self._drop("sg-ingress", t_eni, p, now, "no rule matched")
        path_in = [(eni.id, client_ft), (igw.id, prov_ft), (t_eni.id, prov_ft)]
        self._counts["internet.flows"] += 1
        return self._translated(
            eni, t_eni, p, frame, now, pvpc, igw.ip, port, t_ip, t_port, igw, 350,
            (ve, vt), path_in, tracing,
        )  # fmt: skip

    def _via_vpc_link(
        self, eni: EniState, front: EniState, p: Packet, frame: bytes, now: float, tracing: bool
    ) -> Frames:
        """HTTP API VPC link: VPC-to-VPC NAT out of the link's ENI in the target's AZ."""
        if p.proto != PROTO_TCP or p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN:
            return self._drop("vpclink-no-flow", front, p, now)
        link, targets, link_enis = self._links_of_front[front.id]
        entry = targets.get(p.dport)
        if entry is None or not link_enis:
            return self._drop("vpclink-no-target", front, p, now, link.id)
        client_ft = _five(p)
        off = 14 + p.ihl + 4
        h = flow_hash(p.proto, p.src, p.dst, p.sport, p.dport, int.from_bytes(frame[off : off + 4]))
        by_az = {e.az: e for e in link_enis}
        if entry.kind == "nlb":
            lb = self.load_balancers.get(entry.key)
            if lb is None:
                return self._drop("vpclink-no-target", front, p, now, entry.key)
            link_eni = next((by_az[n.az] for n in lb.nodes if n.az in by_az), link_enis[0])
            node = lb.node_for(link_eni.az)
            listener = lb.listeners.get((p.proto, entry.dport))
            if listener is None:
                return self._drop("nlb-no-listener", node, p, now, lb.name)
            tg, idle = listener
            target = tg.choose(node.az, lb.cross_zone, h)
            if isinstance(target, str):
                return self._drop(target, node, p, now, f"{lb.name} {tg.name}")
            t_eni, t_ip, t_port = target.eni, target.ip, target.port
            # With client IP preservation the target sees the link ENI, else the NLB node.
            src_eni = link_eni if tg.preserve_client_ip else node
            first_hop = node.ip  # what the link ENI's egress rules judge
        else:
            t_ip, t_port = _ip(entry.ip), entry.dport
            t_eni = next((st for st in self.enis.values() if st.ip == t_ip
                          and st.vpc.name == link.vpc and st.port >= 0), None)  # fmt: skip
            link_eni = by_az.get(entry.az, link_enis[0])
            src_eni, first_hop, node, idle = link_eni, t_ip, link_eni, 350
        if t_eni is None or t_eni.port < 0:
            return self._drop("target-not-emulated", link_eni, p, now, entry.key)
        pvpc = link_eni.vpc
        ve = link_eni.policy.evaluate(
            EGRESS, p.proto, t_port if entry.kind != "nlb" else entry.dport, 0, first_hop,
            t_eni.groups if entry.kind != "nlb" else _NO_GROUPS,
        )  # fmt: skip
        if tracing:
            self.events.append(
                TraceHop(
                    now, client_ft, "vpc-link", link_eni.id, "FORWARD",
                    f"V2 link {link.id} ({link.name}): Hyperplane ENI -> {entry.kind} "
                    f"{entry.key}",
                )
            )  # fmt: skip
            self._trace(now, p, "egress-sg", link_eni.id, ve)
        if not ve.allowed:
            self.flowlog.add(link_eni.id, REJECT, client_ft, p.tot_len, now)
            return self._drop("sg-egress", link_eni, p, now, "no rule matched (VPC link)")
        new_src = src_eni.ip
        port = self._nat_port(pvpc.index, p.proto, t_ip, t_port, new_src, h)
        if port is None:
            return self._drop("nat-ports-exhausted", link_eni, p, now, link.id)
        prov_ft = FiveTuple(p.proto, new_src, t_ip, port, t_port)
        vt = t_eni.policy.evaluate(INGRESS, p.proto, t_port, 0, new_src, src_eni.groups)
        if tracing:
            self.events.append(
                TraceHop(now, client_ft, "nat", link_eni.id, "FORWARD", f"{client_ft} -> {prov_ft}")
            )  # fmt: skip
            self._trace(now, p, "ingress-sg", t_eni.id, vt)
        if not vt.allowed:
            self.flowlog.add(link_eni.id, ACCEPT, prov_ft, p.tot_len, now)
            self.flowlog.add(t_eni.id, REJECT, prov_ft, p.tot_len, now)
            return self._drop("sg-ingress", t_eni, p, now, "no rule matched")
        path_in = [(eni.id, client_ft), (link_eni.id, prov_ft)]
        if node is not link_eni:
            path_in.append((node.id, prov_ft))
        path_in.append((t_eni.id, prov_ft))
        self._counts["vpclink.flows"] += 1
        return self._translated(
            eni, t_eni, p, frame, now, pvpc, new_src, port, t_ip, t_port, link, idle,
            (ve, vt), path_in, tracing,
        )  # fmt: skip

    def _translated(
        self,
        eni: EniState,
        t_eni: EniState,
        p: Packet,
        frame: bytes,
        now: float,
        pvpc: VpcState,
        new_src: int,
        new_sport: int,
        t_ip: int,
        t_port: int,
        via: object,
        idle: int,
        verdicts: tuple[Verdict, ...],
        path_in: list[tuple[str, FiveTuple]],
        tracing: bool,
    ) -> Frames:
        """Open a flow whose two sides see different addresses (NLB, PrivateLink, VPC link)."""
        flow = Flow(eni.vpc.index, p.proto, p.src, p.dst, p.sport, p.dport, _initial_state(p), now)
        flow.rkey = (pvpc.index, p.proto, t_ip, new_src, t_port, new_sport)
        flow.via = via
        if p.proto == PROTO_TCP:
            flow.max_idle = float(idle)
        if not self.conntrack.add(flow, now):
            self._counts["conntrack.full"] += 1
            return self._drop("conntrack-full", eni, p, now)
        flow.verdicts = verdicts
        o, r = flow.orig, flow.reply
        o.in_eni, o.out_eni, o.out_port, o.l2 = eni, t_eni, t_eni.port, t_eni.l2_to
        r.in_eni, r.out_eni, r.out_port, r.l2 = t_eni, eni, eni.port, eni.l2_to
        o.rmac, r.rmac = eni.fabric_mac, t_eni.fabric_mac
        _set_nat(o, p.src, p.dst, p.sport, p.dport, new_src, t_ip, new_sport, t_port)
        _set_nat(r, t_ip, new_src, t_port, new_sport, p.dst, p.src, p.dport, p.sport)
        o.log = tuple(path_in)
        r.log = tuple((e, _reverse(ft)) for e, ft in reversed(path_in))
        if tracing:
            prov_ft = FiveTuple(p.proto, new_src, t_ip, new_sport, t_port)
            self.events.append(
                TraceHop(now, prov_ft, "deliver", t_eni.id, "FORWARD", f"port {t_eni.port}")
            )
            flow.traced = True
        self._counts["conntrack.created"] += 1
        return self._forward(o, p, frame, now)

    def _api_gateway_front(
        self, plan: Plan, name: str, enis: tuple[str, ...], preserve: bool
    ) -> LoadBalancerState | None:
        agw = plan.api_gateway
        if agw is None:
            return None
        groups = {
            f"port-{port}": PlanTargetGroup(
                f"port-{port}", "", PROTO_TCP, port, "ip",
                (PlanTarget(agw.host, agw.ip, port, self.enis[agw.eni].az, agw.eni),),
                PlanHealthCheck("tcp", port, "/", 30, 10, 5, 2, "200-399"), preserve, False,
            )
            for port in agw.ports
        }  # fmt: skip
        front = PlanLoadBalancer(
            key=f"{agw.vpc}/{name}", name=name, id="", arn="", vpc=agw.vpc,
            scheme="internal", dns_name="", cross_zone=True, enis=enis,
            listeners=tuple(
                PlanListener("", PROTO_TCP, port, f"port-{port}", 350) for port in agw.ports
            ),
            target_groups=groups,
        )  # fmt: skip
        return LoadBalancerState(front, self.vpcs[agw.vpc], self.enis)

    def _execute_api_front(self, plan: Plan) -> LoadBalancerState | None:
        """API Gateway's side of `execute-api` endpoints: one listener per data-plane port.

        Built like an NLB so that PrivateLink handles it alike; its nodes are each
        endpoint's own ingress addresses (EndpointState.nodes), so the data plane
        can tell endpoints apart by source address."""
        return self._api_gateway_front(plan, "execute-api", (), False)

    def _nat_port(
        self, vpc_index: int, proto: int, t_ip: int, t_port: int, src: int, h: int
    ) -> int | None:
        """A source port on `src` that no flow to t_ip:t_port uses (probe from a hash)."""
        lo, hi = NAT_PORTS
        span = hi - lo + 1
        table = self.conntrack.table
        start = h % span
        for i in range(256):
            port = lo + (start + i * 7919) % span
            if (vpc_index, proto, t_ip, src, t_port, port) not in table:
                return port
        return None

    # ------------------------------------------------- NLB / PrivateLink control

    def set_target_health(
        self, lb_key: str, target_group: str, target_id: str, state: str, reason: str = ""
    ) -> None:
        """Health checker's verdict for one target (`initial`/`healthy`/`unhealthy`)."""
        tg = self.load_balancers[lb_key].target_groups[target_group]
        for t in tg.targets:
            if t.id == target_id:
                if t.health != state:
                    self._counts[f"nlb.health.{state}"] += 1
                t.health = state
                t.reason = reason
                return
        raise KeyError(target_id)

    def set_endpoint_state(self, endpoint_id: str, state: str) -> None:
        """Connection state of an interface endpoint (accept / reject by the provider).

        Rejecting an available connection ends the flows that went through it."""
        ep = self.endpoints[endpoint_id]
        ep.state = state
        if state != "available":
            for flow in self.conntrack.flows():
                if flow.via is ep:
                    self.flowlog.retire(flow)
                    self._forget_fast(flow)
                    self.conntrack.remove(flow)

    def nat_origin(
        self, vpc: str, proto: int, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, object] | None:
        """Who really opened a translated flow, as its receiver sees it (src:sport -> dst:dport
        in `vpc`): API Gateway asks this to put the caller's address in X-Forwarded-For."""
        st = self.vpcs.get(vpc)
        if st is None:
            return None
        half = self.conntrack.table.get((st.index, proto, _ip(dst), _ip(src), dport, sport))
        if half is None or not half.is_reply:
            return None
        flow = half.flow
        origin_vpc = next(v for v in self.vpcs.values() if v.index == flow.vpc)
        return {
            "src": str(ipaddress.IPv4Address(flow.src)),
            "sport": flow.sport,
            "dst": str(ipaddress.IPv4Address(flow.dst)),
            "dport": flow.dport,
            "vpc": origin_vpc.id,
            "eni": getattr(flow.orig.in_eni, "id", None),
        }

    def load_balancer_status(self) -> list[dict[str, object]]:
        return [lb.describe() for lb in self.load_balancers.values()]

    def _existing(
        self, half: FlowHalf, eni: EniState, p: Packet, frame: bytes, now: float
    ) -> Frames:
        flow = half.flow
        if half.in_eni is not eni:
            # Same addresses, another ENI (possible with source/dest check off).
            return self._drop("flow-wrong-eni", eni, p, now)
        if flow.traced and half.is_reply and not half.pk:
            back = "reverse-translated" if half.nat is not None else "conntrack"
            self.events.append(
                TraceHop(now, _five(p), "reply", half.out_eni.id, "FORWARD",
                         f"{back}, no security group evaluated (tracked flow)")
            )  # fmt: skip
        if flow.untracked:
            denied = self._rejudge(flow, half, p, now)
            if denied is not None:
                return denied
        if p.proto == PROTO_TCP:
            if self._tcp_update(flow, half, p.tcp_flags, now):
                # A new SYN on a closed flow: the port is reused, judge it afresh.
                self.flowlog.retire(flow)
                self._forget_fast(flow)
                self.conntrack.remove(flow)
                return self._new_flow(eni, p, frame, now)
        elif p.proto == PROTO_UDP and flow.state != UDP_STREAM:
            same_direction = half.is_reply == flow.last_dir_reply
            if half.is_reply and not flow.last_dir_reply:
                flow.exchanges += 1
            flow.last_dir_reply = half.is_reply
            state = (
                UDP_STREAM
                if flow.exchanges >= 2
                else UDP_REPLIED
                if flow.exchanges
                else UDP_UNREPLIED
            )
            if state != flow.state:
                self.conntrack.set_state(flow, state, now)
            if state != UDP_STREAM:
                # Not a stream yet: only a change of direction can change the
                # flow's state, so a run of packets in one direction may take the
                # fast path (one-way UDP such as iperf3 -u, syslog, statsd), and
                # the other direction must come back here to count the turnaround.
                other = flow.orig if half.is_reply else flow.reply
                if other.fast_key is not None:
                    self._fast.pop(other.fast_key, None)
                    other.fast_key = None
                return self._forward(half, p, frame, now, same_direction)
        return self._forward(half, p, frame, now)

    def _forward(
        self, half: FlowHalf, p: Packet, frame: bytes, now: float, udp_run: bool = False
    ) -> Frames:
        """Count, remember fragments, install the fast path if eligible, emit.

        ``udp_run``: a UDP packet of a not-yet-stream flow in the same direction
        as the one before it (see `_existing`): its half may go fast until the
        other direction speaks."""
        if not half.pk:
            half.first = now
        half.pk += 1
        half.by += p.tot_len
        half.last = now
        flow = half.flow
        if p.first_fragment:
            self._remember_fragment(half, p, now)
        elif half.fast_key is None and p.ihl == 20 and (udp_run or _fast_eligible(flow)):
            key = (half.in_eni.port, p.proto, frame[26:38])
            half.fast_key = key
            self._fast[key] = half
        self._counts["forwarded"] += 1
        out = _rewrite(frame, half.l2)
        if half.nat is not None:
            c = (out[24] << 8) | out[25]
            if p.later_fragment:  # no L4 header here: addresses only
                c = _translate_addresses(out, half, c)
            else:
                c = _translate(out, half, c, p.proto, 14 + p.ihl)
            out[24] = c >> 8
            out[25] = c & 0xFF
            if self.mirror and half.log is not None:
                self._mirror(half, p, frame, out)
        return [(half.out_port, out)]  # type: ignore[list-item]

    def _mirror(self, half: FlowHalf, p: Packet, frame: bytes, out: bytearray) -> None:
        """Copy what a captured virtual ENI on this path carries: the packet as it
        looks on that ENI's side of the translation."""
        for eni_id, ft in half.log:
            # Host ENIs are captured on their own veth; data flows never cross an
            # NLB node's veth (it carries health checks only), so it is mirrored too.
            if eni_id in self.mirror and self.enis[eni_id].kind != "host":
                seen = frame if (ft.src == p.src and ft.dst == p.dst) else out
                self.mirror_out.append((eni_id, bytes(seen)))

    def mirror_start(self, eni_id: str) -> None:
        if eni_id not in self.enis:
            raise KeyError(f"no ENI {eni_id}")
        self.mirror.add(eni_id)

    def mirror_stop(self, eni_id: str) -> None:
        self.mirror.discard(eni_id)

    def drain_mirror(self) -> list[tuple[str, bytes]]:
        out, self.mirror_out = self.mirror_out, []
        return out

    def _rejudge(self, flow: Flow, half: FlowHalf, p: Packet, now: float) -> Frames | None:
        """Untracked flow: the rules decide every packet (AWS), tracked sides pass."""
        sender: EniState = half.in_eni
        receiver: EniState = half.out_eni
        sender_untracked = flow.untracked_dst if half.is_reply else flow.untracked_src
        receiver_untracked = flow.untracked_src if half.is_reply else flow.untracked_dst
        vpc = sender.vpc
        a, b = _sg_ports(p)
        if sender_untracked:
            peer = vpc.enis.get(p.dst)
            v = sender.policy.evaluate(
                EGRESS, p.proto, a, b, p.dst, peer.groups if peer else _NO_GROUPS
            )
            if not v.allowed:
                self.flowlog.add(sender.id, REJECT, _five(p), p.tot_len, now)
                return self._drop("sg-egress", sender, p, now, "no rule matched (untracked flow)")
        if receiver_untracked:
            peer = vpc.enis.get(p.src)
            v = receiver.policy.evaluate(
                INGRESS, p.proto, a, b, p.src, peer.groups if peer else _NO_GROUPS
            )
            if not v.allowed:
                ft = _five(p)
                self.flowlog.add(sender.id, ACCEPT, ft, p.tot_len, now)
                self.flowlog.add(receiver.id, REJECT, ft, p.tot_len, now)
                return self._drop(
                    "sg-ingress", receiver, p, now, "no rule matched (untracked flow)"
                )
        return None

    def _tcp_update(self, flow: Flow, half: FlowHalf, flags: int, now: float) -> bool:
        """Advance the TCP state; True if this SYN starts a new connection on a closed flow."""
        state = flow.state
        if flags & TCP_RST:
            if state != TCP_CLOSED:
                self.conntrack.set_state(flow, TCP_CLOSED, now)
            return False
        if flags & TCP_SYN:
            if not half.is_reply and not flags & TCP_ACK and state == TCP_CLOSED:
                return True
            if half.is_reply and state == TCP_SYN_SENT:
                self.conntrack.set_state(flow, TCP_ESTABLISHED, now)
            return False
        if flags & TCP_FIN:
            if half.is_reply:
                flow.fin_reply = True
            else:
                flow.fin_orig = True
            new = TCP_CLOSED if flow.fin_orig and flow.fin_reply else TCP_FIN_WAIT
            if new != state and state != TCP_CLOSED:
                self.conntrack.set_state(flow, new, now)
            return False
        if state == TCP_SYN_SENT and half.is_reply:
            self.conntrack.set_state(flow, TCP_ESTABLISHED, now)
        return False

    def _later_fragment(self, eni: EniState, p: Packet, frame: bytes, now: float) -> Frames:
        # Non-first fragments have no ports: they follow the flow of their first
        # fragment (same src, dst, protocol and IP id), as a reassembling
        # firewall would; without one seen recently they are dropped.
        entry = self._frags.get((eni.vpc.index, p.src, p.dst, p.proto, p.ip_id))
        if entry is None or now - entry[1] > FRAGMENT_TIMEOUT or entry[0].flow.dead:
            return self._drop("fragment-no-flow", eni, p, now)
        half = entry[0]
        if half.in_eni is not eni:
            return self._drop("flow-wrong-eni", eni, p, now)
        return self._forward(half, p, frame, now)

    def _remember_fragment(self, half: FlowHalf, p: Packet, now: float) -> None:
        frags = self._frags
        if len(frags) >= FRAGMENT_TABLE_MAX:
            del frags[next(iter(frags))]  # oldest first: dicts keep insertion order
        frags[(half.flow.vpc, p.src, p.dst, p.proto, p.ip_id)] = (half, now)

    def _to_router(self, eni: EniState, p: Packet, frame: bytes, now: float) -> Frames:
        if (
            p.dst in eni.vpc.routers
            and p.proto == PROTO_ICMP
            and p.icmp_type == 8
            and not (p.first_fragment or p.later_fragment)
        ):
            reply = _echo_reply(eni, p, frame)
            if reply is None:
                return self._drop("bad-icmp-checksum", eni, p, now)
            self._counts["router.echo-replied"] += 1
            return [(eni.port, reply)]
        return self._drop("vpc-service-not-emulated", eni, p, now)

    def _route_local(self, vpc: VpcState, route: Route, p: Packet) -> EniState | str:
        dst = vpc.enis.get(p.dst)
        if dst is None or (
            dst.port < 0 and dst.kind not in ("vpce", "apigw-public", "vpclink-front")
        ):
            return "no-eni"  # AWS drops silently
        return dst

    def _route_eni(self, vpc: VpcState, route: Route, p: Packet) -> EniState | str:
        for st in vpc.enis.values():
            if st.id == route.target:
                return st if st.port >= 0 else "no-eni"
        return "blackhole"  # AWS: a route whose target is gone is a blackhole

    # -------------------------------------------------------------- helpers

    def _forget_fast(self, flow: Flow) -> None:
        for h in (flow.orig, flow.reply):
            if h.fast_key is not None:
                self._fast.pop(h.fast_key, None)
                h.fast_key = None

    def _drop(
        self, reason: str, eni: EniState | None, p: Packet | None, now: float, detail: str = ""
    ) -> Frames:
        self._counts["dropped." + reason] += 1
        if p is not None and self._tracing(p):
            where = eni.id if eni else "-"
            self.events.append(TraceHop(now, _five(p), "drop", where, "DROP", f"{reason} {detail}"))
        if self.drop_events:
            self.events.append(
                DropEvent(now, reason, eni.id if eni else None, _five(p) if p else None, detail)
            )
        return []

    def _tracing(self, p: Packet) -> bool:
        """Trace this new flow? (everything, or flows from/to a traced address)"""
        return self.trace or (
            bool(self.trace_addresses)
            and (p.src in self.trace_addresses or p.dst in self.trace_addresses)
        )

    def _trace(self, now: float, p: Packet, step: str, where: str, v: Verdict) -> None:
        if not v.allowed:
            detail = "no rule matched"
        elif v.sg_id is None:
            detail = "no security groups on this ENI (not filtered)"
        else:
            detail = f"{v.sg_id} {v.rule_id}"
        if v.untracked:
            detail += " untracked"
        self.events.append(TraceHop(now, _five(p), step, where, v.action, detail))


# ------------------------------------------------------------------ helpers


def _initial_state(p: Packet) -> int:
    if p.proto == PROTO_TCP:
        f = p.tcp_flags
        if f & TCP_RST:
            return TCP_CLOSED
        if f & TCP_SYN and not f & TCP_ACK:
            return TCP_SYN_SENT
        return TCP_ESTABLISHED  # picked up mid-stream (the fabric restarted, or no SYN)
    if p.proto == PROTO_UDP:
        return UDP_UNREPLIED
    if p.proto == PROTO_ICMP:
        return ICMP_ECHO
    return OTHER


def _fast_eligible(flow: Flow) -> bool:
    if flow.proto == PROTO_TCP:
        return flow.state in (TCP_ESTABLISHED, TCP_FIN_WAIT, TCP_CLOSED)
    return flow.proto == PROTO_UDP and flow.state == UDP_STREAM


def _sg_ports(p: Packet) -> tuple[int, int]:
    if p.proto == PROTO_ICMP:
        return p.icmp_type, p.icmp_code
    return p.dport, 0


def _five(p: Packet) -> FiveTuple:
    if p.proto in (PROTO_TCP, PROTO_UDP):
        return FiveTuple(p.proto, p.src, p.dst, p.sport, p.dport)
    return FiveTuple(p.proto, p.src, p.dst, -1, -1)


def _rewrite(frame: bytes, l2: bytes) -> bytearray:
    out = bytearray(frame)
    out[0:12] = l2
    out[22] -= 1
    c = TTL_DECREMENT_CSUM[(frame[24] << 8) | frame[25]]
    out[24] = c >> 8
    out[25] = c & 0xFF
    return out


def _echo_reply(eni: EniState, p: Packet, frame: bytes) -> bytes | None:
    """The router's answer to a ping; None if the request's ICMP checksum is bad."""
    icmp = frame[14 + p.ihl : 14 + p.tot_len]
    if internet_checksum(icmp) != 0:
        return None
    old_word = (icmp[0] << 8) | icmp[1]
    csum = csum_replace16((icmp[2] << 8) | icmp[3], old_word, old_word & 0x00FF)  # type 8 -> 0
    icmp_out = b"\x00" + icmp[1:2] + csum.to_bytes(2, "big") + icmp[4:]
    hdr = bytearray(20)
    hdr[0] = 0x45
    hdr[2:4] = (20 + len(icmp_out)).to_bytes(2, "big")
    hdr[8] = 64
    hdr[9] = PROTO_ICMP
    hdr[12:16] = p.dst.to_bytes(4, "big")
    hdr[16:20] = p.src.to_bytes(4, "big")
    hdr[10:12] = internet_checksum(hdr).to_bytes(2, "big")
    return eni.l2_to + b"\x08\x00" + bytes(hdr) + icmp_out


def _pack(src: int, dst: int, sport: int, dport: int) -> bytes:
    return (
        src.to_bytes(4, "big")
        + dst.to_bytes(4, "big")
        + sport.to_bytes(2, "big")
        + dport.to_bytes(2, "big")
    )


def _fold(x: int) -> int:
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def _set_nat(
    half: FlowHalf,
    src: int,
    dst: int,
    sport: int,
    dport: int,
    nsrc: int,
    ndst: int,
    nsport: int,
    ndport: int,
) -> None:
    """Translation of one direction, with RFC 1624 deltas: sum(~old + new) per word."""
    old = _pack(src, dst, sport, dport)
    new = _pack(nsrc, ndst, nsport, ndport)
    words = [
        (~((old[i] << 8) | old[i + 1]) & 0xFFFF) + ((new[i] << 8) | new[i + 1])
        for i in range(0, 12, 2)
    ]
    half.nat = new
    half.ipd = _fold(sum(words[:4]))  # IP header: the two addresses
    half.l4d = _fold(sum(words))  # TCP/UDP: pseudo-header addresses and the ports


def _translate_addresses(out: bytearray, h: FlowHalf, c: int) -> int:
    out[26:34] = h.nat[:8]  # type: ignore[index]
    s = (~c & 0xFFFF) + h.ipd
    return ~_fold(s) & 0xFFFF


def _translate(out: bytearray, h: FlowHalf, c: int, proto: int, l4: int) -> int:
    """Write the translated addresses and ports; fix the L4 checksum; return the IP one."""
    nat = h.nat
    assert nat is not None
    out[26:34] = nat[:8]
    out[l4 : l4 + 4] = nat[8:]
    o = l4 + (16 if proto == PROTO_TCP else 6)
    old = (out[o] << 8) | out[o + 1]
    if not (proto == PROTO_UDP and old == 0):  # UDP checksum 0: none was computed
        n = ~_fold((~old & 0xFFFF) + h.l4d) & 0xFFFF
        if proto == PROTO_UDP and n == 0:
            n = 0xFFFF
        out[o] = n >> 8
        out[o + 1] = n & 0xFF
    return ~_fold((~c & 0xFFFF) + h.ipd) & 0xFFFF


def _reverse(ft: FiveTuple) -> FiveTuple:
    return FiveTuple(ft.proto, ft.dst, ft.src, ft.dport, ft.sport)


def _unfiltered(kind: str) -> bool:
    """NLB nodes have no security groups (classic NLBs); the Amazon DNS server's traffic
    is not filtered by them (EC2 User Guide); API Gateway's own ENIs carry none."""
    return kind in ("nlb", "resolver", "apigw", "vpce-ingress")
