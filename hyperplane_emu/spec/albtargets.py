"""ALB target groups: protocol, port, targets and the HTTP health check.

AWS facts behind the checks (ELB API CreateTargetGroup for Application Load
Balancers; ALB guide "Health checks for Application Load Balancer target groups"):
- protocol HTTP here (HTTPS is not emulated: no certificates), port 1-65535,
  target type `instance` or `ip` (`lambda` is not emulated);
- targets take the same forms and rules as NLB targets (`spec.targetgroups`);
- health checks are HTTP or HTTPS (never TCP): path (default `/`), port
  (default the traffic port), interval 5-300 s (default 30; the emulator allows
  1 s so that tests need not wait), timeout 2-120 s (default 5, and AWS wants
  it shorter than the interval: the emulator accepts equal, since intervals may
  be 1 s here), thresholds 2-10 (defaults 5 healthy, 2 unhealthy), matcher HTTP
  codes 200-499 (default `200`);
- NLB-only attributes (client IP preservation, proxy protocol v2) do not
  exist on ALB target groups: an ALB always terminates the connection and
  passes the client address in `X-Forwarded-For`.
"""

from __future__ import annotations

from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import refs, targetgroups
from hyperplane_emu.spec.model import HealthCheck, Target, TargetGroup
from hyperplane_emu.spec.nodes import Ctx
from hyperplane_emu.spec.targetgroups import TargetScope

TG_KEYS = ("protocol", "port", "target_type", "targets", "health_check")
NLB_ONLY_KEYS = {
    "preserve_client_ip": "an ALB always terminates connections; targets see the client "
    "address in X-Forwarded-For",
    "proxy_protocol_v2": "proxy protocol is a Network Load Balancer attribute; ALBs send "
    "X-Forwarded-For",
}
HEALTH_KEYS = (
    "protocol",
    "port",
    "path",
    "interval",
    "timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "matcher",
)
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
CHECK_PROTOCOLS = ("http",)
CHECK_PROTOCOLS_NOT_EMULATED = {
    "https": "HTTPS health checks are not emulated; use http",
    "tcp": "ALB health checks are HTTP or HTTPS (AWS); TCP checks are for NLBs",
}
DEFAULT_CHECK = HealthCheck(protocol="http", timeout=5, matcher="200")
"""AWS's defaults for an ALB target group with instance or ip targets."""
MATCHER_CODES = (200, 499)
INT = "tag:yaml.org,2002:int"


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

    protocol: str | None = "http"
    proto_node = view.get("protocol")
    if proto_node is not None:
        protocol = refs.choice(
            ctx,
            proto_node,
            view.path_of("protocol"),
            "protocol",
            TG_PROTOCOLS,
            TG_PROTOCOLS_NOT_EMULATED,
        )

    port = None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)

    target_type: str | None = "instance"
    type_node = view.get("target_type")
    if type_node is not None:
        target_type = refs.choice(
            ctx,
            type_node,
            view.path_of("target_type"),
            "target type",
            TARGET_TYPES,
            TARGET_TYPES_NOT_EMULATED,
        )

    targets: tuple[Target, ...] = ()
    targets_node = view.get("targets")
    if targets_node is not None and target_type:
        targets = targetgroups.parse_targets(
            ctx, targets_node, view.path_of("targets"), target_type, port, scope
        )

    check = DEFAULT_CHECK
    check_node = view.get("health_check")
    if check_node is not None:
        check = _health_check(ctx, check_node, view.path_of("health_check")) or check

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


def _health_check(ctx: Ctx, node: Node, path: str) -> HealthCheck | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(HEALTH_KEYS)

    proto_node = view.get("protocol")
    if proto_node is not None:
        refs.choice(
            ctx,
            proto_node,
            view.path_of("protocol"),
            "health check protocol",
            CHECK_PROTOCOLS,
            CHECK_PROTOCOLS_NOT_EMULATED,
        )

    port: int | None = None
    port_node = view.get("port")
    if port_node is not None:
        port = targetgroups.check_port(ctx, port_node, view.path_of("port"))

    check_path = DEFAULT_CHECK.path
    path_node = view.get("path")
    if path_node is not None:
        check_path = targetgroups.check_path(ctx, path_node, view.path_of("path")) or check_path

    matcher = DEFAULT_CHECK.matcher
    matcher_node = view.get("matcher")
    if matcher_node is not None:
        matcher = _matcher(ctx, matcher_node, view.path_of("matcher")) or matcher

    values: dict[str, int] = {}
    for key, (low, high) in (
        ("interval", targetgroups.INTERVAL),
        ("timeout", targetgroups.TIMEOUT),
        ("healthy_threshold", targetgroups.THRESHOLD),
        ("unhealthy_threshold", targetgroups.THRESHOLD),
    ):
        value_node = view.get(key)
        if value_node is not None:
            value = ctx.integer(value_node, view.path_of(key), low, high)
            if value is not None:
                values[key] = value
    interval = values.get("interval", DEFAULT_CHECK.interval)
    interval_ok = "interval" in values or "interval" not in view  # a broken one is its own cause
    timeout_node = view.get("timeout")
    if timeout_node is not None and interval_ok and values.get("timeout", 0) > interval:
        ctx.error(
            view.path_of("timeout"),
            timeout_node,
            f"timeout {values['timeout']} s is longer than the interval {interval} s",
        )
    elif timeout_node is None:
        values["timeout"] = min(DEFAULT_CHECK.timeout, interval)

    if len(ctx.issues) > issues_before:
        return None
    merged = {
        "interval": DEFAULT_CHECK.interval,
        "healthy_threshold": DEFAULT_CHECK.healthy_threshold,
        "unhealthy_threshold": DEFAULT_CHECK.unhealthy_threshold,
        **values,
    }
    return HealthCheck(protocol="http", port=port, path=check_path, matcher=matcher, **merged)


def _matcher(ctx: Ctx, node: Node, path: str) -> str | None:
    """HTTP codes counted healthy: `200`, `200,202`, `200-299` (ALB: codes 200-499)."""
    return targetgroups.matcher(ctx, node, path, MATCHER_CODES, "ALB", "200-299")
