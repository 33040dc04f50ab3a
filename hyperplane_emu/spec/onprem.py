"""`on_premises`: a data centre joined to VPCs through a virtual private gateway.

```yaml
on_premises:
  cidr: 172.16.0.0/16
  connected_to: [customer]
  hosts: [laptop]
```
"""

from __future__ import annotations

import dataclasses
import ipaddress

from yaml.nodes import Node

from hyperplane_emu.spec import names, net
from hyperplane_emu.spec.model import OnPremises, Topology
from hyperplane_emu.spec.nodes import Ctx, did_you_mean
from hyperplane_emu.spec.sections import topology_section

KEYS = ("cidr", "connected_to", "hosts")
RESERVED_NAMES = ("onprem", "internet", "apigateway")


@topology_section("on_premises")
def parse_on_premises(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
    view = ctx.mapping(node, path)
    if view is None:
        return topology
    view.check_keys(KEYS, required=("cidr", "connected_to", "hosts"))
    ok = True
    cidr = None
    cidr_node = view.get("cidr")
    if cidr_node is not None:
        cidr = net.cidr(ctx, cidr_node, view.path_of("cidr"), (8, 28), "on-premises CIDR")
        ok = ok and cidr is not None
    connected: list[str] = []
    conn_node = view.get("connected_to")
    if conn_node is not None:
        items = ctx.sequence(conn_node, view.path_of("connected_to")) or []
        if not items:
            ctx.error(view.path_of("connected_to"), conn_node, "name at least one VPC")
            ok = False
        for item_path, item in items:
            name = ctx.text(item, item_path, "a VPC name")
            if name is None:
                ok = False
            elif name not in topology.vpcs:
                ctx.error(item_path, item, f"no VPC {name!r}{did_you_mean(name, topology.vpcs)}")
                ok = False
            elif cidr is not None and cidr.overlaps(
                ipaddress.IPv4Network(topology.vpcs[name].cidr)
            ):
                ctx.error(
                    item_path, item,
                    f"{cidr} overlaps {name}'s {topology.vpcs[name].cidr}: a virtual private "
                    "gateway routes between them, so they must not overlap",
                )  # fmt: skip
                ok = False
            else:
                connected.append(name)
    hosts: list[str] = []
    hosts_node = view.get("hosts")
    taken = {h for v in topology.vpcs.values() for h in v.hosts}
    if hosts_node is not None:
        items = ctx.sequence(hosts_node, view.path_of("hosts")) or []
        if not items:
            ctx.error(view.path_of("hosts"), hosts_node, "name at least one host")
            ok = False
        for item_path, item in items:
            name = ctx.text(item, item_path, "a host name")
            if name is None or not names.host_name(ctx, name, item, item_path):
                ok = False
            elif name in taken or name in hosts or name in RESERVED_NAMES:
                ctx.error(item_path, item, f"host name {name!r} is already used")
                ok = False
            else:
                hosts.append(name)
    if not ok or cidr is None:
        return topology
    return dataclasses.replace(
        topology, on_premises=OnPremises(str(cidr), tuple(connected), tuple(hosts))
    )
