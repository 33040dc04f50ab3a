"""One VPC's substrate: CIDR, owning account, subnets, security groups, hosts."""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import IPv4Network

from yaml.nodes import Node

from hyperplane_emu.spec import hosts, names, net, secgroups
from hyperplane_emu.spec.model import Host, Subnet, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.sections import VPC_SECTIONS

CORE_KEYS = ("cidr", "account", "subnets", "security_groups", "hosts")
DEFAULT_ACCOUNT = "customer"


def parse_vpc(
    ctx: Ctx,
    name: str,
    node: Node,
    path: str,
    region: str | None,
    accounts: Collection[str],
    host_owner: dict[str, str],
) -> tuple[Vpc | None, MapView | None]:
    """The VPC (None when anything in it is wrong) and its view, for section parsers."""
    view = ctx.mapping(node, path)
    if view is None:
        return None, None
    view.check_keys((*CORE_KEYS, *VPC_SECTIONS), required=("cidr",))
    issues_before = len(ctx.issues)

    cidr_node = view.get("cidr")
    vpc_net = None
    if cidr_node is not None:
        vpc_net = net.cidr(ctx, cidr_node, view.path_of("cidr"), net.VPC_PREFIXES, "VPC CIDR")

    account = DEFAULT_ACCOUNT
    account_node = view.get("account")
    if account_node is not None:
        written = ctx.text(account_node, view.path_of("account"), "an account key")
        if written is not None and written not in accounts:
            ctx.error(
                view.path_of("account"),
                account_node,
                f"no account {written!r} in accounts{did_you_mean(written, accounts)}",
            )
        account = written or account

    subnet_nets: dict[str, IPv4Network | None] | None = {}
    subnets: dict[str, Subnet] = {}
    subnets_node = view.get("subnets")
    if subnets_node is not None:
        subnets_view = ctx.mapping(subnets_node, view.path_of("subnets"), null_ok=True)
        if subnets_view is not None:
            subnet_nets = {}
            subnets = _subnets(ctx, subnets_view, vpc_net, region, subnet_nets)
        else:
            subnet_nets = None  # broken section: do not check references to it

    groups = {secgroups.DEFAULT_GROUP: secgroups.default_group()}
    known_groups: set[str] | None = {secgroups.DEFAULT_GROUP}
    groups_view = _optional_map(ctx, view, "security_groups")
    if groups_view is not None:
        known_groups = secgroups.group_names(ctx, groups_view)
        groups = secgroups.parse_groups(ctx, groups_view, known_groups)
    elif "security_groups" in view:
        known_groups = None  # broken section: do not check references to it

    host_map: dict[str, Host] = {}
    hosts_view = _optional_map(ctx, view, "hosts")
    if hosts_view is not None:
        scope = hosts.HostScope(name, subnet_nets, known_groups, host_owner)
        host_map = hosts.parse_hosts(ctx, hosts_view, scope)

    if len(ctx.issues) > issues_before or vpc_net is None:
        return None, view
    return Vpc(name, str(vpc_net), account, subnets, groups, host_map), view


def _optional_map(ctx: Ctx, view: MapView, key: str) -> MapView | None:
    node = view.get(key)
    return None if node is None else ctx.mapping(node, view.path_of(key), null_ok=True)


def _subnets(
    ctx: Ctx,
    view: MapView,
    vpc_net: IPv4Network | None,
    region: str | None,
    subnet_nets: dict[str, IPv4Network | None],
) -> dict[str, Subnet]:
    result: dict[str, Subnet] = {}
    for key, path, node in view.items():
        # Counted as existing even when broken, so hosts naming it are not also reported.
        subnet_nets[key] = None
        good_name = names.name(ctx, key, view.key_node(key), path, "subnet")
        sub = ctx.mapping(node, path)
        if sub is None:
            continue
        sub.check_keys(("cidr", "az"), required=("cidr", "az"))
        network = None
        cidr_node = sub.get("cidr")
        if cidr_node is not None:
            network = _subnet_cidr(ctx, cidr_node, sub.path_of("cidr"), vpc_net, subnet_nets)
        subnet_nets[key] = network
        az = None
        az_node = sub.get("az")
        if az_node is not None:
            az = names.availability_zone(ctx, az_node, sub.path_of("az"), region)
        if good_name and network is not None and az is not None:
            result[key] = Subnet(key, str(network), az)
    return result


def _subnet_cidr(
    ctx: Ctx,
    node: Node,
    path: str,
    vpc_net: IPv4Network | None,
    others: dict[str, IPv4Network | None],
) -> IPv4Network | None:
    network = net.cidr(ctx, node, path, net.VPC_PREFIXES, "subnet CIDR")
    if network is None:
        return None
    if vpc_net is not None and not network.subnet_of(vpc_net):
        ctx.error(path, node, f"{network} is not inside {vpc_net}")
        return None
    for other_name, other in others.items():
        if other is not None and network.overlaps(other):
            ctx.error(path, node, f"{network} overlaps subnet {other_name} ({other})")
            return None
    return network
