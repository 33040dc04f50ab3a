"""Application Load Balancers: `type: application` entries of a VPC's load_balancers.

`loadbalancers.parse_load_balancers` hands every `type: application` entry here
(names, and target-group names, are checked there for both kinds).

AWS facts behind the checks (ELB API CreateLoadBalancer / CreateListener for
Application Load Balancers; ALB guide "Application Load Balancers", quotas):
- at least two subnets in two different Availability Zones, one per AZ;
- security groups: up to 5, of the load balancer's VPC; none written means
  the VPC's default group (as for an instance);
- `idle_timeout` (attribute idle_timeout.timeout_seconds) 1-4000 s, default 60;
- listeners: HTTP here (HTTPS is not emulated: no certificates), one per port,
  at most 50; each has a default action and up to 100 rules per load balancer
  (`albrules`); cross-zone load balancing is always on for ALBs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import albrules, refs
from hyperplane_emu.spec.albrules import ActionScope
from hyperplane_emu.spec.albtargets import parse_alb_target_group
from hyperplane_emu.spec.model import (
    AlbListener,
    AlbRule,
    LoadBalancer,
    TargetGroup,
    Topology,
    Vpc,
)
from hyperplane_emu.spec.nodes import Ctx, MapView
from hyperplane_emu.spec.targetgroups import TargetScope

ALB_KEYS = (
    "type",
    "scheme",
    "subnets",
    "security_groups",
    "idle_timeout",
    "listeners",
    "target_groups",
)
NLB_ONLY_KEYS = {
    "cross_zone": "cross-zone load balancing is always on for application load balancers",
    "enforce_security_group_inbound_rules_on_private_link_traffic": (
        "a Network Load Balancer attribute (PrivateLink reaches NLBs, not ALBs)"
    ),
}
LISTENER_KEYS = ("port", "protocol", "default_action", "target_group", "rules")
LISTENER_PROTOCOLS = ("http",)
LISTENER_PROTOCOLS_NOT_EMULATED = {
    "https": "HTTPS listeners are not emulated (no certificates); use http",
    "tcp": "a Network Load Balancer protocol; ALB listeners are http",
    "udp": "a Network Load Balancer protocol; ALB listeners are http",
    "tls": "a Network Load Balancer protocol; ALB listeners are http",
}
LISTENER_NLB_KEYS = {
    "idle_timeout": "an ALB's idle timeout is set on the load balancer, not the listener",
}
MIN_ZONES = 2
MAX_SECURITY_GROUPS = 5
IDLE_TIMEOUT = (1, 4000)
DEFAULT_IDLE_TIMEOUT = 60
MAX_LISTENERS = 50
MAX_RULES = 100

GroupParser = Callable[[Ctx, str, Node, str, TargetScope], TargetGroup | None]
GroupsParser = Callable[
    [Ctx, MapView, TargetScope, GroupParser],
    tuple[dict[str, TargetGroup], dict[str, Node] | None],
]
"""Reads a load balancer's `target_groups` with the given per-group parser: the valid
groups, and every name written (None: unreadable). `loadbalancers` supplies it, as
it also checks that target group names are unique in the account."""


def parse_application_lb(
    ctx: Ctx,
    name: str,
    view: MapView,
    vpc: Vpc,
    topology: Topology,
    parse_groups: GroupsParser,
) -> LoadBalancer | None:
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    for key, reason in NLB_ONLY_KEYS.items():
        if key in view:
            ctx.error(view.path_of(key), view.key_node(key), f"{key}: {reason}")
    view.check_keys((*ALB_KEYS, *NLB_ONLY_KEYS), required=("subnets",))

    scheme = (
        refs.key_choice(ctx, view, "scheme", "internal", "scheme", ("internal", "internet-facing"))
        or ""
    )

    subnets = _subnets(ctx, view, vpc)
    zones = (
        frozenset(vpc.subnets[s].az for s in subnets)
        if subnets is not None and refs.substrate_known(vpc)
        else None
    )
    groups = _security_groups(ctx, view, vpc)

    idle_timeout = DEFAULT_IDLE_TIMEOUT
    idle_node = view.get("idle_timeout")
    if idle_node is not None:
        idle_timeout = ctx.integer(idle_node, view.path_of("idle_timeout"), *IDLE_TIMEOUT) or 0

    scope = TargetScope(vpc, topology, name, zones, kind="ALB")
    target_groups, written = parse_groups(ctx, view, scope, parse_alb_target_group)
    actions = ActionScope(set(target_groups), None if written is None else set(written))
    listeners = _listeners(ctx, view, actions)
    _warn_unused_groups(ctx, view, written, actions.used)

    if len(ctx.issues) > issues_before or subnets is None or groups is None or not scheme:
        return None
    return LoadBalancer(
        name=name,
        type="application",
        scheme=cast(Literal["internal", "internet-facing"], scheme),
        subnets=subnets,
        listeners=(),
        target_groups=target_groups,
        cross_zone=True,  # always on for ALBs (AWS)
        security_groups=groups,
        idle_timeout=idle_timeout,
        alb_listeners=listeners,
    )


def _subnets(ctx: Ctx, view: MapView, vpc: Vpc) -> tuple[str, ...] | None:
    node = view.get("subnets")
    if node is None:
        return None
    path = view.path_of("subnets")
    subnets = refs.subnet_list(ctx, node, path, vpc, "an application load balancer")
    if subnets is not None and refs.substrate_known(vpc) and len(subnets) < MIN_ZONES:
        ctx.error(
            path,
            node,
            f"an application load balancer needs subnets in at least {MIN_ZONES} Availability "
            f"Zones (AWS), not {len(subnets)}",
        )
        return None
    return subnets


def _security_groups(ctx: Ctx, view: MapView, vpc: Vpc) -> tuple[str, ...] | None:
    node = view.get("security_groups")
    if node is None:
        return ("default",)  # AWS: the VPC's default group when none is given
    path = view.path_of("security_groups")
    groups = refs.group_list(ctx, node, path, vpc)
    if groups is not None and len(groups) > MAX_SECURITY_GROUPS:
        ctx.error(
            path,
            node,
            f"{len(groups)} security groups; AWS allows at most {MAX_SECURITY_GROUPS} per "
            "load balancer",
        )
        return None
    return groups


def _listeners(ctx: Ctx, view: MapView, actions: ActionScope) -> tuple[AlbListener, ...]:
    node = view.get("listeners")
    items = ctx.sequence(node, view.path_of("listeners")) if node is not None else []
    if items is None:
        return ()
    if len(items) > MAX_LISTENERS:
        ctx.error(
            view.path_of("listeners"),
            node,
            f"{len(items)} listeners; AWS allows at most {MAX_LISTENERS} per load balancer",
        )
    result: list[AlbListener] = []
    seen: dict[int, str] = {}
    rules = 0
    for item_path, item in items:
        listener = _listener(ctx, item, item_path, actions)
        if listener is None:
            continue
        if listener.port in seen:
            ctx.error(
                f"{item_path}.port",
                item,
                f"a listener on port {listener.port} is already defined ({seen[listener.port]})",
            )
            continue
        seen[listener.port] = item_path.rsplit(".", 1)[-1]
        rules += len(listener.rules)
        result.append(listener)
    if rules > MAX_RULES:
        ctx.error(
            view.path_of("listeners"),
            node,
            f"{rules} rules; AWS allows at most {MAX_RULES} per load balancer (default "
            "actions not counted)",
        )
    return tuple(result)


def _listener(ctx: Ctx, node: Node, path: str, actions: ActionScope) -> AlbListener | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    for key, reason in LISTENER_NLB_KEYS.items():
        if key in view:
            ctx.error(view.path_of(key), view.key_node(key), f"{key}: {reason}")
    view.check_keys((*LISTENER_KEYS, *LISTENER_NLB_KEYS), required=("port",))

    port_node = view.get("port")
    port = ctx.integer(port_node, view.path_of("port"), 1, 65535) if port_node else None

    proto_node = view.get("protocol")
    if proto_node is not None:
        refs.choice(
            ctx,
            proto_node,
            view.path_of("protocol"),
            "listener protocol",
            LISTENER_PROTOCOLS,
            LISTENER_PROTOCOLS_NOT_EMULATED,
        )

    default_action = albrules.rule_action(ctx, view, actions, "default_action", "a listener")
    rules: tuple[AlbRule, ...] | None = ()
    rules_node = view.get("rules")
    if rules_node is not None:
        rules = albrules.parse_rules(ctx, rules_node, view.path_of("rules"), actions)

    if len(ctx.issues) > issues_before or port is None or default_action is None or rules is None:
        return None
    return AlbListener(port=port, default_action=default_action, rules=rules)


def _warn_unused_groups(
    ctx: Ctx, view: MapView, written: dict[str, Node] | None, used: set[str]
) -> None:
    for group, key_node in (written or {}).items():
        if group not in used:
            ctx.warn(
                f"{view.path_of('target_groups')}.{group}",
                key_node,
                f"target group {group!r} is used by no listener: its targets get no traffic",
            )
