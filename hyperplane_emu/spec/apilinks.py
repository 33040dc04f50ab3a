"""VPC links of an API (`apis.<api>.vpc_links`): REST's V1 and the V2 kind.

A REST API's link is V1 (`target: <vpc>/<nlb>`, an endpoint service in front
of one NLB) or V2 (`{vpc, subnets, security_groups}`, Hyperplane ENIs); an HTTP
API's is V2. Apart from `apis` because the rules are the VPC side's: which NLB
may be fronted, which subnets and groups a link's ENIs take.

AWS facts behind the checks (API Gateway Developer Guide: "Set up VPC links V1",
"VPC links for HTTP APIs"):
- a REST VPC link (V1) targets exactly one Network Load Balancer, owned by the
  API's account; it puts an endpoint service on that NLB, and an NLB is behind
  one endpoint service at most (AWS_ONE_SERVICE, AWS's error as API Gateway shows
  it on a link that cannot be created); two APIs' links to one NLB stand for one
  shared AWS VPC link (REST APIs may share a link);
- an HTTP API VPC link (V2) has subnets (at most 10) and security groups of one
  VPC of the API's account.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import Node, SequenceNode

from hyperplane_emu.spec import loadbalancers, names, privatelink, refs
from hyperplane_emu.spec.model import Topology, Vpc, VpcLink
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.secgroups import DEFAULT_GROUP

REST_LINK_KEYS = ("target",)
HTTP_LINK_KEYS = ("vpc", "subnets", "security_groups")
MAX_LINK_SUBNETS = 10


def links_path(api_path: str) -> str:
    return f"{api_path}.vpc_links"


@dataclass
class Shared:
    """What one API's checks need from the others and from the VPC sections."""

    fronted: dict[str, str]  # "<vpc>/<nlb>" -> the endpoint service in front of it


def fronted_nlbs(topology: Topology) -> dict[str, str]:
    fronted: dict[str, str] = {}
    for vpc in topology.vpcs.values():
        for service in vpc.endpoint_services.values():
            fronted[f"{vpc.name}/{service.load_balancer}"] = f"{vpc.name}/{service.name}"
    return fronted


def parse_vpc_links(
    ctx: Ctx,
    view: MapView,
    api_type: str | None,
    account: str,
    topology: Topology,
    shared: Shared,
) -> dict[str, VpcLink]:
    path = links_path(view.path)
    node = view.get("vpc_links")
    if node is None:
        ctx.declared[path] = frozenset()
        return {}
    links_view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, links_view)
    if links_view is None:
        return {}
    if api_type is None:
        ctx.declared[path] = None  # which form is right is unknown: stay silent on references
        return {}
    targets: dict[str, str] = {}  # "<vpc>/<nlb>" -> link of this API
    result: dict[str, VpcLink] = {}
    for key, link_path, link_node in links_view.items():
        good_name = names.name(ctx, key, links_view.key_node(key), link_path, "VPC link")
        if api_type == "rest":
            link = _rest_link(ctx, key, link_node, link_path, account, topology, shared, targets)
        else:
            link = _http_link(ctx, key, link_node, link_path, account, topology)
        if good_name and link is not None:
            result[key] = link
    return result


def _rest_link(
    ctx: Ctx,
    name: str,
    node: Node,
    path: str,
    account: str,
    topology: Topology,
    shared: Shared,
    targets: dict[str, str],
) -> VpcLink | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    v2_keys = [k for k in HTTP_LINK_KEYS if k in view]
    if v2_keys and "target" not in view:
        # A VPC link V2 (Hyperplane ENIs, no endpoint service): REST APIs may use
        # them since November 2025, with an integration_target on each integration.
        return _http_link(ctx, name, node, path, account, topology)
    issues_before = len(ctx.issues)
    for key in v2_keys:
        ctx.error(
            view.path_of(key),
            view.key_node(key),
            f"{key} belongs to a VPC link V2 ({{vpc, subnets, security_groups}}); this link "
            "has `target`, which makes it V1 ({target: <vpc>/<nlb>}, an endpoint service in "
            "front of one NLB): write one form or the other",
        )
    view.check_keys((*REST_LINK_KEYS, *HTTP_LINK_KEYS), required=REST_LINK_KEYS)
    target = None
    target_node = view.get("target")
    if isinstance(target_node, SequenceNode):
        ctx.error(
            view.path_of("target"),
            target_node,
            "a REST VPC link targets exactly one NLB: write target: <vpc>/<nlb>",
        )
    elif target_node is not None:
        target = _rest_link_target(
            ctx, target_node, view.path_of("target"), account, topology, shared
        )
    if target is not None and target_node is not None:
        if target in targets:
            ctx.error(
                view.path_of("target"),
                target_node,
                f"VPC link {targets[target]!r} already targets {target}: each REST VPC link "
                "puts an endpoint service on its NLB, and AWS refuses a second "
                f"({privatelink.AWS_ONE_SERVICE}); routes of one API share one link",
            )
            target = None
        else:
            targets[target] = name
    if len(ctx.issues) > issues_before or target is None:
        return None
    return VpcLink(name, target=target)


def _rest_link_target(
    ctx: Ctx, node: Node, path: str, account: str, topology: Topology, shared: Shared
) -> str | None:
    text = ctx.text(node, path, "<vpc>/<nlb>")
    if text is None:
        return None
    vpc_name, slash, lb = text.partition("/")
    if not slash or not vpc_name or not lb or "/" in lb:
        ctx.error(path, node, f"target {text!r} is not <vpc>/<nlb>")
        return None
    vpc = refs.vpc(ctx, vpc_name, node, path, topology)
    if vpc is None:
        return None
    on_alb = (
        ": REST API VPC links support only Network Load Balancers (AWS; V2 links, which "
        "reach ALBs, are not emulated)"
    )
    if loadbalancers.nlb_status(ctx, lb, vpc, node, path, on_alb=on_alb) != "found":
        return None
    if vpc.account != account:
        ctx.error(
            path,
            node,
            f"NLB {text} belongs to account {vpc.account!r} and the API to {account!r}; AWS: "
            "the Network Load Balancer and the API must be owned by the same account",
        )
        return None
    if text in shared.fronted:
        ctx.error(
            path,
            node,
            f"NLB {text} is already behind endpoint service {shared.fronted[text]}; a VPC link "
            f"adds its own and AWS refuses: {privatelink.AWS_ONE_SERVICE}",
        )
        return None
    return text


def _http_link(
    ctx: Ctx, name: str, node: Node, path: str, account: str, topology: Topology
) -> VpcLink | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    if "target" in view:
        ctx.error(
            view.path_of("target"),
            view.key_node("target"),
            "target is for REST API VPC links (V1); an HTTP API's link is {vpc, subnets, "
            "security_groups} and each integration names its backend",
        )
    view.check_keys((*REST_LINK_KEYS, *HTTP_LINK_KEYS), required=("vpc", "subnets"))
    vpc: Vpc | None = None
    vpc_name = None
    vpc_node = view.get("vpc")
    if vpc_node is not None:
        vpc_name = ctx.text(vpc_node, view.path_of("vpc"), "a VPC name")
        if vpc_name is not None:
            vpc = refs.vpc(ctx, vpc_name, vpc_node, view.path_of("vpc"), topology)
    if vpc is not None and vpc_node is not None and vpc.account != account:
        ctx.error(
            view.path_of("vpc"),
            vpc_node,
            f"VPC {vpc.name!r} belongs to account {vpc.account!r} and the API to {account!r}; "
            "a VPC link's subnets are in the API's account",
        )
        vpc = None
    subnets: tuple[str, ...] | None = None
    subnets_node = view.get("subnets")
    if subnets_node is not None:
        subnets = _link_subnets(ctx, subnets_node, view.path_of("subnets"), vpc)
    groups: tuple[str, ...] = ()
    groups_node = view.get("security_groups")
    if groups_node is not None and vpc is not None:
        groups = refs.group_list(ctx, groups_node, view.path_of("security_groups"), vpc) or ()
    elif groups_node is not None:
        ctx.sequence(groups_node, view.path_of("security_groups"))
    elif vpc is not None:
        groups = (DEFAULT_GROUP,)  # none written: the VPC's default group, as on AWS
    if len(ctx.issues) > issues_before or vpc is None or subnets is None:
        return None
    return VpcLink(name, vpc=vpc.name, subnets=subnets, security_groups=groups)


def _link_subnets(ctx: Ctx, node: Node, path: str, vpc: Vpc | None) -> tuple[str, ...] | None:
    """Subnets of the link's VPC, 1 to 10 (AWS's quota); several per AZ are fine."""
    items = ctx.sequence(node, path)
    if items is None:
        return None
    if not 1 <= len(items) <= MAX_LINK_SUBNETS:
        ctx.error(path, node, f"a VPC link needs 1 to {MAX_LINK_SUBNETS} subnets, not {len(items)}")
        return None
    result: list[str] = []
    for item_path, item in items:
        subnet = ctx.text(item, item_path, "a subnet name")
        if subnet is None:
            continue
        if subnet in result:
            ctx.error(item_path, item, f"subnet {subnet!r} is listed twice")
        elif vpc is not None and subnet not in vpc.subnets:
            ctx.error(
                item_path,
                item,
                f"no subnet {subnet!r} in VPC {vpc.name!r}{did_you_mean(subnet, vpc.subnets)}",
            )
        else:
            result.append(subnet)
    return tuple(result) if len(result) == len(items) else None
