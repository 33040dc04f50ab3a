"""Section registry: which parser reads which optional section of the file.

The core loader reads the substrate (VPCs, subnets, groups, hosts) itself and
then hands every other section to the parser registered for its name. A later
issue adds a feature (NLBs, endpoints, APIs…) by adding a model field with an
empty default and registering a parser here, without touching the loader:

    @vpc_section("load_balancers")
    def parse_load_balancers(ctx, node, path, vpc, topology):
        ...
        return dataclasses.replace(vpc, load_balancers=parsed)

A parser receives the section's YAML node and path and the model built so far
(for cross-references) and returns the model with its part added. It reports
problems through `ctx` and never raises. Sections not emulated yet are
registered as *reserved*: accepted in any shape, with a warning.
"""

from __future__ import annotations

from collections.abc import Callable

from yaml.nodes import Node

from hyperplane_emu.spec.model import Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx

TopologySection = Callable[[Ctx, Node, str, Topology], Topology]
VpcSection = Callable[[Ctx, Node, str, Vpc, Topology], Vpc]

TOPOLOGY_SECTIONS: dict[str, TopologySection] = {}
"""Top-level key -> parser, run after all VPCs (and their sections) are read, in
registration order (Cloud Map, then APIs, which refer to it)."""
VPC_SECTIONS: dict[str, VpcSection] = {}
"""Per-VPC key -> parser, run once every VPC's substrate is read: section by
section in registration order, each across all VPCs, so that a parser sees (in
`topology`) what earlier-registered sections built in every VPC. Load
balancers, then endpoint services, then endpoints (`privatelink` imports
`loadbalancers` to keep that order)."""


def topology_section(name: str) -> Callable[[TopologySection], TopologySection]:
    def register(parser: TopologySection) -> TopologySection:
        TOPOLOGY_SECTIONS[name] = parser
        return parser

    return register


def vpc_section(name: str) -> Callable[[VpcSection], VpcSection]:
    def register(parser: VpcSection) -> VpcSection:
        VPC_SECTIONS[name] = parser
        return parser

    return register


def _not_emulated(ctx: Ctx, name: str, node: Node, path: str) -> None:
    ctx.warn(path, node, f"section {name!r} is not emulated yet, ignored")


def reserved_topology_parser(name: str) -> TopologySection:
    """A parser that accepts section `name` in any shape, with a warning."""

    def parser(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
        _not_emulated(ctx, name, node, path)
        return topology

    return parser


def reserved_vpc_parser(name: str) -> VpcSection:
    """A per-VPC parser that accepts section `name` in any shape, with a warning."""

    def parser(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
        _not_emulated(ctx, name, node, path)
        return vpc

    return parser
