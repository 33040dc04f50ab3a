"""Connection tracking: a bounded flow table with per-state timeouts.

Model (AWS EC2 User Guide, "Security group connection tracking"; timeouts
from "Connection tracking timeouts"):

- A flow is identified, inside one VPC, by (protocol, source, destination,
  source port, destination port) as first seen: TCP/UDP by ports, ICMP echo
  by its identifier (request and reply share a flow), other protocols by
  (protocol, addresses) alone. Replies match the reversed tuple. Flows of
  different VPCs never meet, even with overlapping CIDRs: the VPC is part of
  the key.
- Timeouts per state (defaults; AWS lets an ENI set the first three):
  TCP established 432000 s (5 days), UDP stream 180 s (more than one
  request/response), UDP 30 s (one direction or a single exchange), ICMP 30 s,
  other protocols 600 s (AWS: "within 600 seconds"); TCP SYN sent 60 s,
  FIN seen 120 s, closed (RST, or FIN both ways) 10 s. AWS does not publish
  the last three; they follow Linux's order of magnitude.
- The table is bounded (`Plan.settings.conntrack_max` flows). When it is full
  a new flow is refused (the core drops its packet, ``conntrack.full``) while
  existing flows keep going: AWS's behaviour when an instance exceeds its
  connection-tracking allowance.

Expiry costs nothing per packet: packets only store ``now`` in the flow half
they belong to. Each flow sits in one deadline bucket (1 s wide) of a heap;
`ConnTrack.expire(now)` pops due buckets, and for each flow either expires it
or re-files it at its real deadline (``last packet + timeout of its state``).
A state change that shortens the timeout (FIN, RST) files the flow earlier.
No flow is filed more than `HORIZON` seconds ahead (a 5-day flow is simply
re-filed every few minutes), so the stale bucket entries a state change leaves
behind live at most that long: memory stays proportional to the table.

State machines are tables, not code (h11's habit): a packet of a known flow is
first reduced to an *event* (`tcp_event`: RST, SYN, the SYN-ACK, a FIN, the
last FIN, another reply, another packet; UDP: a turnaround from request to
reply), then ``TCP_TRANSITIONS[(state, event)]`` / ``UDP_TRANSITIONS`` give the
next state; a pair missing from the table leaves the state alone.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from hyperplane_emu.plan.model import PlanVpcLinkV2

from .events import FiveTuple
from .nacl import Crossing
from .nlb import EndpointState, LoadBalancerState, TargetState
from .packet import PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN
from .ppv2 import StreamInsert
from .secgroup import Verdict
from .tables import EniState

# States: small ints so that the timeout lookup is a tuple index.
TCP_SYN_SENT = 0
TCP_ESTABLISHED = 1
TCP_FIN_WAIT = 2
TCP_CLOSED = 3
UDP_UNREPLIED = 4
UDP_REPLIED = 5
UDP_STREAM = 6
ICMP_ECHO = 7
OTHER = 8

FAST_PATH_STATES = frozenset((TCP_ESTABLISHED, TCP_FIN_WAIT, TCP_CLOSED, UDP_STREAM))
"""States whose packets (without SYN/FIN/RST) cannot change the state: fast-path eligible."""

STATE_NAMES = (
    "SYN_SENT",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSED",
    "UDP_UNREPLIED",
    "UDP_REPLIED",
    "UDP_STREAM",
    "ICMP",
    "OTHER",
)


@dataclass(frozen=True)
class ConntrackTimeouts:
    """Seconds of idleness after which a flow in each state is forgotten."""

    tcp_syn_sent: float = 60.0
    tcp_established: float = 432000.0
    tcp_fin_wait: float = 120.0
    tcp_closed: float = 10.0
    udp: float = 30.0
    udp_stream: float = 180.0
    icmp: float = 30.0
    other: float = 600.0

    def by_state(self) -> tuple[float, ...]:
        return (
            self.tcp_syn_sent,
            self.tcp_established,
            self.tcp_fin_wait,
            self.tcp_closed,
            self.udp,
            self.udp,
            self.udp_stream,
            self.icmp,
            self.other,
        )


HORIZON = 300.0
"""Longest time a flow is filed ahead; bounds stale bucket references."""

FlowKey = tuple[int, int, int, int, int, int]
"""(vpc index, proto, src, dst, sport, dport) in the direction of the packet."""

FastKey = tuple[int, int, bytes]
"""(ingress port, proto, raw IPv4 src+dst+ports): the core's fast-path cache key."""

Via = EndpointState | LoadBalancerState | PlanVpcLinkV2 | EniState | str | None
"""What a translated flow crosses: endpoint, load balancer, VPC link, internet
gateway ENI or virtual private gateway id; None for a flow inside one VPC."""

# TCP events (`tcp_event`) and the transition table.
EV_RST = 0
EV_SYN = 1  # a bare SYN from the original sender
EV_SYN_REPLY = 2  # SYN(-ACK) from the receiver
EV_FIN = 3
EV_LAST_FIN = 4  # a FIN after the other side's
EV_REPLY = 5  # any other packet from the receiver
EV_OTHER = 6  # any other packet from the sender (incl. SYN-ACK retransmits etc.)
REOPEN = -1
"""Not a state: a new SYN on a closed flow opens a new connection (port reuse)."""

TCP_TRANSITIONS: dict[tuple[int, int], int] = {
    (TCP_SYN_SENT, EV_RST): TCP_CLOSED,
    (TCP_ESTABLISHED, EV_RST): TCP_CLOSED,
    (TCP_FIN_WAIT, EV_RST): TCP_CLOSED,
    (TCP_SYN_SENT, EV_SYN_REPLY): TCP_ESTABLISHED,
    (TCP_SYN_SENT, EV_REPLY): TCP_ESTABLISHED,
    (TCP_SYN_SENT, EV_FIN): TCP_FIN_WAIT,
    (TCP_ESTABLISHED, EV_FIN): TCP_FIN_WAIT,
    (TCP_SYN_SENT, EV_LAST_FIN): TCP_CLOSED,
    (TCP_ESTABLISHED, EV_LAST_FIN): TCP_CLOSED,
    (TCP_FIN_WAIT, EV_LAST_FIN): TCP_CLOSED,
    (TCP_CLOSED, EV_SYN): REOPEN,
}

EV_TURNAROUND = 0  # a reply right after a request: one more exchange
UDP_TRANSITIONS: dict[tuple[int, int], int] = {
    (UDP_UNREPLIED, EV_TURNAROUND): UDP_REPLIED,
    (UDP_REPLIED, EV_TURNAROUND): UDP_STREAM,  # "more than one request/response"
}


def tcp_event(flow: Flow, is_reply: bool, flags: int) -> int:
    """What a TCP packet of `flow` means to its state machine (records FINs seen)."""
    if flags & TCP_RST:
        return EV_RST
    if flags & TCP_SYN:
        if is_reply:
            return EV_SYN_REPLY
        return EV_OTHER if flags & TCP_ACK else EV_SYN
    if flags & TCP_FIN:
        if is_reply:
            flow.fin_reply = True
        else:
            flow.fin_orig = True
        return EV_LAST_FIN if flow.fin_orig and flow.fin_reply else EV_FIN
    return EV_REPLY if is_reply else EV_OTHER


def initial_state(proto: int, tcp_flags: int) -> int:
    """State of a flow opened by a packet of `proto` (and TCP flags)."""
    if proto == PROTO_TCP:
        if tcp_flags & TCP_RST:
            return TCP_CLOSED
        if tcp_flags & TCP_SYN and not tcp_flags & TCP_ACK:
            return TCP_SYN_SENT
        return TCP_ESTABLISHED  # picked up mid-stream (the fabric restarted, or no SYN)
    if proto == PROTO_UDP:
        return UDP_UNREPLIED
    if proto == PROTO_ICMP:
        return ICMP_ECHO
    return OTHER


class FlowHalf:
    """One direction of a flow: everything the fast path reads and writes.

    ``pk``/``by``/``first``/``last`` count the current flow-log window;
    ``last`` doubles as the idle clock of the flow.
    """

    __slots__ = (
        "flow",
        "is_reply",
        "out_port",
        "l2",
        "pk",
        "by",
        "first",
        "last",
        "in_eni",
        "out_eni",
        "fast_key",
        "rmac",
        "nat",
        "ipd",
        "l4d",
        "log",
        "flags",
        "kkey",
        "kpk",
        "kby",
    )

    def __init__(self, flow: Flow, is_reply: bool, now: float) -> None:
        self.flow = flow
        self.is_reply = is_reply
        self.out_port = -1
        self.l2 = b""  # rewritten dst+src MAC (12 bytes)
        self.pk = 0
        self.by = 0
        self.first = 0.0
        self.last = now
        # in_eni / out_eni (sender, receiver) are set by `Flow.connect`.
        self.fast_key: FastKey | None = None  # key in the core's fast-path cache, if installed
        self.rmac = b""  # router MAC the sender addresses (checked on the fast path)
        # Address translation (NLB, PrivateLink): the 12 bytes src, dst, sport,
        # dport to write, and the one's-complement deltas for the IP and L4
        # checksums (constant per half, since the old values are too).
        self.nat: bytes | None = None
        self.ipd = 0
        self.l4d = 0
        # Flow-log observers when the tuple differs per ENI along the path (nat.PathLog,
        # shared: ((eni id, sees the translated side), ...), read through `path_view`);
        # None: in_eni and out_eni see the flow's tuple.
        self.log: tuple[tuple[str, bool], ...] | None = None
        # tcp-flags of the flow-log window (flowlog.record_flags ORed): set on the slow
        # path only, since fast-path packets carry no SYN/FIN/RST (and ACK alone is 0).
        self.flags = 0
        # In the kernel's flow map (fastpath.FastPath): its key there, and the
        # kernel's packet and byte counts already added to pk and by.
        self.kkey: tuple[int, int, bytes] | None = None
        self.kpk = 0
        self.kby = 0

    in_eni: EniState
    out_eni: EniState

    def path_view(self) -> list[tuple[str, FiveTuple]]:
        """``(eni id, 5-tuple as that ENI sees this half's packets)`` along a translated
        path, in this half's direction: the sender's side is the flow's own tuple, the
        far side the translated one (from the reply key)."""
        f = self.flow
        proto = f.proto
        rk = f.rkey
        if self.log is None or rk is None:
            return []
        if proto in (PROTO_TCP, PROTO_UDP):
            near = FiveTuple(proto, f.src, f.dst, f.sport, f.dport)
        else:
            near = FiveTuple(proto, f.src, f.dst, -1, -1)
        far = FiveTuple(proto, rk[3], rk[2], rk[5], rk[4])
        if self.is_reply:
            near = FiveTuple(proto, near.dst, near.src, near.dport, near.sport)
            far = FiveTuple(proto, far.dst, far.src, far.dport, far.sport)
        return [(eni_id, far if is_far else near) for eni_id, is_far in self.log]


class Flow:
    """One tracked (or untracked) connection, both directions."""

    __slots__ = (
        "vpc",
        "proto",
        "src",
        "dst",
        "sport",
        "dport",
        "state",
        "orig",
        "reply",
        "untracked_src",
        "untracked_dst",
        "verdicts",
        "created",
        "scheduled",
        "dead",
        "fin_orig",
        "fin_reply",
        "last_dir_reply",
        "rkey",
        "via",
        "max_idle",
        "traced",
        "target",
        "ppv2",
        "resetting",
        "acl",
        "acl_reply",
    )

    def __init__(
        self,
        vpc: int,
        proto: int,
        src: int,
        dst: int,
        sport: int,
        dport: int,
        state: int,
        now: float,
    ) -> None:
        self.vpc = vpc
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.state = state
        self.orig = FlowHalf(self, False, now)
        self.reply = FlowHalf(self, True, now)
        self.reply.last = 0.0  # no reply seen yet
        self.untracked_src = False  # AWS untracked condition held on the sender's ENI
        self.untracked_dst = False  # ... on the receiver's ENI
        self.verdicts: tuple[Verdict, ...] = ()  # the verdicts that let it in (status, trace)
        self.created = now
        self.scheduled = -1  # deadline bucket it is filed in
        self.dead = False
        self.fin_orig = False
        self.fin_reply = False
        self.last_dir_reply = False  # direction of the last packet (UDP turnarounds)
        self.rkey: FlowKey | None = None  # reply key when translated (another VPC, addresses)
        self.via: Via = None
        self.max_idle = 0.0  # cap on every state's timeout (NLB idle timeout); 0: none
        self.traced = False  # opened while tracing: its first reply is traced too
        self.target: TargetState | None = None  # the NLB target it was sent to
        # Proxy protocol v2: the header inserted into the stream and the sequence
        # shift it implies; such a flow stays on the slow path (the fast cache
        # would forward its packets unshifted).
        self.ppv2: StreamInsert | None = None
        # Its target went unhealthy: the next packet from either side is answered
        # with a RST (NLB connection termination) and the flow ends.
        self.resetting = False
        # Network ACL hops (boundary.Crossing) of the request, and of the reply until
        # its first packet has been judged (then None: the verdict is cached).
        self.acl: tuple[Crossing, ...] = ()
        self.acl_reply: tuple[Crossing, ...] | None = None

    def connect(self, sender: EniState, receiver: EniState) -> None:
        """Wire both halves: who sends, who receives, which MACs and port."""
        o, r = self.orig, self.reply
        o.in_eni, o.out_eni, o.out_port, o.l2 = sender, receiver, receiver.port, receiver.l2_to
        r.in_eni, r.out_eni, r.out_port, r.l2 = receiver, sender, sender.port, sender.l2_to
        o.rmac, r.rmac = sender.fabric_mac, receiver.fabric_mac

    @property
    def fast_eligible(self) -> bool:
        return self.state in FAST_PATH_STATES and self.ppv2 is None and not self.resetting

    @property
    def untracked(self) -> bool:
        return self.untracked_src or self.untracked_dst

    @property
    def last(self) -> float:
        o, r = self.orig.last, self.reply.last
        return o if o > r else r

    def key(self) -> FlowKey:
        return (self.vpc, self.proto, self.src, self.dst, self.sport, self.dport)

    def reply_key(self) -> FlowKey:
        if self.rkey is not None:
            return self.rkey
        return (self.vpc, self.proto, self.dst, self.src, self.dport, self.sport)


class ConnTrack:
    """Bounded flow table + deadline buckets. Pure: time comes in as arguments."""

    def __init__(self, max_flows: int, timeouts: ConntrackTimeouts | None = None) -> None:
        self.max_flows = max(1, max_flows)
        self.timeouts = timeouts or ConntrackTimeouts()
        self._timeout = self.timeouts.by_state()
        self.table: dict[FlowKey, FlowHalf] = {}
        self.count = 0
        self._buckets: dict[int, list[Flow]] = {}
        self._heap: list[int] = []
        # Called for a flow about to expire, to bring its `last` up to date first
        # (packets the kernel's fast path carried: fastpath.FastPath.refresh).
        self.refresh: Callable[[Flow, float], None] | None = None

    def add(self, flow: Flow, now: float) -> bool:
        """Insert a new flow; False (and nothing stored) if the table is full."""
        if self.count >= self.max_flows:
            return False
        self.table[flow.key()] = flow.orig
        self.table[flow.reply_key()] = flow.reply
        self.count += 1
        self._file(flow, _due(now, self._timeout_of(flow, flow.state)))
        return True

    def _timeout_of(self, flow: Flow, state: int) -> float:
        t = self._timeout[state]
        return flow.max_idle if flow.max_idle and flow.max_idle < t else t

    def set_state(self, flow: Flow, state: int, now: float) -> None:
        """Change state; files the flow earlier if its new deadline is sooner."""
        flow.state = state
        bucket = _due(now, self._timeout_of(flow, state))
        if bucket < flow.scheduled:
            self._file(flow, bucket)

    def remove(self, flow: Flow) -> None:
        if flow.dead:
            return
        flow.dead = True
        self.table.pop(flow.key(), None)
        self.table.pop(flow.reply_key(), None)
        self.count -= 1

    def advance_tcp(self, flow: Flow, is_reply: bool, flags: int, now: float) -> bool:
        """Apply a TCP packet to the flow's state; True if it is a SYN that reopens a
        closed flow (port reuse): the caller judges it as a new flow."""
        new = TCP_TRANSITIONS.get((flow.state, tcp_event(flow, is_reply, flags)))
        if new is None:
            return False
        if new == REOPEN:
            return True
        self.set_state(flow, new, now)
        return False

    def advance_udp(self, flow: Flow, is_reply: bool, now: float) -> bool:
        """Apply a UDP packet; True if it goes the same direction as the one before."""
        same = is_reply == flow.last_dir_reply
        if is_reply and not flow.last_dir_reply:
            new = UDP_TRANSITIONS.get((flow.state, EV_TURNAROUND))
            if new is not None:
                self.set_state(flow, new, now)
        flow.last_dir_reply = is_reply
        return same

    def expire(self, now: float) -> list[Flow]:
        """Forget flows idle past their state's timeout; returns them (already removed)."""
        gone: list[Flow] = []
        heap = self._heap
        while heap and heap[0] <= now:
            b = heapq.heappop(heap)
            for flow in self._buckets.pop(b, ()):
                if flow.dead or flow.scheduled != b:
                    continue  # expired already, or re-filed earlier/later
                d = flow.last + self._timeout_of(flow, flow.state)
                if d <= now and self.refresh is not None:
                    self.refresh(flow, now)
                    d = flow.last + self._timeout_of(flow, flow.state)
                if d <= now:
                    self.remove(flow)
                    gone.append(flow)
                else:
                    self._file(flow, _due(now, d - now))
        return gone

    def flows(self) -> list[Flow]:
        return [h.flow for h in self.table.values() if not h.is_reply]

    def _file(self, flow: Flow, bucket: int) -> None:
        flow.scheduled = bucket
        lst = self._buckets.get(bucket)
        if lst is None:
            self._buckets[bucket] = [flow]
            heapq.heappush(self._heap, bucket)
        else:
            lst.append(flow)


_VERDICT_SETS: dict[tuple[Verdict, ...], tuple[Verdict, ...]] = {}
VERDICT_SETS_MAX = 4096


def shared_verdicts(verdicts: tuple[Verdict, ...]) -> tuple[Verdict, ...]:
    """One tuple for every flow admitted by the same verdicts (few per path: policies
    share their `Verdict`s), instead of one per flow."""
    v = _VERDICT_SETS.get(verdicts)
    if v is None:
        if len(_VERDICT_SETS) >= VERDICT_SETS_MAX:
            _VERDICT_SETS.clear()
        v = _VERDICT_SETS[verdicts] = verdicts
    return v


def _due(now: float, timeout: float) -> int:
    return int(now + (timeout if timeout < HORIZON else HORIZON)) + 1


def describe_flow(f: Flow) -> dict[str, object]:
    """One flow as ``status`` and the ``conntrack`` control op show it."""
    return {
        "vpc": f.orig.in_eni.vpc.id,
        "flow": str(FiveTuple(f.proto, f.src, f.dst, f.sport, f.dport)),
        "state": STATE_NAMES[f.state],
        "tracked": not f.untracked,
        "src_eni": f.orig.in_eni.id,
        "dst_eni": f.orig.out_eni.id,
        "verdicts": [str(v) for v in f.verdicts],
        "last": f.last,
    }
