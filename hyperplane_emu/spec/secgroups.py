"""Security groups of one VPC: rule shapes, peers, AWS quotas and defaults.

AWS semantics reproduced here (docs/topology.md, aws-behaviour.md):
- the VPC's `default` group exists even when the file does not write it:
  ingress from members of itself (all protocols), all egress;
- a group written without `egress` gets AWS's default for a new group, all
  traffic to 0.0.0.0/0; with `egress`, only the rules written; an empty
  `ingress:` or `egress:` (YAML null) is no rules, like `[]`;
- one peer per rule (AWS stores rules that way), a CIDR or `sg/<name>` of the
  same VPC; at most 60 ingress and 60 egress rules per group (the quota);
- AWS refuses a rule identical to an existing one, so a repeated rule is an error.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import cast

from yaml.nodes import Node, ScalarNode

from hyperplane_emu.spec import names, net
from hyperplane_emu.spec.model import Direction, Protocol, SecurityGroup, SgRule
from hyperplane_emu.spec.nodes import NULL, Ctx, MapView, did_you_mean

PROTOCOLS: tuple[Protocol, ...] = ("tcp", "udp", "icmp", "all")
PORTED = ("tcp", "udp")
MAX_RULES = 60
MAX_DESCRIPTION = 255
DEFAULT_GROUP = "default"
GROUP_PREFIX = "sg/"
PEER_KEY: dict[Direction, str] = {"ingress": "source", "egress": "destination"}
GROUP_KEYS = ("description", "ingress", "egress")
_PORT_RANGE = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9}))?")

ALL_EGRESS = SgRule("egress", "all", 0, 65535, "0.0.0.0/0")
"""AWS's egress rule of a new group: all traffic to anywhere."""


def default_group() -> SecurityGroup:
    """The group AWS creates with every VPC."""
    return SecurityGroup(
        name=DEFAULT_GROUP,
        description="default VPC security group",
        ingress=(SgRule("ingress", "all", 0, 65535, GROUP_PREFIX + DEFAULT_GROUP),),
        egress=(ALL_EGRESS,),
    )


def group_names(ctx: Ctx, groups: MapView) -> set[str]:
    """Names usable as `sg/<name>`: every group written (valid or not, so that a
    bad name is reported once, not again at each reference) plus `default`."""
    for key, path, _ in groups.items():
        names.name(ctx, key, groups.key_node(key), path, "security group")
    return {key for key, _, _ in groups.items()} | {DEFAULT_GROUP}


def parse_groups(ctx: Ctx, groups: MapView, known: Collection[str]) -> dict[str, SecurityGroup]:
    result: dict[str, SecurityGroup] = {}
    for key, path, node in groups.items():
        group = _group(ctx, key, node, path, known)
        if group is not None and names.NAME.fullmatch(key):
            result[key] = group
    result.setdefault(DEFAULT_GROUP, default_group())
    return result


def _group(
    ctx: Ctx, name: str, node: Node, path: str, known: Collection[str]
) -> SecurityGroup | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    view.check_keys(GROUP_KEYS)
    description = ""
    desc_node = view.get("description")
    if desc_node is not None:
        description = _description(ctx, desc_node, view.path_of("description")) or ""
    ingress = _rules(ctx, view, "ingress", known)
    egress = _rules(ctx, view, "egress", known) if "egress" in view else (ALL_EGRESS,)
    return SecurityGroup(name, description, ingress, egress)


def _description(ctx: Ctx, node: Node, path: str) -> str | None:
    text = ctx.text(node, path)
    if text is not None and len(text) > MAX_DESCRIPTION:
        ctx.error(path, node, f"a description is at most {MAX_DESCRIPTION} characters")
        return None
    return text


def _rules(
    ctx: Ctx, group: MapView, direction: Direction, known: Collection[str]
) -> tuple[SgRule, ...]:
    node = group.get(direction)
    if node is None or (isinstance(node, ScalarNode) and node.tag == NULL):
        # `ingress:` with nothing after it reads as "no rules", like `ingress: []`.
        return ()
    path = group.path_of(direction)
    items = ctx.sequence(node, path)
    if items is None:
        return ()
    if len(items) > MAX_RULES:
        ctx.error(
            path, node, f"{len(items)} {direction} rules; AWS allows at most {MAX_RULES} per group"
        )
    rules: list[SgRule] = []
    seen: dict[SgRule, str] = {}
    for item_path, item in items:
        rule = _rule(ctx, item, item_path, direction, known)
        if rule is None:
            continue
        if rule in seen:
            ctx.error(item_path, item, f"duplicate of rule {seen[rule]} (AWS refuses duplicates)")
            continue
        seen[rule] = item_path.rsplit(".", 1)[-1]
        rules.append(rule)
    return tuple(rules)


def _rule(
    ctx: Ctx, node: Node, path: str, direction: Direction, known: Collection[str]
) -> SgRule | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    peer_key = PEER_KEY[direction]
    other_key = PEER_KEY["egress" if direction == "ingress" else "ingress"]
    view.check_keys(("protocol", "port", peer_key, other_key, "description"))
    ok = True

    protocol: Protocol | None = "tcp"
    proto_node = view.get("protocol")
    if proto_node is not None:
        protocol = _protocol(ctx, proto_node, view.path_of("protocol"))
        ok = ok and protocol is not None

    ports: tuple[int, int] | None = (0, 65535)
    port_node = view.get("port")
    if protocol in PORTED and port_node is None:
        ctx.error(
            view.path_of("port"),
            node,
            f"required key 'port' is missing ({protocol} rules need a port)",
        )
        ok = False
    elif protocol in ("icmp", "all") and port_node is not None:
        ctx.error(view.path_of("port"), port_node, f"{protocol} rules take no port")
        ok = False
    elif port_node is not None:
        ports = _ports(ctx, port_node, view.path_of("port"))
        ok = ok and ports is not None

    if other_key in view:
        ctx.error(
            view.path_of(other_key),
            view.key_node(other_key),
            f"{direction} rules take {peer_key!r}, not {other_key!r}",
        )
        ok = False
    peer: str | None = None
    peer_node = view.get(peer_key)
    if peer_node is None:
        if other_key not in view:
            ctx.error(view.path_of(peer_key), node, f"required key {peer_key!r} is missing")
        ok = False
    else:
        peer = _peer(ctx, peer_node, view.path_of(peer_key), known)
        ok = ok and peer is not None

    description = ""
    desc_node = view.get("description")
    if desc_node is not None:
        text = _description(ctx, desc_node, view.path_of("description"))
        ok = ok and text is not None
        description = text or ""

    if not ok or protocol is None or ports is None or peer is None:
        return None
    return SgRule(direction, protocol, ports[0], ports[1], peer, description)


def _protocol(ctx: Ctx, node: Node, path: str) -> Protocol | None:
    text = ctx.text(node, path, "one of tcp, udp, icmp, all")
    if text is None:
        return None
    if text not in PROTOCOLS:
        ctx.error(
            path,
            node,
            f"protocol {text!r} is not one of tcp, udp, icmp, all"
            f"{did_you_mean(text.lower(), PROTOCOLS)}",
        )
        return None
    return cast(Protocol, text)


def _ports(ctx: Ctx, node: Node, path: str) -> tuple[int, int] | None:
    """A port (`8080`) or an inclusive range written `from-to` (`5000-5010`)."""
    if node.tag == "tag:yaml.org,2002:int":
        port = ctx.integer(node, path, 0, 65535)
        return None if port is None else (port, port)
    text = ctx.text(node, path, "a port 0..65535 or a range like 5000-5010")
    if text is None:
        return None
    match = _PORT_RANGE.fullmatch(text)
    if match is None:
        ctx.error(path, node, f"{text!r} is not a port or a range like 5000-5010")
        return None
    low = int(match[1])
    high = int(match[2]) if match[2] is not None else low
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        ctx.error(path, node, f"{text} is out of range: ports are 0..65535")
        return None
    if low > high:
        ctx.error(path, node, f"range {text} runs backwards; did you mean {high}-{low}?")
        return None
    return (low, high)


def _peer(ctx: Ctx, node: Node, path: str, known: Collection[str]) -> str | None:
    text = ctx.text(node, path, "a CIDR or sg/<group>")
    if text is None:
        return None
    if text.startswith(GROUP_PREFIX):
        group = text[len(GROUP_PREFIX) :]
        if group not in known:
            ctx.error(
                path, node, f"no security group {group!r} in this VPC{did_you_mean(group, known)}"
            )
            return None
        return text
    network = net.cidr(ctx, node, path)
    return None if network is None else str(network)
