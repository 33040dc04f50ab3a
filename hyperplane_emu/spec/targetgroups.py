"""NLB target groups: protocol, port, targets, attributes and the health check.

AWS facts behind the checks (ELB API CreateTargetGroup, RegisterTargets,
ModifyTargetGroupAttributes, for Network Load Balancers):
- protocol TCP or UDP here (TLS, TCP_UDP not emulated), port 1-65535, target
  type `instance` or `ip` (`alb`, `lambda` not emulated);
- instance targets are instances of the target group's VPC; ip targets are
  addresses of that VPC (AWS also takes peered and on-premises ranges: without
  peering the emulator cannot reach them, so they are errors), never one of
  the five addresses AWS reserves in a subnet;
- a target in an AZ the NLB has no subnet in is registered but gets no traffic
  (a warning here);
- client IP preservation cannot be turned off, and proxy protocol v2 not turned
  on, for UDP target groups;
- health check: TCP or HTTP (HTTPS not emulated), interval 5-300 s (the
  emulator allows 1 s so that tests need not wait), timeout 2-120 s and not
  longer than the interval, thresholds 2-10; `path` and `matcher` are HTTP-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode

from hyperplane_emu.spec import net, refs
from hyperplane_emu.spec.model import HealthCheck, Target, TargetGroup, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, describe, did_you_mean

TG_KEYS = (
    "protocol",
    "port",
    "target_type",
    "targets",
    "preserve_client_ip",
    "proxy_protocol_v2",
    "health_check",
)
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
TG_PROTOCOLS = ("tcp", "udp")
TG_PROTOCOLS_NOT_EMULATED = {
    "tls": "TLS target groups are not emulated; use tcp",
    "tcp_udp": "TCP_UDP is not emulated; use one tcp and one udp target group",
    "http": "an application load balancer protocol; NLB target groups are tcp or udp",
    "https": "an application load balancer protocol; NLB target groups are tcp or udp",
}
TARGET_TYPES = ("instance", "ip")
TARGET_TYPES_NOT_EMULATED = {
    "alb": "ALB-type target groups (an NLB in front of an ALB) are not emulated",
    "lambda": "NLBs cannot target Lambda functions (AWS)",
}
CHECK_PROTOCOLS = ("tcp", "http")
CHECK_PROTOCOLS_NOT_EMULATED = {
    "https": "HTTPS health checks are not emulated; use http or tcp",
    "udp": "AWS has no UDP health checks; use tcp or http",
}
INTERVAL = (1, 300)
TIMEOUT = (2, 120)
THRESHOLD = (2, 10)
HTTP_TIMEOUT_DEFAULT = 6
"""AWS's default timeout for an NLB HTTP health check (10 s for TCP, the model default)."""
PATH_MAX = 1024
MATCHER_CODES = (200, 599)
_MATCHER = re.compile(r"[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*")
TRAFFIC_PORT = "traffic-port"
INT = "tag:yaml.org,2002:int"
_INSTANCE_NOT_IP = "an instance target group registers hosts, not addresses (set target_type: ip)"


@dataclass(frozen=True)
class TargetScope:
    """What the targets of one NLB are checked against."""

    vpc: Vpc
    topology: Topology
    lb: str
    zones: frozenset[str] | None
    """AZs the NLB has a subnet in, or None when unknown (broken subnets)."""
    kind: str = "NLB"  # how messages name the load balancer ("ALB" for application ones)


def parse_target_group(
    ctx: Ctx, name: str, node: Node, path: str, scope: TargetScope
) -> TargetGroup | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(TG_KEYS, required=("port",))

    protocol = "tcp"
    proto_node = view.get("protocol")
    if proto_node is not None:
        protocol = (
            refs.choice(
                ctx,
                proto_node,
                view.path_of("protocol"),
                "protocol",
                TG_PROTOCOLS,
                TG_PROTOCOLS_NOT_EMULATED,
            )
            or ""
        )

    port = None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)

    target_type = "instance"
    type_node = view.get("target_type")
    if type_node is not None:
        target_type = (
            refs.choice(
                ctx,
                type_node,
                view.path_of("target_type"),
                "target type",
                TARGET_TYPES,
                TARGET_TYPES_NOT_EMULATED,
            )
            or ""
        )

    targets: tuple[Target, ...] = ()
    targets_node = view.get("targets")
    if targets_node is not None and target_type:
        targets = _targets(ctx, targets_node, view.path_of("targets"), target_type, port, scope)

    preserve = _udp_attribute(ctx, view, "preserve_client_ip", protocol, forbidden=False)
    proxy = _udp_attribute(ctx, view, "proxy_protocol_v2", protocol, forbidden=True)

    check = HealthCheck()
    check_node = view.get("health_check")
    if check_node is not None:
        check = _health_check(ctx, check_node, view.path_of("health_check")) or check

    if len(ctx.issues) > issues_before or port is None or not protocol or not target_type:
        return None
    return TargetGroup(
        name=name,
        protocol=cast(Literal["tcp", "udp"], protocol),
        port=port,
        target_type=cast(Literal["instance", "ip"], target_type),
        targets=targets,
        health_check=check,
        preserve_client_ip=preserve,
        proxy_protocol_v2=bool(proxy),
    )


def _udp_attribute(
    ctx: Ctx, view: MapView, key: str, protocol: str, forbidden: bool
) -> bool | None:
    """A boolean attribute that AWS does not let UDP target groups set to `forbidden`."""
    node = view.get(key)
    if node is None:
        return None
    value = ctx.boolean(node, view.path_of(key))
    if value is forbidden and protocol == "udp":
        state = "turned on" if forbidden else "turned off"
        ctx.error(view.path_of(key), node, f"{key} cannot be {state} for a udp target group (AWS)")
        return None
    return value


# -- targets -----------------------------------------------------------------------------


def _targets(
    ctx: Ctx, node: Node, path: str, target_type: str, tg_port: int | None, scope: TargetScope
) -> tuple[Target, ...]:
    items = ctx.sequence(node, path)
    if items is None:
        return ()
    result: list[Target] = []
    seen: dict[tuple[str, int | None], str] = {}
    for item_path, item in items:
        target = _target(ctx, item, item_path, target_type, scope)
        if target is None:
            continue
        where = target.host or target.ip or ""
        key = (where, target.port or tg_port)
        if key in seen:
            port = f" port {key[1]}" if key[1] is not None else ""
            ctx.error(item_path, item, f"target {where}{port} is listed twice (as {seen[key]})")
            continue
        seen[key] = item_path.rsplit(".", 1)[-1]
        result.append(target)
    return tuple(result)


def _target(ctx: Ctx, node: Node, path: str, target_type: str, scope: TargetScope) -> Target | None:
    """`app1`, `10.0.1.5`, `{host: app1, port: 9000}` or `{ip: 10.0.1.5, port: 9000}`.

    An ip target group may also name a host: the target is that host's private
    address (what ECS registers for a task; the plan resolves it), so files need
    not pin addresses with private_ip.
    """
    port: int | None = None
    if isinstance(node, ScalarNode):
        text = ctx.text(node, path, "a host name or an address")
        if text is None:
            return None
        if text[:1].isdigit():  # host names start with a letter
            if target_type == "ip":
                return _ip_target(ctx, node, path, None, scope)
            ctx.error(path, node, f"{text!r}: {_INSTANCE_NOT_IP}")
            return None
        return _host_target(ctx, text, node, path, None, scope)
    if not isinstance(node, MappingNode):
        ctx.error(
            path,
            node,
            f"expected a host name or a mapping like {{host: app1}}, got {describe(node)}",
        )
        return None
    issues_before = len(ctx.issues)
    view = MapView(ctx, node, path)
    if target_type == "instance":
        view.check_keys(("host", "port", "ip"), required=() if "ip" in view else ("host",))
        if "ip" in view:
            ctx.error(view.path_of("ip"), view.key_node("ip"), _INSTANCE_NOT_IP)
            return None
    else:
        view.check_keys(("ip", "host", "port"))
        if ("ip" in view) == ("host" in view):
            ctx.error(path, node, "an ip target has exactly one of 'ip' or 'host'")
            return None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)
    ip_node = view.get("ip")
    if ip_node is not None:
        target = _ip_target(ctx, ip_node, view.path_of("ip"), port, scope)
    else:
        host_node = view.get("host")
        host = ctx.text(host_node, view.path_of("host"), "a host name") if host_node else None
        target = (
            _host_target(ctx, host, host_node, view.path_of("host"), port, scope)
            if host is not None and host_node is not None
            else None
        )
    return target if len(ctx.issues) == issues_before else None


def _host_target(
    ctx: Ctx, host: str, node: Node, path: str, port: int | None, scope: TargetScope
) -> Target | None:
    vpc = scope.vpc
    if not refs.substrate_known(vpc):
        return Target(host=host, port=port)
    if host not in vpc.hosts:
        elsewhere = [v.name for v in scope.topology.vpcs.values() if host in v.hosts]
        if elsewhere:
            ctx.error(
                path,
                node,
                f"host {host!r} is in VPC {elsewhere[0]!r}; the targets of {scope.kind} "
                f"{scope.lb!r} "
                f"are in VPC {vpc.name!r} (peering is not emulated)",
            )
        else:
            ctx.error(
                path, node, f"no host {host!r} in VPC {vpc.name!r}{did_you_mean(host, vpc.hosts)}"
            )
        return None
    _warn_zone(ctx, path, node, host, vpc.subnets[vpc.hosts[host].subnet].az, scope)
    return Target(host=host, port=port)


def _ip_target(
    ctx: Ctx, node: Node, path: str, port: int | None, scope: TargetScope
) -> Target | None:
    ip = net.address(ctx, node, path)
    if ip is None:
        return None
    vpc = scope.vpc
    if not refs.substrate_known(vpc):
        return Target(ip=str(ip), port=port)
    if ip not in IPv4Network(vpc.cidr):
        ctx.error(
            path,
            node,
            f"{ip} is outside VPC {vpc.name!r} ({vpc.cidr}); AWS also accepts peered and "
            "on-premises addresses, but the emulator has no peering",
        )
        return None
    subnet = _subnet_of(vpc, ip)
    if subnet is None:
        ctx.warn(
            path,
            node,
            f"{ip} is in no subnet of VPC {vpc.name!r}: nothing can own it, the target "
            "will never be healthy",
        )
        return Target(ip=str(ip), port=port)
    reason = net.reserved_reason(IPv4Network(vpc.subnets[subnet].cidr), ip)
    if reason is not None:
        ctx.error(path, node, reason)
        return None
    _warn_zone(ctx, path, node, str(ip), vpc.subnets[subnet].az, scope)
    return Target(ip=str(ip), port=port)


def _subnet_of(vpc: Vpc, ip: IPv4Address) -> str | None:
    for subnet in vpc.subnets.values():
        if ip in IPv4Network(subnet.cidr):
            return subnet.name
    return None


def _warn_zone(ctx: Ctx, path: str, node: Node, what: str, az: str, scope: TargetScope) -> None:
    if scope.zones is not None and az not in scope.zones:
        ctx.warn(
            path,
            node,
            f"target {what} is in {az}, where {scope.kind} {scope.lb!r} has no subnet: AWS "
            "registers it but sends it no traffic",
        )


# -- health check ------------------------------------------------------------------------


def _health_check(ctx: Ctx, node: Node, path: str) -> HealthCheck | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(HEALTH_KEYS)

    protocol: str | None = "tcp"
    proto_node = view.get("protocol")
    if proto_node is not None:
        protocol = refs.choice(
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
        port = _check_port(ctx, port_node, view.path_of("port"))

    check_path = _http_only(ctx, view, "path", protocol, _check_path)
    matcher = _http_only(ctx, view, "matcher", protocol, _matcher)

    values: dict[str, int] = {}
    for key, (low, high) in (
        ("interval", INTERVAL),
        ("timeout", TIMEOUT),
        ("healthy_threshold", THRESHOLD),
        ("unhealthy_threshold", THRESHOLD),
    ):
        value_node = view.get(key)
        if value_node is not None:
            value = ctx.integer(value_node, view.path_of(key), low, high)
            if value is not None:
                values[key] = value
    interval = values.get("interval", HealthCheck.interval)
    # A broken interval is its own root cause: do not compare the timeout with a guess.
    interval_ok = "interval" in values or "interval" not in view
    timeout_node = view.get("timeout")
    if timeout_node is not None and interval_ok and values.get("timeout", 0) > interval:
        ctx.error(
            view.path_of("timeout"),
            timeout_node,
            f"timeout {values['timeout']} s is longer than the interval {interval} s",
        )
    elif timeout_node is None:
        # AWS's default for the protocol, never longer than the interval written.
        default = HTTP_TIMEOUT_DEFAULT if protocol == "http" else HealthCheck.timeout
        values["timeout"] = min(default, interval)

    if len(ctx.issues) > issues_before or protocol is None:
        return None
    return HealthCheck(
        protocol=cast(Literal["tcp", "http"], protocol),
        port=port,
        path=check_path or HealthCheck.path,
        matcher=matcher or HealthCheck.matcher,
        **values,
    )


def _check_port(ctx: Ctx, node: Node, path: str) -> int | None:
    """A port, or `traffic-port` (AWS's default: the port each target receives traffic on)."""
    if isinstance(node, ScalarNode) and node.value == TRAFFIC_PORT:
        return None
    return ctx.integer(node, path, 1, 65535)


def _http_only(
    ctx: Ctx,
    view: MapView,
    key: str,
    protocol: str | None,
    read: Callable[[Ctx, Node, str], str | None],
) -> str | None:
    node = view.get(key)
    if node is None:
        return None
    if protocol == "tcp":
        ctx.error(view.path_of(key), node, f"{key} applies to http health checks only (AWS)")
        return None
    return read(ctx, node, view.path_of(key))


def _check_path(ctx: Ctx, node: Node, path: str) -> str | None:
    text = ctx.text(node, path, "a URL path like /health")
    if text is None:
        return None
    if not text.startswith("/"):
        ctx.error(path, node, f"health check path {text!r} must start with '/'")
        return None
    if len(text) > PATH_MAX or any(c.isspace() for c in text):
        ctx.error(path, node, f"health check path must be at most {PATH_MAX} characters, no spaces")
        return None
    return text


def _matcher(ctx: Ctx, node: Node, path: str) -> str | None:
    """HTTP codes counted healthy: `200`, `200,202`, `200-399` (NLB: codes 200-599)."""
    return matcher(ctx, node, path, MATCHER_CODES, "NLB", "200-399")


def matcher(
    ctx: Ctx, node: Node, path: str, codes: tuple[int, int], lb: str, example: str
) -> str | None:
    """A health-check matcher within `codes` (shared by NLB and ALB target groups)."""
    value: str | None
    if isinstance(node, ScalarNode) and node.tag == INT:
        value = str(node.value)  # `matcher: 200` unquoted
    else:
        value = ctx.text(node, path, f'HTTP codes like "{example}"')
        if value is None:
            return None
    if not _MATCHER.fullmatch(value):
        ctx.error(path, node, f"matcher {value!r} is not HTTP codes like 200, 200,202 or {example}")
        return None
    low, high = codes
    for part in value.split(","):
        first, _, last = part.partition("-")
        pair = (int(first), int(last or first))
        if not all(low <= code <= high for code in pair):
            ctx.error(
                path, node, f"matcher {value!r}: {lb} health checks accept codes {low}-{high}"
            )
            return None
        if pair[0] > pair[1]:
            ctx.error(path, node, f"matcher range {part} runs backwards")
            return None
    return value


# Shared with application load balancer target groups (spec/albtargets.py): the
# same target forms and the same health-check path and port rules.
parse_targets = _targets
check_path = _check_path
check_port = _check_port
