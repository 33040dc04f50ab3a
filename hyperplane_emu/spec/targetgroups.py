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
- health check: `spec.healthchecks` (shared with ALB target groups, `NLB` rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode

from hyperplane_emu.spec import healthchecks, net, refs
from hyperplane_emu.spec.model import Target, TargetGroup, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, describe, did_you_mean

TG_KEYS = (
    "protocol",
    "port",
    "target_type",
    "targets",
    "preserve_client_ip",
    "proxy_protocol_v2",
    "unhealthy_connection_termination",
    "health_check",
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

    protocol = (
        refs.key_choice(
            ctx, view, "protocol", "tcp", "protocol", TG_PROTOCOLS, TG_PROTOCOLS_NOT_EMULATED
        )
        or ""
    )

    port = None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)

    target_type = (
        refs.key_choice(
            ctx,
            view,
            "target_type",
            "instance",
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
    termination = True
    term_node = view.get("unhealthy_connection_termination")
    if term_node is not None:
        termination = bool(ctx.boolean(term_node, view.path_of("unhealthy_connection_termination")))

    check = healthchecks.NLB.default()
    check_node = view.get("health_check")
    if check_node is not None:
        path_ = view.path_of("health_check")
        check = healthchecks.parse(ctx, check_node, path_, healthchecks.NLB) or check

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
        unhealthy_connection_termination=termination,
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


# Shared with application load balancer target groups (spec/albtargets.py): the
# same target forms.
parse_targets = _targets
