"""What one API's routes are checked against, shared by the route and integration parsers.

`apis` builds an `ApiScope` per API; `apiroutes` and `apiintegrations` read its
links and record the stage variables and links they use, which `apistages` and
`apis`' warnings check once every route is read. A module of its own so that
the route and integration parsers can share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hyperplane_emu.spec.model import Topology, VpcLink


@dataclass(frozen=True)
class VariableUse:
    """A `${stageVariables.<name>}` in a route, checked against every stage later."""

    name: str
    as_link: bool  # in connection_id: its value must name a VPC link
    route: str


@dataclass
class ApiScope:
    """What one API's routes are checked against, and what they record for later checks."""

    api: str
    type: Literal["rest", "http"] | None  # None: the type is wrong (reported)
    links: dict[str, VpcLink]
    declared_links: frozenset[str] | None  # every link name written; None: unreadable
    topology: Topology
    variable_uses: list[VariableUse] = field(default_factory=list)
    used_links: set[str] = field(default_factory=set)

    def link_status(self, name: str) -> Literal["found", "broken", "missing"]:
        if name in self.links:
            return "found"
        if self.declared_links is None or name in self.declared_links:
            return "broken"
        return "missing"


@dataclass(frozen=True)
class RouteKey:
    """A route key taken apart: its path parameters are what an integration uri may use."""

    method: str
    path: str
    segments: tuple[str, ...]
    params: frozenset[str]
