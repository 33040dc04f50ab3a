"""ALB target groups: protocol, port, targets and the HTTP health check.

AWS facts behind the checks (ELB API CreateTargetGroup for Application Load
Balancers; ALB guide "Health checks for Application Load Balancer target groups"):
- protocol HTTP here (HTTPS is not emulated: no certificates), port 1-65535,
  target type `instance` or `ip` (`lambda` is not emulated);
- targets take the same forms and rules as NLB targets (`spec.targetgroups`);
- health checks: `spec.healthchecks` (shared with NLB target groups, `ALB`
  rules: HTTP only, timeout default 5 s, matcher codes 200-499, default `200`);
- NLB-only attributes (client IP preservation, proxy protocol v2) do not
  exist on ALB target groups: an ALB always terminates the connection and
  passes the client address in `X-Forwarded-For`.
"""

from __future__ import annotations

from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import healthchecks, refs, targetgroups
from hyperplane_emu.spec.model import Target, TargetGroup
from hyperplane_emu.spec.nodes import Ctx
from hyperplane_emu.spec.targetgroups import TargetScope

TG_KEYS = ("protocol", "port", "target_type", "targets", "health_check")
NLB_ONLY_KEYS = {
    "preserve_client_ip": "an ALB always terminates connections; targets see the client "
    "address in X-Forwarded-For",
    "proxy_protocol_v2": "proxy protocol is a Network Load Balancer attribute; ALBs send "
    "X-Forwarded-For",
}
TG_PROTOCOLS = ("http",)
TG_PROTOCOLS_NOT_EMULATED = {
    "https": "HTTPS target groups are not emulated (no certificates); use http",
    "tcp": "a Network Load Balancer protocol; ALB target groups are http",
    "udp": "a Network Load Balancer protocol; ALB target groups are http",
    "tls": "a Network Load Balancer protocol; ALB target groups are http",
}
TARGET_TYPES = ("instance", "ip")
TARGET_TYPES_NOT_EMULATED = {
    "lambda": "Lambda targets are not emulated",
    "alb": "only NLB target groups can target an ALB",
}


def parse_alb_target_group(
    ctx: Ctx, name: str, node: Node, path: str, scope: TargetScope
) -> TargetGroup | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    for key, reason in NLB_ONLY_KEYS.items():
        if key in view:
            ctx.error(view.path_of(key), view.key_node(key), f"{key}: {reason}")
    view.check_keys((*TG_KEYS, *NLB_ONLY_KEYS), required=("port",))

    protocol: str | None = refs.key_choice(
        ctx, view, "protocol", "http", "protocol", TG_PROTOCOLS, TG_PROTOCOLS_NOT_EMULATED
    )

    port = None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)

    target_type: str | None = refs.key_choice(
        ctx, view, "target_type", "instance", "target type", TARGET_TYPES, TARGET_TYPES_NOT_EMULATED
    )

    targets: tuple[Target, ...] = ()
    targets_node = view.get("targets")
    if targets_node is not None and target_type:
        targets = targetgroups.parse_targets(
            ctx, targets_node, view.path_of("targets"), target_type, port, scope
        )

    check = healthchecks.ALB.default()
    check_node = view.get("health_check")
    if check_node is not None:
        path_ = view.path_of("health_check")
        check = healthchecks.parse(ctx, check_node, path_, healthchecks.ALB) or check

    if len(ctx.issues) > issues_before or port is None or not protocol or not target_type:
        return None
    return TargetGroup(
        name=name,
        protocol=cast(Literal["http"], protocol),
        port=port,
        target_type=cast(Literal["instance", "ip"], target_type),
        targets=targets,
        health_check=check,
    )
