"""The `network_acls` section of a VPC: numbered, stateless subnet rules.

    network_acls:
      web:
        subnets: [a]
        inbound:
          - {rule: 100, action: allow, protocol: tcp, port: 80, cidr: 0.0.0.0/0}
        outbound:
          - {rule: 100, action: allow, protocol: tcp, port: 1024-65535, cidr: 0.0.0.0/0}

Keys follow the security-group rules (`protocol`, `port`) and EC2's
NetworkAclEntry (`rule` = RuleNumber, `action` = RuleAction allow|deny,
`cidr` = CidrBlock); `inbound`/`outbound` are the console's names for
Egress=false/true.

AWS facts behind the checks (EC2 API CreateNetworkAclEntry,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html;
VPC User Guide "Network ACL rules",
https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html):
- rule numbers are 1-32766, unique per direction (32767 is the final `*` deny);
- protocol: a name (tcp, udp, icmp, all) or an IANA number 0-255 (-1 all);
  tcp and udp need a port range; other protocols match every port, so a port
  written there is refused rather than silently ignored;
- the CIDR is a network (host bits zero);
- a subnet is associated with exactly one ACL; subnets no ACL names stay with
  the VPC's default ACL (allow all both ways). The entry named `default` is
  that default ACL: it takes no `subnets`, and its rules replace the allow-all.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import names, net, refs
from hyperplane_emu.spec.model import NaclRule, NetworkAcl, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.secgroups import _ports
from hyperplane_emu.spec.sections import vpc_section

ACL_KEYS = ("subnets", "inbound", "outbound")
RULE_KEYS = ("rule", "action", "protocol", "port", "cidr")
RULE_NUMBERS = (1, 32766)
ACTIONS = ("allow", "deny")
PROTOCOL_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "all": -1}
PORTED = (6, 17)
DEFAULT_ACL = "default"
DIRECTIONS = ("inbound", "outbound")


@vpc_section("network_acls")
def parse_network_acls(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return vpc
    result: dict[str, NetworkAcl] = {}
    owner: dict[str, str] = {}  # subnet -> the ACL that claimed it first
    for key, acl_path, acl_node in view.items():
        good_name = names.name(ctx, key, view.key_node(key), acl_path, "network ACL")
        acl = _acl(ctx, key, acl_node, acl_path, vpc, owner)
        if good_name and acl is not None:
            result[key] = acl
    return dataclasses.replace(vpc, network_acls=result)


def _acl(
    ctx: Ctx, name: str, node: Node, path: str, vpc: Vpc, owner: dict[str, str]
) -> NetworkAcl | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(ACL_KEYS)
    subnets: tuple[str, ...] = ()
    subnets_node = view.get("subnets")
    if subnets_node is not None and name == DEFAULT_ACL:
        ctx.error(
            view.path_of("subnets"),
            subnets_node,
            "the default network ACL keeps every subnet that no other ACL names; "
            "associate subnets with another ACL instead",
        )
    elif subnets_node is not None:
        subnets = _subnets(ctx, name, subnets_node, view.path_of("subnets"), vpc, owner)
    inbound = _rules(ctx, view, "inbound")
    outbound = _rules(ctx, view, "outbound")
    if len(ctx.issues) > issues_before:
        return None
    return NetworkAcl(name, subnets, inbound, outbound)


def _subnets(
    ctx: Ctx, name: str, node: Node, path: str, vpc: Vpc, owner: dict[str, str]
) -> tuple[str, ...]:
    """Subnet names of this VPC, each claimed by one ACL only (an ACL may have none)."""
    items = ctx.sequence(node, path)
    result: list[str] = []
    for item_path, item in items or ():
        subnet = ctx.text(item, item_path, "a subnet name")
        if subnet is None:
            continue
        if refs.substrate_known(vpc) and subnet not in vpc.subnets:
            ctx.error(
                item_path,
                item,
                f"no subnet {subnet!r} in VPC {vpc.name!r}{did_you_mean(subnet, vpc.subnets)}",
            )
        elif subnet in owner:
            where = "this ACL" if owner[subnet] == name else f"network ACL {owner[subnet]!r}"
            ctx.error(
                item_path,
                item,
                f"subnet {subnet!r} is already associated with {where}; AWS associates a "
                "subnet with one network ACL at a time",
            )
        else:
            owner[subnet] = name
            result.append(subnet)
    return tuple(result)


def _rules(ctx: Ctx, acl: MapView, direction: str) -> tuple[NaclRule, ...]:
    node = acl.get(direction)
    if node is None:
        return ()
    items = ctx.sequence(node, acl.path_of(direction))
    if items is None:
        return ()
    rules: list[NaclRule] = []
    seen: dict[int, str] = {}
    for item_path, item in items:
        rule = _rule(ctx, item, item_path)
        if rule is None:
            continue
        if rule.rule in seen:
            ctx.error(
                f"{item_path}.rule",
                item,
                f"rule number {rule.rule} is already used by {direction} rule {seen[rule.rule]} "
                "(AWS: rule numbers are unique per direction)",
            )
            continue
        seen[rule.rule] = item_path.rsplit(".", 1)[-1]
        rules.append(rule)
    return tuple(sorted(rules, key=lambda r: r.rule))


def _rule(ctx: Ctx, node: Node, path: str) -> NaclRule | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(RULE_KEYS, required=("rule", "action", "protocol", "cidr"))

    number = None
    number_node = view.get("rule")
    if number_node is not None:
        number = ctx.integer(number_node, view.path_of("rule"), *RULE_NUMBERS)

    action = refs.key_choice(ctx, view, "action", None, "rule action", ACTIONS)

    protocol = None
    proto_node = view.get("protocol")
    if proto_node is not None:
        protocol = _protocol(ctx, proto_node, view.path_of("protocol"))

    ports: tuple[int, int] | None = (0, 65535)
    port_node = view.get("port")
    if protocol in PORTED and port_node is None:
        ctx.error(
            view.path_of("port"),
            node,
            "required key 'port' is missing (tcp and udp rules need a port range)",
        )
    elif protocol is not None and protocol not in PORTED and port_node is not None:
        ctx.error(
            view.path_of("port"),
            port_node,
            "only tcp and udp rules take a port: AWS matches every port for other protocols",
        )
    elif port_node is not None:
        ports = _ports(ctx, port_node, view.path_of("port"))

    cidr = None
    cidr_node = view.get("cidr")
    if cidr_node is not None:
        cidr = net.cidr(ctx, cidr_node, view.path_of("cidr"))

    if (
        len(ctx.issues) > issues_before
        or number is None
        or action is None
        or protocol is None
        or ports is None
        or cidr is None
    ):
        return None
    return NaclRule(
        number, cast(Literal["allow", "deny"], action), protocol, ports[0], ports[1], str(cidr)
    )


def _protocol(ctx: Ctx, node: Node, path: str) -> int | None:
    """A name, or an IANA protocol number 0-255 (-1: all), as CreateNetworkAclEntry takes."""
    if node.tag == "tag:yaml.org,2002:int":
        number = ctx.integer(node, path, -1, 255)
        return number
    text = ctx.text(node, path, "tcp, udp, icmp, all or a protocol number 0-255")
    if text is None:
        return None
    if text in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[text]
    if text.lstrip("-").isdigit():
        number = int(text)
        if -1 <= number <= 255:
            return number
    ctx.error(
        path,
        node,
        f"protocol {text!r} is not tcp, udp, icmp, all or a protocol number 0-255"
        f"{did_you_mean(text.lower(), PROTOCOL_NAMES)}",
    )
    return None
