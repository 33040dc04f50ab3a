"""What a path handler may use of the fabric, and the shapes of path handlers.

How it works: the core (`core.Fabric`) walks a packet up to the decision "this
is a new flow, and its route (or its destination ENI) is of kind K"; from there
a *path handler* registered for K decides: it judges security groups
(`judge.judge`), picks targets, allocates NAT ports, and opens the flow
(`Datapath.open_flow`) or drops (`Datapath.drop`). Handlers see the fabric only
through the `Datapath` protocol below, so they import nothing from the core and
a new path (a peering connection, a NAT gateway, a Gateway Load Balancer) is one
module in `paths/` plus one line in `paths.ROUTE_PATHS` or `paths.FRONT_PATHS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .conntrack import ConnTrack
from .events import FiveTuple
from .flowlog import FlowLogger
from .nacl import Crossing
from .nat import Translation
from .packet import Packet
from .reasons import DropReason
from .routing import Route
from .secgroup import Verdict
from .tables import EniState
from .topology import Topology

Frames = list[tuple[int, bytes]]
"""What `Fabric.handle` returns: (port, frame) to send."""


class Datapath(Protocol):
    """The fabric as path handlers and `judge` see it (implemented by `core.Fabric`)."""

    topology: Topology
    conntrack: ConnTrack
    flowlog: FlowLogger

    def count(self, name: str) -> None:
        """Bump counter `name` (visible in `Fabric.counters`)."""

    def drop(
        self,
        reason: DropReason,
        eni: EniState | None,
        p: Packet | None,
        now: float,
        detail: str = "",
    ) -> Frames:
        """Count and report a drop (`dropped.<reason>`, a DropEvent, a trace hop); []."""
        ...

    def hop(
        self, now: float, ft: FiveTuple, step: str, where: str, action: str, detail: str
    ) -> None:
        """Record one trace hop (callers check their `tracing` flag first)."""

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
        """A new flow from `eni` to ENI `dst` of its VPC: a front's path, or straight."""
        ...

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
        """Track the flow (translated by `nat`, if given) and forward its first packet."""
        ...


RoutePath = Callable[[Datapath, EniState, Route, Packet, bytes, float, bool], Frames]
"""A new flow whose route targets this kind: ``(dp, sender, route, p, frame, now, tracing)``."""

FrontPath = Callable[[Datapath, EniState, EniState, Packet, bytes, float, bool], Frames]
"""A new flow to an ENI of this kind that is a front, not a host (NLB node, endpoint…):
``(dp, sender, front, p, frame, now, tracing)``."""
