"""The fabric core: the emulator's Hyperplane, sans-IO.

`Fabric.handle(port, frame, now)` takes one Ethernet frame received on a host
ENI's fabric-side veth and returns the frames to send, as ``(port, frame)``;
what happened besides goes to `Fabric.events` (drops with reasons, trace
hops; bounded, and what it pushes out is counted as ``events.dropped``) and
to `Fabric.drain_flow_logs()` (VPC Flow Logs records). No sockets, no clock,
no threads: the driver owns those and calls `tick(now)` for timers.

This module is the packet walk; the rooms around it (docs/fabric.md has the map):
`topology`/`tables` (what is looked up), `paths/` (what a new flow's route or
destination leads to: NLBs and endpoints, gateways, VPC links), `judge`
(security groups), `nat` (translation arithmetic), `conntrack` (flows and their
state machines), `flowlog`, `reasons` (drop reasons by name).

What the walk emulates (AWS behaviour, sources in docs/fabric.md):

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
  169.254.169.253): DNS (TCP/UDP 53) to the resolver addresses goes to the
  VPC's resolver ENI; ICMP echo to a subnet router is answered; anything else
  is dropped (``vpc-service-not-emulated``).

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

from hyperplane_emu.plan.model import Plan, PlanNetworkAcl, PlanSecurityGroup

from . import arp, boundary, ppv2, tcpreset
from .checksum import TTL_DECREMENT_CSUM
from .conntrack import (
    UDP_STREAM,
    ConnTrack,
    ConntrackTimeouts,
    Flow,
    FlowHalf,
    describe_flow,
    initial_state,
    shared_verdicts,
)
from .datapath import Frames, FrontPath, RoutePath
from .events import DropEvent, Event, FiveTuple, FlowLogRecord, TraceHop
from .fastpath import FastPath
from .flowlog import REJECT, FlowLogger, record_flags
from .judge import judge
from .nacl import Crossing
from .nat import Translation, rewrite, translate, translate_addresses, translate_flow
from .nlb import TargetState
from .packet import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPES_VLAN,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    Packet,
    ethertype,
    parse_ipv4,
)
from .paths import FRONT_PATHS, ROUTE_PATHS
from .reasons import DropReason
from .router import echo_reply
from .routing import Route
from .secgroup import EGRESS, INGRESS, EniPolicy, Verdict, compile_group
from .tables import AMAZON_DNS_LINK_LOCAL, EniState, ip
from .topology import Topology

FRAGMENT_TIMEOUT = 30.0  # seconds a first fragment's flow is remembered for its followers
FRAGMENT_TABLE_MAX = 4096
EVENTS_MAX = 65536
UNTRACKED = "no rule matched (untracked flow)"


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
        self.fastpath = FastPath()  # the driver attaches the kernel's map, when it loads
        self._fast = self.fastpath.entries
        self._frags: dict[tuple[int, int, int, int, int], tuple[FlowHalf, float]] = {}
        self.conntrack = ConnTrack(plan.settings.conntrack_max, timeouts)
        self.conntrack.refresh = self.fastpath.refresh  # kernel-carried packets count too
        self.topology = topo = Topology(plan)
        self.vpcs = topo.vpcs
        self.enis = topo.enis
        self.load_balancers = topo.load_balancers
        self.endpoints = topo.endpoints
        self._ports = topo.ports
        # `flow_log_formats` (tests, tools) adds to or overrides the topology's formats.
        self.flowlog = FlowLogger.for_plan(plan, topo.accounts, flow_log_formats, clock_start)
        self._flow_logs: list[FlowLogRecord] = []
        # Route target kind / front ENI kind -> path handler (see paths/__init__.py).
        self.route_handlers: dict[str, RoutePath] = dict(ROUTE_PATHS)
        self.front_handlers: dict[str, FrontPath] = dict(FRONT_PATHS)

    # ------------------------------------------------------------------ API

    @property
    def counters(self) -> dict[str, int]:
        """Snapshot: ``forwarded``, ``dropped.<reason>``, ``arp.*``, ``conntrack.*``…"""
        c = dict(self._counts)
        c["forwarded"] = c.get("forwarded", 0) + self._fast_forwarded
        c["conntrack.entries"] = self.conntrack.count
        c["conntrack.max"] = self.conntrack.max_flows
        c.update(self.fastpath.counters())
        c["forwarded"] += c.get("fastpath.kernel.forwarded", 0)
        c["flowlog.skipped"] = self.flowlog.skipped
        c["events.dropped"] = c.get("events.dropped", 0)
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
                        c = translate(out, h, c, proto, 34)
                    out[24] = c >> 8
                    out[25] = c & 0xFF
                    self._fast_forwarded += 1
                    # bytearray is bytes-like; a bytes() copy would cost a second memcpy.
                    return [(h.out_port, out)]  # type: ignore[list-item]
        return self._slow(port, frame, now)

    def tick(self, now: float) -> None:
        """Timers: conntrack expiry, fragment memory, flow-log window flush."""
        for flow in self.conntrack.expire(now):
            self.fastpath.forget(flow)
            self.flowlog.retire(flow)
            self._counts["conntrack.expired"] += 1
        if self._frags:
            stale = [k for k, (_, t) in self._frags.items() if now - t > FRAGMENT_TIMEOUT]
            for k in stale:
                del self._frags[k]
        if self.flowlog.due(now):
            self.fastpath.sync(now)
            self._flow_logs.extend(self.flowlog.flush(now, self.conntrack.flows()))

    def flush_flow_logs(self, now: float) -> None:
        """Close the current flow-log window now (``flush_flow_logs`` control op)."""
        self.fastpath.sync(now)
        self._flow_logs.extend(self.flowlog.flush(now, self.conntrack.flows()))

    def drain_flow_logs(self) -> list[FlowLogRecord]:
        """Flow-log records of the closed windows, ``(eni_id, line)`` each; clears them."""
        out, self._flow_logs = self._flow_logs, []
        return out

    def drain_events(self) -> list[Event]:
        """The queued drop events and trace hops, oldest first; clears the queue."""
        out = list(self.events)
        self.events.clear()
        return out

    def replace_security_group(self, sg: PlanSecurityGroup) -> None:
        """Live rule change. Tracked flows keep going; untracked ones are re-judged
        on their next packet (the fast cache is emptied so that they are)."""
        compiled = self.topology.compiled
        compiled[sg.id] = compile_group(sg)
        for st in self.enis.values():
            if sg.id in st.groups:
                st.policy = EniPolicy(st.id, st.groups, compiled, st.unfiltered)
        self.fastpath.rules_changed()
        self._counts["sg.replaced"] += 1

    def replace_network_acl(self, acl: PlanNetworkAcl) -> int:
        """Live rule change of a network ACL. Stateless (AWS): the new rules apply to
        every packet at once, so live flows are re-judged now and those a rule no
        longer allows (either way) are ended; their next packet is a new flow, judged
        and dropped. Returns the number of flows ended."""
        self.topology.acls.replace(acl, sparse=True)
        ended = boundary.denied(self.topology.acls, self.conntrack.flows())
        for flow in ended:
            self._end(flow)
        self._counts["nacl.replaced"] += 1
        self._counts["nacl.flows-ended"] += len(ended)
        return len(ended)

    def trace_address(self, addr: str) -> None:
        """Trace every flow from or to ``addr`` (slow-path decisions)."""
        self.trace_addresses.add(ip(addr))

    def conntrack_dump(self, now: float | None = None) -> list[dict[str, object]]:
        """The flow table for ``status`` / the ``conntrack`` control op (``now``: the
        driver's clock, to read the kernel's counters first)."""
        if now is not None:
            self.fastpath.sync(now)
        return [describe_flow(f) for f in self.conntrack.flows()]

    # ------------------------------------------------- NLB / PrivateLink control

    def set_target_health(
        self, lb_key: str, target_group: str, target_id: str, state: str, reason: str = ""
    ) -> None:
        """Health checker's verdict for one target (`initial`/`healthy`/`unhealthy`)."""
        tg = self.load_balancers[lb_key].target_groups[target_group]
        for t in tg.targets:
            if t.id == target_id:
                changed = t.health != state
                if changed:
                    self._counts[f"nlb.health.{state}"] += 1
                t.health = state
                t.reason = reason
                # AWS resets the connections of a target that turns unhealthy
                # (attribute on by default), unless the NLB now fails open.
                if changed and state == "unhealthy" and tg.terminates_connections():
                    self._terminate(t)
                return
        raise KeyError(target_id)

    def _terminate(self, target: TargetState) -> None:
        """TCP flows to `target` answer their next packet with RSTs; UDP flows end."""
        for flow in self.conntrack.flows():
            if flow.target is target:
                flow.resetting = flow.proto == PROTO_TCP
                (self.fastpath.forget if flow.resetting else self._end)(flow)

    def set_endpoint_state(self, endpoint_id: str, state: str) -> None:
        """Connection state of an interface endpoint (accept / reject by the provider).

        Rejecting an available connection ends the flows that went through it."""
        ep = self.endpoints[endpoint_id]
        ep.state = state
        if state != "available":
            for flow in self.conntrack.flows():
                if flow.via is ep:
                    self._end(flow)

    def nat_origin(
        self, vpc: str, proto: int, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, object] | None:
        """Who really opened a translated flow, as its receiver sees it (src:sport -> dst:dport
        in `vpc`): API Gateway asks this to put the caller's address in X-Forwarded-For."""
        st = self.vpcs.get(vpc)
        if st is None:
            return None
        half = self.conntrack.table.get((st.index, proto, ip(dst), ip(src), dport, sport))
        if half is None or not half.is_reply:
            return None
        flow = half.flow
        return {
            "src": str(ipaddress.IPv4Address(flow.src)),
            "sport": flow.sport,
            "dst": str(ipaddress.IPv4Address(flow.dst)),
            "dport": flow.dport,
            "vpc": self.topology.vpc_by_index(flow.vpc).id,
            "eni": flow.orig.in_eni.id,
        }

    def load_balancer_status(self) -> list[dict[str, object]]:
        return [lb.describe() for lb in self.load_balancers.values()]

    # ------------------------------------------------------------ capture

    def mirror_start(self, eni_id: str) -> None:
        if eni_id not in self.enis:
            raise KeyError(f"no ENI {eni_id}")
        self.mirror.add(eni_id)

    def mirror_stop(self, eni_id: str) -> None:
        self.mirror.discard(eni_id)

    def drain_mirror(self) -> list[tuple[str, bytes]]:
        out, self.mirror_out = self.mirror_out, []
        return out

    # ------------------------------------------------------------ slow path

    def _slow(self, port: int, frame: bytes, now: float) -> Frames:
        eni = self._ports[port] if 0 <= port < len(self._ports) else None
        if eni is None:
            return self.drop(DropReason.UNKNOWN_PORT, None, None, now)
        et = ethertype(frame)
        if et == ETHERTYPE_ARP:
            return self._arp(eni, frame)
        if et != ETHERTYPE_IPV4:
            if et in ETHERTYPES_VLAN:
                return self.drop(DropReason.VLAN_TAGGED, eni, None, now)
            if et == ETHERTYPE_IPV6:
                return self.drop(DropReason.IPV6_NOT_ENABLED, eni, None, now)
            if et < 0:
                return self.drop(DropReason.TRUNCATED, eni, None, now)
            return self.drop(DropReason.UNSUPPORTED_ETHERTYPE, eni, None, now)
        if not frame.startswith(eni.fabric_mac):
            if frame[0] & 1:
                return self.drop(DropReason.NOT_UNICAST, eni, None, now)
            return self.drop(DropReason.L2_NOT_FOR_ROUTER, eni, None, now)
        p = parse_ipv4(frame)
        if isinstance(p, DropReason):
            return self.drop(p, eni, None, now)
        if eni.source_dest_check and p.src != eni.ip:
            # A spoofed source: dropped, and recorded as rejected on the ENI it came from.
            self.flowlog.add(eni.id, REJECT, p.five(), p.tot_len, now)
            return self.drop(
                DropReason.SRC_DST_CHECK, eni, p, now, "source is not the ENI's address"
            )
        vpc = eni.vpc
        if p.dst in vpc.services and not (
            p.dst in vpc.dns_addresses
            and vpc.resolver is not None
            and p.dport == 53
            and p.proto in (PROTO_TCP, PROTO_UDP)
        ):
            return self._to_router(eni, p, frame, now)
        if p.ttl <= 1:
            return self.drop(DropReason.TTL_EXPIRED, eni, p, now)
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
        """No flow yet: the route (or the VPC's resolver) says which path decides."""
        vpc = eni.vpc
        tracing = self._tracing(p)
        if p.dst in vpc.dns_addresses and vpc.resolver is not None:
            return self.deliver(eni, vpc.resolver, None, p, frame, now, tracing)
        route = vpc.routes.lookup(p.dst)
        if route is None:
            return self.drop(DropReason.NO_ROUTE, eni, p, now)
        handler = self.route_handlers.get(route.kind)
        if handler is None:
            return self.drop(DropReason.ROUTE_TARGET_NOT_EMULATED, eni, p, now, str(route))
        return handler(self, eni, route, p, frame, now, tracing)

    def deliver(
        self,
        eni: EniState,
        dst: EniState,
        route: Route | None,
        p: Packet,
        frame: bytes,
        now: float,
        tracing: bool,
    ) -> Frames:
        """A new flow from `eni` to `dst` in its VPC: a front's path, or the plain router."""
        front = self.front_handlers.get(dst.kind)
        if front is not None:
            return front(self, eni, dst, p, frame, now, tracing)
        if dst.source_dest_check and p.dst != dst.ip:
            return self.drop(
                DropReason.SRC_DST_CHECK, dst, p, now, "destination is not the ENI's address"
            )
        vpc = eni.vpc
        # DNS to the Amazon DNS server is never filtered (security groups, ACLs).
        dns = dst.kind == "resolver"
        ve = judge(
            self, EGRESS, eni, p, now, p.dst, vpc.groups_of(p.dst), tracing, exempt=dns
        )  # fmt: skip
        if not ve.allowed:
            return []
        if tracing:
            self.hop(now, p.five(), "route", vpc.id, "FORWARD", f"{route or 'dns'} ({dst.id})")
        acl = () if dns else boundary.hop(eni, dst, p.five())
        if acl and not boundary.cross(self, acl, p, now, tracing):
            return []
        vi = judge(self, INGRESS, dst, p, now, p.src, vpc.groups_of(p.src), tracing, sender=eni.id)
        if not vi.allowed:
            return []
        return self.open_flow(eni, dst, p, frame, now, (ve, vi), tracing, acl=acl)

    def open_flow(
        self,
        eni: EniState,
        dst: EniState,
        p: Packet,
        frame: bytes,
        now: float,
        verdicts: tuple[Verdict, ...],
        tracing: bool,
        nat: Translation | None = None,
        acl: tuple[Crossing, ...] = (),
    ) -> Frames:
        """Track a new flow from `eni` to `dst` (translated by `nat`) and forward its packet.

        ``acl``: the subnet boundaries its request crossed (already judged); the
        reply's are judged when its first packet comes (`_existing`)."""
        flow = Flow(
            eni.vpc.index, p.proto, p.src, p.dst, p.sport, p.dport,
            initial_state(p.proto, p.tcp_flags), now,
        )  # fmt: skip
        if nat is None:
            flow.untracked_src = verdicts[0].untracked
            flow.untracked_dst = verdicts[-1].untracked
        else:  # flows through NLBs, endpoints and gateways are always tracked (AWS)
            translate_flow(flow, nat)
        if not self.conntrack.add(flow, now):
            self._counts["conntrack.full"] += 1
            return self.drop(DropReason.CONNTRACK_FULL, eni, p, now)
        flow.verdicts = shared_verdicts(verdicts)
        if acl:
            flow.acl = acl
            flow.acl_reply = boundary.replies(acl)
        flow.connect(eni, dst)
        self._counts["conntrack.created"] += 1
        if tracing:
            seen = (
                p.five() if nat is None
                else FiveTuple(p.proto, nat.src, nat.dst, nat.sport, nat.dport)
            )  # fmt: skip
            self.hop(now, seen, "deliver", dst.id, "FORWARD", f"port {dst.port}")
            flow.traced = True
        return self._forward(flow.orig, p, frame, now)

    def _existing(
        self, half: FlowHalf, eni: EniState, p: Packet, frame: bytes, now: float
    ) -> Frames:
        flow = half.flow
        if half.in_eni is not eni:
            # Same addresses, another ENI (possible with source/dest check off).
            return self.drop(DropReason.FLOW_WRONG_ENI, eni, p, now)
        if flow.resetting:
            return self._reset(flow, half, p, frame, now)
        if flow.traced and half.is_reply and not half.pk:
            back = "reverse-translated" if half.nat is not None else "conntrack"
            self.hop(now, p.five(), "reply", half.out_eni.id, "FORWARD",
                     f"{back}, no security group evaluated (tracked flow)")  # fmt: skip
        if flow.untracked and not self._rejudge(flow, half, p, now):
            return []
        if half.is_reply and flow.acl_reply is not None:
            # ACLs are stateless: the reply direction is judged by its own rules, once;
            # a denied reply stays pending (every try is judged and logged again).
            if not boundary.cross(self, flow.acl_reply, p, now, flow.traced):
                return []
            flow.acl_reply = None
        if p.proto == PROTO_TCP:
            if self.conntrack.advance_tcp(flow, half.is_reply, p.tcp_flags, now):
                # A new SYN on a closed flow: the port is reused, judge it afresh.
                self._end(flow)
                return self._new_flow(eni, p, frame, now)
        elif p.proto == PROTO_UDP and flow.state != UDP_STREAM:
            same_direction = self.conntrack.advance_udp(flow, half.is_reply, now)
            if flow.state != UDP_STREAM:
                # Not a stream yet: only a change of direction can change the
                # flow's state, so a run of packets in one direction may take the
                # fast path (one-way UDP such as iperf3 -u, syslog, statsd), and
                # the other direction must come back here to count the turnaround.
                self.fastpath.drop_half(flow.orig if half.is_reply else flow.reply)
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
        if p.proto == PROTO_TCP:
            half.flags |= record_flags(p.tcp_flags)
        if p.first_fragment:
            self._remember_fragment(half, p, now)
        elif half.fast_key is None and p.ihl == 20 and (udp_run or flow.fast_eligible):
            self.fastpath.add(half, (half.in_eni.port, p.proto, frame[26:38]))
        self._counts["forwarded"] += 1
        out = rewrite(frame, half.l2)
        if half.nat is not None:
            c = (out[24] << 8) | out[25]
            if p.later_fragment:  # no L4 header here: addresses only
                c = translate_addresses(out, half, c)
            else:
                c = translate(out, half, c, p.proto, 14 + p.ihl)
            out[24] = c >> 8
            out[25] = c & 0xFF
            if self.mirror and half.log is not None:
                self._mirror(half, p, frame, out)
            if flow.ppv2 is not None and not p.later_fragment:
                return ppv2.frames(flow.ppv2, half.is_reply, half.out_port, out)
        return [(half.out_port, out)]  # type: ignore[list-item]

    def _reset(self, flow: Flow, half: FlowHalf, p: Packet, frame: bytes, now: float) -> Frames:
        """A packet of a connection whose target turned unhealthy: RSTs both ways, the end."""
        out = tcpreset.terminate(frame, p, half.in_eni, self._forward(half, p, frame, now))
        self._counts["nlb.connection-reset"] += 1
        self._end(flow)
        return out

    def _mirror(self, half: FlowHalf, p: Packet, frame: bytes, out: bytearray) -> None:
        """Copy what a captured virtual ENI on this path carries: the packet as it
        looks on that ENI's side of the translation."""
        for eni_id, ft in half.path_view():
            # Host ENIs are captured on their own veth; data flows never cross an
            # NLB node's veth (it carries health checks only), so it is mirrored too.
            if eni_id in self.mirror and self.enis[eni_id].kind != "host":
                seen = frame if (ft.src == p.src and ft.dst == p.dst) else out
                self.mirror_out.append((eni_id, bytes(seen)))

    def _rejudge(self, flow: Flow, half: FlowHalf, p: Packet, now: float) -> bool:
        """Untracked flow: the rules decide every packet (AWS), tracked sides pass."""
        sender, receiver = half.in_eni, half.out_eni
        vpc = sender.vpc
        if flow.untracked_dst if half.is_reply else flow.untracked_src:
            v = judge(
                self, EGRESS, sender, p, now, p.dst, vpc.groups_of(p.dst), False,
                detail=UNTRACKED,
            )  # fmt: skip
            if not v.allowed:
                return False
        if flow.untracked_src if half.is_reply else flow.untracked_dst:
            v = judge(
                self, INGRESS, receiver, p, now, p.src, vpc.groups_of(p.src), False,
                sender=sender.id, detail=UNTRACKED,
            )  # fmt: skip
            if not v.allowed:
                return False
        return True

    def _later_fragment(self, eni: EniState, p: Packet, frame: bytes, now: float) -> Frames:
        # Non-first fragments have no ports: they follow the flow of their first
        # fragment (same src, dst, protocol and IP id), as a reassembling
        # firewall would; without one seen recently they are dropped.
        entry = self._frags.get((eni.vpc.index, p.src, p.dst, p.proto, p.ip_id))
        if entry is None or now - entry[1] > FRAGMENT_TIMEOUT or entry[0].flow.dead:
            return self.drop(DropReason.FRAGMENT_NO_FLOW, eni, p, now)
        half = entry[0]
        if half.in_eni is not eni:
            return self.drop(DropReason.FLOW_WRONG_ENI, eni, p, now)
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
            reply = echo_reply(eni, p, frame)
            if reply is None:
                return self.drop(DropReason.BAD_ICMP_CHECKSUM, eni, p, now)
            self._counts["router.echo-replied"] += 1
            return [(eni.port, reply)]
        return self.drop(DropReason.VPC_SERVICE_NOT_EMULATED, eni, p, now)

    # ------------------------------------------- what paths use (datapath.Datapath)

    def count(self, name: str) -> None:
        self._counts[name] += 1

    def drop(
        self,
        reason: DropReason,
        eni: EniState | None,
        p: Packet | None,
        now: float,
        detail: str = "",
    ) -> Frames:
        self._counts["dropped." + reason] += 1
        if p is not None and self._tracing(p):
            where = eni.id if eni else "-"
            self._emit(TraceHop(now, p.five(), "drop", where, "DROP", f"{reason} {detail}"))
        if self.drop_events:
            self._emit(
                DropEvent(now, reason, eni.id if eni else None, p.five() if p else None, detail)
            )
        return []

    def hop(
        self, now: float, ft: FiveTuple, step: str, where: str, action: str, detail: str
    ) -> None:
        self._emit(TraceHop(now, ft, step, where, action, detail))

    # -------------------------------------------------------------- helpers

    def _emit(self, ev: Event) -> None:
        """Queue an event; one the full queue pushes out is counted, never lost silently."""
        if len(self.events) == self.events.maxlen:
            self._counts["events.dropped"] += 1
        self.events.append(ev)

    def _end(self, flow: Flow) -> None:
        """Forget a live flow now: its fast entries (with the kernel's last counts),
        its counters to the flow log, its keys."""
        self.fastpath.forget(flow)
        self.flowlog.retire(flow)
        self.conntrack.remove(flow)

    def _tracing(self, p: Packet) -> bool:
        """Trace this new flow? (everything, or flows from/to a traced address)"""
        return self.trace or (
            bool(self.trace_addresses)
            and (p.src in self.trace_addresses or p.dst in self.trace_addresses)
        )
