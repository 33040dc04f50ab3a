"""Cross-references between sections, and the small readers NLBs and endpoints share.

Sections run after every VPC's substrate, one section at a time across all VPCs
in registration order (`sections`), so endpoint services see every NLB and
endpoints every endpoint service, wherever they are written.

A reference has three outcomes: *found* in the model (check it further),
*broken* (declared but invalid, or in a section that was unreadable: already
reported, stay silent), or *missing* (report it, with a suggestion). Without the
middle case one typo would be reported once at its place and again at every
reference to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from yaml.nodes import Node

from hyperplane_emu.spec.model import Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.secgroups import DEFAULT_GROUP

Found = Literal["found", "broken", "missing"]


def declare(ctx: Ctx, path: str, view: MapView | None) -> None:
    """Record the names written in the section at `path` (None: it was unreadable)."""
    ctx.declared[path] = None if view is None else frozenset(key for key, _, _ in view.items())


def status(ctx: Ctx, section_path: str, name: str, valid: Collection[str]) -> Found:
    """Whether `name` is valid, declared but broken, or missing from a section."""
    if name in valid:
        return "found"
    declared = ctx.declared.get(section_path, frozenset())
    if declared is None or name in declared:
        return "broken"
    return "missing"


def vpc(ctx: Ctx, name: str, node: Node, path: str, topology: Topology) -> Vpc | None:
    """The VPC, or None: missing (reported) or broken (its own errors say why)."""
    missing_vpc(ctx, name, node, path, topology)
    return topology.vpcs.get(name)


def missing_vpc(
    ctx: Ctx, name: str, node: Node, path: str, topology: Topology, hint: str = ""
) -> bool:
    """True, reported (`hint` ends the message), when no VPC `name` is written; a broken
    one is not missing."""
    if status(ctx, "vpcs", name, topology.vpcs) != "missing":
        return False
    declared = ctx.declared.get("vpcs") or frozenset()
    ctx.error(path, node, f"no VPC {name!r}{did_you_mean(name, declared)}{hint}")
    return True


def substrate_known(vpc: Vpc) -> bool:
    """False for the stub the loader passes when the VPC's own substrate has errors:
    its subnets, groups and hosts are then unknown (not empty), so references to
    them are not checked — the substrate's errors are the root cause."""
    return vpc.cidr != ""


def choice(
    ctx: Ctx,
    node: Node,
    path: str,
    what: str,
    allowed: tuple[str, ...],
    not_emulated: Mapping[str, str] | None = None,
) -> str | None:
    """One of `allowed`; a value AWS knows but the emulator does not gets its own
    explanation from `not_emulated` (keyed by the lower-case value)."""
    text = ctx.text(node, path, f"one of {', '.join(allowed)}")
    if text is None:
        return None
    if text in allowed:
        return text
    reason = (not_emulated or {}).get(text.lower())
    if reason is not None:
        ctx.error(path, node, f"{what} {text!r}: {reason}")
    else:
        ctx.error(
            path,
            node,
            f"{what} {text!r} is not one of {', '.join(allowed)}"
            f"{did_you_mean(text.lower(), allowed)}",
        )
    return None


def subnet_list(ctx: Ctx, node: Node, path: str, vpc: Vpc, owner: str) -> tuple[str, ...] | None:
    """Subnet names of `vpc`, at least one, at most one per Availability Zone.

    AWS gives NLBs and interface endpoints one ENI per subnet and refuses two
    subnets of the same AZ (`DuplicateSubnetsInSameZone`, "cannot be attached to
    multiple subnets in the same Availability Zone").
    """
    items = ctx.sequence(node, path)
    if items is None:
        return None
    if not items:
        ctx.error(path, node, f"{owner} needs at least one subnet")
        return None
    known = substrate_known(vpc)
    result: list[str] = []
    zone_owner: dict[str, str] = {}
    ok = True
    for item_path, item in items:
        subnet = ctx.text(item, item_path, "a subnet name")
        if subnet is None:
            ok = False
        elif subnet in result:
            ctx.error(item_path, item, f"subnet {subnet!r} is listed twice")
            ok = False
        elif known and subnet not in vpc.subnets:
            ctx.error(
                item_path,
                item,
                f"no subnet {subnet!r} in VPC {vpc.name!r}{did_you_mean(subnet, vpc.subnets)}",
            )
            ok = False
        else:
            result.append(subnet)
            az = vpc.subnets[subnet].az if known else None
            if az is not None and az in zone_owner:
                ctx.error(
                    item_path,
                    item,
                    f"subnet {subnet!r} is in {az} like subnet {zone_owner[az]!r}; "
                    f"AWS allows one subnet per Availability Zone for {owner}",
                )
                ok = False
            elif az is not None:
                zone_owner[az] = subnet
    return tuple(result) if ok else None


def group_list(ctx: Ctx, node: Node, path: str, vpc: Vpc) -> tuple[str, ...] | None:
    """Security groups of `vpc`; an empty list means `default`, as for hosts and on AWS."""
    items = ctx.sequence(node, path)
    if items is None:
        return None
    known = substrate_known(vpc)
    result: list[str] = []
    ok = True
    for item_path, item in items:
        group = ctx.text(item, item_path, "a security group name")
        if group is None:
            ok = False
        elif known and group not in vpc.security_groups:
            ctx.error(
                item_path,
                item,
                f"no security group {group!r} in VPC {vpc.name!r}"
                f"{did_you_mean(group, vpc.security_groups)}",
            )
            ok = False
        elif group in result:
            ctx.error(item_path, item, f"security group {group!r} is listed twice")
            ok = False
        else:
            result.append(group)
    if not ok:
        return None
    return tuple(result) or (DEFAULT_GROUP,)


def key_choice(
    ctx: Ctx,
    view: MapView,
    key: str,
    default: str | None,
    what: str,
    allowed: tuple[str, ...],
    not_emulated: Mapping[str, str] | None = None,
) -> str | None:
    """`choice` for the optional `key` of `view`: `default` when it is not written."""
    node = view.get(key)
    if node is None:
        return default
    return choice(ctx, node, view.path_of(key), what, allowed, not_emulated)
