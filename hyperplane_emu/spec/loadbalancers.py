"""The `load_balancers` section of a VPC: Network Load Balancers and their listeners.

AWS facts behind the checks (ELB API CreateLoadBalancer / CreateListener):
- `type` is required here: AWS's default is `application`, and a file should
  say which kind it means; `application` entries are read by `spec.alb`;
  `gateway` is refused;
- scheme `internal` (default here: the emulator has no internet) or
  `internet-facing`; at least one subnet, at most one per AZ;
- names at most 32 characters, not starting with `internal-`, unique per
  account and region (so across the VPCs of one account), and so are target
  group names;
- listeners: TCP or UDP (TLS, TCP_UDP not emulated), one per protocol and port
  (AWS wants a TCP_UDP listener for both on one port: two listeners here),
  at most 50 per NLB; the target group's protocol must match the listener's;
  `idle_timeout` (tcp.idle_timeout.seconds, 60-6000, default 350) is for TCP
  listeners only: UDP flows time out after 120 s, which the model records;
- security groups (since 10 Aug 2023): `security_groups` at creation, at most 5
  as for ALBs; none written means none (not the VPC's default: the classic NLB
  has no groups), and `apply` refuses adding groups to an NLB created without
  them ("You can't perform this operation on a Network Load Balancer unless you
  specified a security group for the load balancer when you created it", ELB API
  SetSecurityGroups); `enforce_security_group_inbound_rules_on_private_link_traffic`
  is `on` (default) or `off` and needs groups (it applies only then)
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, cast

from yaml.nodes import Node, SequenceNode

from hyperplane_emu.spec import alb, names, refs
from hyperplane_emu.spec.model import Listener, LoadBalancer, TargetGroup, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.sections import vpc_section
from hyperplane_emu.spec.targetgroups import TargetScope, parse_target_group

ENFORCE_PRIVATELINK = "enforce_security_group_inbound_rules_on_private_link_traffic"
LB_KEYS = (
    "type",
    "scheme",
    "subnets",
    "cross_zone",
    "security_groups",
    ENFORCE_PRIVATELINK,
    "listeners",
    "target_groups",
)
ON_OFF = ("on", "off")
LISTENER_KEYS = ("port", "protocol", "target_group", "idle_timeout")
TYPES = ("network",)
APPLICATION = "application"
TYPES_NOT_EMULATED = {"gateway": "gateway load balancers are not emulated"}
SCHEMES = ("internal", "internet-facing")
LISTENER_PROTOCOLS = ("tcp", "udp")
LISTENER_PROTOCOLS_NOT_EMULATED = {
    "tls": "TLS listeners are not emulated (no certificates); use tcp",
    "tcp_udp": "write two listeners on the same port, one tcp and one udp",
    "http": "an application load balancer protocol; NLB listeners are tcp or udp",
    "https": "an application load balancer protocol; NLB listeners are tcp or udp",
}
IDLE_TIMEOUT = (60, 6000)
UDP_IDLE_TIMEOUT = 120
"""Seconds a UDP flow through an NLB stays tracked without traffic (fixed by AWS)."""
MAX_LISTENERS = 50
RESERVED_LB_PREFIX = "internal-"
APPLICATION_KEY = "#application"
"""Suffix of the `ctx.declared` entry listing application load balancers (valid or
not) so that endpoint services and REST VPC links can say why they cannot use one."""


def section_path(vpc_path: str) -> str:
    return f"{vpc_path}.load_balancers"


def nlb_status(
    ctx: Ctx, lb: str, vpc: Vpc, node: Node, path: str, *, on_alb: str, missing_hint: str = ""
) -> refs.Found | None:
    """Where a reference to NLB `lb` of `vpc` stands; None when an ALB or missing (reported:
    `on_alb` says why an ALB will not do, `missing_hint` ends the no-such-NLB message)."""
    lbs_path = section_path(f"vpcs.{vpc.name}")
    if lb in (ctx.declared.get(lbs_path + APPLICATION_KEY) or ()):
        ctx.error(path, node, f"{lb!r} is an application load balancer{on_alb}")
        return None
    found = refs.status(ctx, lbs_path, lb, vpc.load_balancers)
    if found == "missing":
        ctx.error(
            path,
            node,
            f"no load balancer {lb!r} in VPC {vpc.name!r}{did_you_mean(lb, vpc.load_balancers)}"
            + missing_hint,
        )
        return None
    return found


@vpc_section("load_balancers")
def parse_load_balancers(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
    view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, view)
    if view is None:
        return vpc
    applications: set[str] = set()
    tg_owner = _target_group_owners(vpc, topology)
    result: dict[str, LoadBalancer] = {}
    for key, lb_path, lb_node in view.items():
        good_name = _lb_name(ctx, key, view.key_node(key), lb_path, vpc, topology)
        lb_view = ctx.mapping(lb_node, lb_path)
        if lb_view is None:
            continue
        if _is_application(lb_view):
            applications.add(key)
            lb = alb.parse_application_lb(
                ctx,
                key,
                lb_view,
                vpc,
                topology,
                lambda c, v, s, p: _target_groups(c, v, s, tg_owner, p),
            )
        else:
            lb = _load_balancer(ctx, key, lb_view, vpc, topology, tg_owner)
        if good_name and lb is not None:
            result[key] = lb
    ctx.declared[path + APPLICATION_KEY] = frozenset(applications)
    return dataclasses.replace(vpc, load_balancers=result)


def _lb_name(ctx: Ctx, name: str, node: Node, path: str, vpc: Vpc, topology: Topology) -> bool:
    if not names.name(ctx, name, node, path, "load balancer"):
        return False
    if name.startswith(RESERVED_LB_PREFIX):
        ctx.error(
            path, node, f"load balancer names may not start with {RESERVED_LB_PREFIX!r} (AWS)"
        )
        return False
    for other in topology.vpcs.values():
        if other.name != vpc.name and other.account == vpc.account and name in other.load_balancers:
            ctx.error(
                path,
                node,
                f"account {vpc.account!r} already has a load balancer {name!r} (in VPC "
                f"{other.name!r}); AWS names are unique per account and region",
            )
            return False
    return True


def _target_group_owners(vpc: Vpc, topology: Topology) -> dict[str, str]:
    """Target group name -> `VPC/NLB` owning it, in the VPCs of this account read so far."""
    owners: dict[str, str] = {}
    for other in topology.vpcs.values():
        if other.account == vpc.account and other.name != vpc.name:
            for lb in other.load_balancers.values():
                owners.update(dict.fromkeys(lb.target_groups, f"{other.name}/{lb.name}"))
    return owners


def _is_application(view: MapView) -> bool:
    """An ALB (`spec.alb` reads it)."""
    node = view.get("type")
    return node is not None and getattr(node, "value", None) == APPLICATION


def _load_balancer(
    ctx: Ctx,
    name: str,
    view: MapView,
    vpc: Vpc,
    topology: Topology,
    tg_owner: dict[str, str],
) -> LoadBalancer | None:
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(LB_KEYS, required=("subnets",))

    type_node = view.get("type")
    if type_node is None:
        ctx.error(
            view.path_of("type"),
            view.node,
            "required key 'type' is missing (AWS's default is application; write "
            "type: network or type: application)",
        )
    else:
        refs.choice(
            ctx, type_node, view.path_of("type"), "load balancer type", TYPES, TYPES_NOT_EMULATED
        )

    scheme = refs.key_choice(ctx, view, "scheme", "internal", "scheme", SCHEMES) or ""

    subnets: tuple[str, ...] | None = None
    subnets_node = view.get("subnets")
    if subnets_node is not None:
        subnets = refs.subnet_list(
            ctx, subnets_node, view.path_of("subnets"), vpc, "a load balancer"
        )
    zones = (
        frozenset(vpc.subnets[s].az for s in subnets)
        if subnets is not None and refs.substrate_known(vpc)
        else None
    )

    cross_zone = False
    cross_node = view.get("cross_zone")
    if cross_node is not None:
        cross_zone = bool(ctx.boolean(cross_node, view.path_of("cross_zone")))

    security_groups, enforce = _nlb_security_groups(ctx, view, vpc)

    scope = TargetScope(vpc, topology, name, zones)
    groups, written_groups = _target_groups(ctx, view, scope, tg_owner)
    listeners = _listeners(ctx, view, groups, written_groups)

    if len(ctx.issues) > issues_before or subnets is None or not scheme:
        return None
    return LoadBalancer(
        name=name,
        type="network",
        scheme=cast(Literal["internal", "internet-facing"], scheme),
        subnets=subnets,
        listeners=listeners,
        target_groups=groups,
        cross_zone=cross_zone,
        security_groups=security_groups,
        enforce_sg_inbound_on_privatelink=enforce,
    )


def _nlb_security_groups(ctx: Ctx, view: MapView, vpc: Vpc) -> tuple[tuple[str, ...], bool]:
    """The NLB's groups (none unless written) and the PrivateLink enforcement attribute."""
    groups: tuple[str, ...] = ()
    node = view.get("security_groups")
    if isinstance(node, SequenceNode) and not node.value:
        node = None  # `[]`: no groups, as CreateLoadBalancer without SecurityGroups
    if node is not None:
        path = view.path_of("security_groups")
        written = refs.group_list(ctx, node, path, vpc)
        if written is not None and len(written) > alb.MAX_SECURITY_GROUPS:
            ctx.error(
                path,
                node,
                f"{len(written)} security groups; AWS allows at most {alb.MAX_SECURITY_GROUPS} "
                "per load balancer",
            )
        elif written is not None:
            groups = written
    enforce = True
    enforce_node = view.get(ENFORCE_PRIVATELINK)
    if enforce_node is not None:
        path = view.path_of(ENFORCE_PRIVATELINK)
        value = refs.choice(ctx, enforce_node, path, ENFORCE_PRIVATELINK, ON_OFF)
        enforce = value != "off"
        if value is not None and node is None:
            ctx.error(
                path,
                enforce_node,
                "the NLB has no security_groups: AWS applies this attribute only to a load "
                "balancer with security groups",
            )
    return groups, enforce


def _target_groups(
    ctx: Ctx,
    view: MapView,
    scope: TargetScope,
    tg_owner: dict[str, str],
    parse: alb.GroupParser = parse_target_group,
) -> tuple[dict[str, TargetGroup], dict[str, Node] | None]:
    """The valid groups, and every name written with its key node (None: the
    section was unreadable, so references to it are not checked). `parse` reads
    one group (NLB by default, `albtargets` for an ALB)."""
    node = view.get("target_groups")
    if node is None:
        return {}, {}
    groups_view = ctx.mapping(node, view.path_of("target_groups"), null_ok=True)
    if groups_view is None:
        return {}, None
    result: dict[str, TargetGroup] = {}
    for key, tg_path, tg_node in groups_view.items():
        key_node = groups_view.key_node(key)
        good_name = names.name(ctx, key, key_node, tg_path, "target group")
        if good_name and key in tg_owner:
            ctx.error(
                tg_path,
                key_node,
                f"target group {key!r} already exists in this account (load balancer "
                f"{tg_owner[key]}); "
                "AWS names are unique per account and region",
            )
            good_name = False
        group = parse(ctx, key, tg_node, tg_path, scope)
        tg_owner[key] = f"{scope.vpc.name}/{scope.lb}"
        if good_name and group is not None:
            result[key] = group
    return result, {key: groups_view.key_node(key) for key, _, _ in groups_view.items()}


def _listeners(
    ctx: Ctx,
    view: MapView,
    groups: dict[str, TargetGroup],
    written_groups: dict[str, Node] | None,
) -> tuple[Listener, ...]:
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
    result: list[Listener] = []
    used: set[str] = set()
    seen: dict[tuple[str, int], str] = {}
    for item_path, item in items:
        listener = _listener(ctx, item, item_path, groups, written_groups, used)
        if listener is None:
            continue
        key = (listener.protocol, listener.port)
        if key in seen:
            ctx.error(
                f"{item_path}.port",
                item,
                f"a {listener.protocol} listener on port {listener.port} is already defined "
                f"({seen[key]})",
            )
            continue
        seen[key] = item_path.rsplit(".", 1)[-1]
        result.append(listener)
    for group, key_node in (written_groups or {}).items():
        if group not in used:
            ctx.warn(
                f"{view.path_of('target_groups')}.{group}",
                key_node,
                f"target group {group!r} is used by no listener: its targets get no traffic",
            )
    return tuple(result)


def _listener(
    ctx: Ctx,
    node: Node,
    path: str,
    groups: dict[str, TargetGroup],
    written_groups: dict[str, Node] | None,
    used: set[str],
) -> Listener | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(LISTENER_KEYS, required=("port", "target_group"))

    port_node = view.get("port")
    port = ctx.integer(port_node, view.path_of("port"), 1, 65535) if port_node else None

    protocol: str | None = refs.key_choice(
        ctx,
        view,
        "protocol",
        "tcp",
        "listener protocol",
        LISTENER_PROTOCOLS,
        LISTENER_PROTOCOLS_NOT_EMULATED,
    )

    group: str | None = None
    group_node = view.get("target_group")
    if group_node is not None:
        group = ctx.text(group_node, view.path_of("target_group"), "a target group name")
    if group is not None and group_node is not None:
        used.add(group)
        if written_groups is not None and group not in written_groups:
            ctx.error(
                view.path_of("target_group"),
                group_node,
                f"no target group {group!r} in this load balancer"
                f"{did_you_mean(group, written_groups)}",
            )
        elif group in groups and protocol is not None and groups[group].protocol != protocol:
            ctx.error(
                view.path_of("target_group"),
                group_node,
                f"a {protocol} listener cannot forward to {groups[group].protocol} target group "
                f"{group!r}: the protocols must match",
            )

    idle_timeout = UDP_IDLE_TIMEOUT if protocol == "udp" else Listener.idle_timeout
    idle_node = view.get("idle_timeout")
    if idle_node is not None and protocol == "udp":
        ctx.error(
            view.path_of("idle_timeout"),
            idle_node,
            f"idle_timeout is for tcp listeners; AWS times UDP flows out after "
            f"{UDP_IDLE_TIMEOUT} s",
        )
    elif idle_node is not None:
        low, high = IDLE_TIMEOUT
        idle_timeout = ctx.integer(idle_node, view.path_of("idle_timeout"), low, high) or 0

    if len(ctx.issues) > issues_before or port is None or protocol is None or group is None:
        return None
    return Listener(
        protocol=cast(Literal["tcp", "udp"], protocol),
        port=port,
        target_group=group,
        idle_timeout=idle_timeout,
    )
