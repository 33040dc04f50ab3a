"""VPC route tables: longest-prefix match to a route target kind.

Every VPC has its own table (`PlanVpc.routes`), so overlapping CIDRs in
different VPCs never collide. A route's target is classified into a *kind*
by its AWS id prefix; `paths.ROUTE_PATHS` maps a kind to the handler that
takes a new flow on from there (a kind without one is dropped as
``route-target-not-emulated``), so a new target is a registration, not an
edit of the lookup.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from hyperplane_emu.plan.model import PlanRoute

TARGET_KINDS: tuple[tuple[str, str], ...] = (
    ("eni-", "eni"),
    ("vpce-", "vpce"),
    ("igw-", "igw"),
    ("vgw-", "vgw"),
    ("nat-", "nat"),
    ("pcx-", "pcx"),
    ("tgw-", "tgw"),
)


def target_kind(target: str) -> str:
    """``"local"``, ``"eni"``, ``"vpce"``, … or ``"unknown"``."""
    if target == "local":
        return "local"
    for prefix, kind in TARGET_KINDS:
        if target.startswith(prefix):
            return kind
    return "unknown"


class Route(NamedTuple):
    net: int
    mask: int
    prefixlen: int
    destination: str
    target: str
    kind: str

    def __str__(self) -> str:
        return f"{self.destination} -> {self.target}"


class RouteTable:
    """Routes sorted longest prefix first; a scan is fine for VPC-sized tables
    (AWS allows 50-1000 routes) and runs only when a flow is created."""

    __slots__ = ("routes",)

    def __init__(self, routes: Iterable[PlanRoute]) -> None:
        out: list[Route] = []
        for r in routes:
            try:
                n = ipaddress.ip_network(r.destination, strict=False)
            except ValueError:
                continue
            if n.version != 4:
                continue
            out.append(
                Route(
                    int(n.network_address),
                    int(n.netmask),
                    n.prefixlen,
                    r.destination,
                    r.target,
                    target_kind(r.target),
                )
            )
        out.sort(key=lambda r: -r.prefixlen)
        self.routes = tuple(out)

    def lookup(self, dst: int) -> Route | None:
        for r in self.routes:
            if dst & r.mask == r.net:
                return r
        return None
