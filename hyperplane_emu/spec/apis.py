"""The top-level `apis` section: API Gateway REST APIs (v1) and HTTP APIs (v2).

An API has a type, an endpoint type, an owning account, an optional resource
policy (`apipolicy`), VPC links, stages and routes (`apiroutes`).

AWS facts behind the checks (API Gateway Developer Guide: "Private REST APIs",
"Set up VPC links V1", "VPC links for HTTP APIs", stage variables, quotas):
- REST endpoint types regional, private, edge (edge is not emulated: no
  CloudFront); HTTP APIs are regional only, so a private API is a REST API;
- a private REST API without a resource policy cannot be deployed (CreateDeployment:
  "Private REST API doesn't have a resource policy attached to it"; Developer Guide,
  "Create and attach an API Gateway resource policy to an API");
- a REST VPC link (V1) targets exactly one Network Load Balancer, owned by the
  API's account; it puts an endpoint service on that NLB, and an NLB is behind
  one endpoint service at most (AWS_ONE_SERVICE, AWS's error as API Gateway shows
  it on a link that cannot be created); two APIs' links to one NLB stand for one
  shared AWS VPC link (REST APIs may share a link);
- an HTTP API VPC link (V2) has subnets (at most 10) and security groups of one
  VPC of the API's account;
- stage names are [A-Za-z0-9_-], 1-128 characters (`$default` on HTTP APIs);
  stage variable names [A-Za-z0-9_], values [A-Za-z0-9-._~:/?#&=,] up to 512.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec import (
    apiendpoints,
    apipolicy,
    apiroutes,
    loadbalancers,
    names,
    privatelink,
    refs,
)
from hyperplane_emu.spec.model import Api, PolicyStatement, Route, Stage, Topology, Vpc, VpcLink
from hyperplane_emu.spec.nodes import NULL, Ctx, MapView, describe, did_you_mean
from hyperplane_emu.spec.secgroups import DEFAULT_GROUP
from hyperplane_emu.spec.sections import topology_section

API_KEYS = (
    "type",
    "endpoint",
    "account",
    "policy",
    "vpc_endpoint_ids",
    "vpc_links",
    "stages",
    "routes",
)
API_TYPES = ("rest", "http")
AWS_PRIVATE_NO_POLICY = "Private REST API doesn't have a resource policy attached to it"
API_TYPES_NOT_EMULATED = {"websocket": "WebSocket APIs are not emulated"}
ENDPOINT_TYPES = ("regional", "private")
ENDPOINT_TYPES_NOT_EMULATED = {
    "edge": "edge-optimized APIs are not emulated (no CloudFront); use regional",
}
REST_LINK_KEYS = ("target",)
HTTP_LINK_KEYS = ("vpc", "subnets", "security_groups")
MAX_LINK_SUBNETS = 10
STAGE_KEYS = ("variables",)
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
HTTP_DEFAULT_STAGE = "$default"
VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
VARIABLE_VALUE = re.compile(r"[A-Za-z0-9._~:/?#&=,-]{1,512}")
INT = "tag:yaml.org,2002:int"


def links_path(api_path: str) -> str:
    return f"{api_path}.vpc_links"


@dataclass
class _Shared:
    """What one API's checks need from the others and from the VPC sections."""

    fronted: dict[str, str]  # "<vpc>/<nlb>" -> the endpoint service in front of it


@dataclass(frozen=True)
class _StageEntry:
    stage: Stage
    path: str
    node: Node
    variable_nodes: dict[str, tuple[str, Node]]  # variable -> (path, value node)


@topology_section("apis")
def parse_apis(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
    view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, view)
    if view is None:
        return topology
    shared = _Shared(_fronted_nlbs(topology))
    result: dict[str, Api] = {}
    for key, api_path, api_node in view.items():
        good_name = names.name(ctx, key, view.key_node(key), api_path, "API")
        api = _api(ctx, key, api_node, api_path, topology, shared)
        if good_name and api is not None:
            result[key] = api
    return dataclasses.replace(topology, apis=result)


def _fronted_nlbs(topology: Topology) -> dict[str, str]:
    fronted: dict[str, str] = {}
    for vpc in topology.vpcs.values():
        for service in vpc.endpoint_services.values():
            fronted[f"{vpc.name}/{service.load_balancer}"] = f"{vpc.name}/{service.name}"
    return fronted


def _api(
    ctx: Ctx, name: str, node: Node, path: str, topology: Topology, shared: _Shared
) -> Api | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(API_KEYS, required=("type", "stages"))

    api_type: str | None = None
    type_node = view.get("type")
    if type_node is not None:
        api_type = refs.choice(
            ctx, type_node, view.path_of("type"), "API type", API_TYPES, API_TYPES_NOT_EMULATED
        )
    endpoint = _endpoint_type(ctx, view, api_type)
    account = _account(ctx, view, topology)

    policy: tuple[PolicyStatement, ...] | None = None
    policy_node = view.get("policy")
    if policy_node is not None and api_type == "http":
        ctx.error(
            view.path_of("policy"),
            policy_node,
            "HTTP APIs have no resource policy (AWS); a policy needs a REST API (type: rest)",
        )
    elif policy_node is not None:
        policy = apipolicy.parse_policy(ctx, policy_node, view.path_of("policy"), topology)

    vpc_endpoint_ids = apiendpoints.parse_vpc_endpoint_ids(ctx, view, api_type, endpoint, topology)
    links = _vpc_links(ctx, view, api_type, account, topology, shared)
    scope = apiroutes.ApiScope(
        api=name,
        type=cast(Literal["rest", "http"] | None, api_type),
        links=links,
        declared_links=ctx.declared.get(links_path(path)),
        topology=topology,
    )
    routes: tuple[Route, ...] | None = ()
    routes_node = view.get("routes")
    if routes_node is not None:
        routes = apiroutes.parse_routes(ctx, routes_node, view.path_of("routes"), scope)
    stages = _stages(ctx, view, api_type)
    if stages is not None:
        _check_stage_variables(ctx, stages, scope)

    if api_type == "rest" and endpoint == "private" and "policy" not in view:
        # AWS refuses the deployment itself (CreateDeployment), so no stage of it exists.
        ctx.error(
            view.path_of("policy"),
            view.node,
            f"{AWS_PRIVATE_NO_POLICY} (AWS refuses CreateDeployment; Developer Guide, "
            '"Create and attach an API Gateway resource policy": for a private API, you '
            "can't deploy your API without a resource policy): allow source_vpce of your "
            "execute-api endpoint",
        )
    _warn(ctx, view, path, api_type, endpoint, policy, routes, links, scope, topology)
    if (
        len(ctx.issues) > issues_before
        or api_type is None
        or endpoint is None
        or routes is None
        or stages is None
    ):
        return None
    return Api(
        name=name,
        type=cast(Literal["rest", "http"], api_type),
        endpoint=cast(Literal["regional", "private"], endpoint),
        policy=policy,
        vpc_links=links,
        stages={key: entry.stage for key, entry in stages.items()},
        routes=routes,
        account=account,
        vpc_endpoint_ids=vpc_endpoint_ids,
    )


def _endpoint_type(ctx: Ctx, view: MapView, api_type: str | None) -> str | None:
    node = view.get("endpoint")
    if node is None:
        return "regional"
    path = view.path_of("endpoint")
    if api_type == "http" and getattr(node, "value", None) in ("private", "edge"):
        ctx.error(
            path,
            node,
            f"HTTP APIs are regional only (AWS); {node.value} needs a REST API"
            + (": set type: rest for a private API" if node.value == "private" else ""),
        )
        return None
    return refs.choice(
        ctx, node, path, "endpoint type", ENDPOINT_TYPES, ENDPOINT_TYPES_NOT_EMULATED
    )


def _account(ctx: Ctx, view: MapView, topology: Topology) -> str:
    node = view.get("account")
    if node is None:
        return Api.account
    path = view.path_of("account")
    text = ctx.text(node, path, "an account key")
    if text is not None and text not in topology.accounts:
        ctx.error(
            path, node, f"no account {text!r} in accounts{did_you_mean(text, topology.accounts)}"
        )
    return text or Api.account


# -- VPC links ---------------------------------------------------------------------------


def _vpc_links(
    ctx: Ctx,
    view: MapView,
    api_type: str | None,
    account: str,
    topology: Topology,
    shared: _Shared,
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
    shared: _Shared,
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
    ctx: Ctx, node: Node, path: str, account: str, topology: Topology, shared: _Shared
) -> str | None:
    text = ctx.text(node, path, "<vpc>/<nlb>")
    if text is None:
        return None
    vpc_name, slash, lb = text.partition("/")
    if not slash or not vpc_name or not lb or "/" in lb:
        ctx.error(path, node, f"target {text!r} is not <vpc>/<nlb>")
        return None
    vpc = _vpc_ref(ctx, vpc_name, node, path, topology)
    if vpc is None:
        return None
    lbs_path = loadbalancers.section_path(f"vpcs.{vpc_name}")
    if lb in (ctx.declared.get(lbs_path + loadbalancers.APPLICATION_KEY) or ()):
        ctx.error(
            path,
            node,
            f"{lb!r} is an application load balancer: REST API VPC links support only "
            "Network Load Balancers (AWS; V2 links, which reach ALBs, are not emulated)",
        )
        return None
    found = refs.status(ctx, lbs_path, lb, vpc.load_balancers)
    if found == "missing":
        ctx.error(
            path,
            node,
            f"no load balancer {lb!r} in VPC {vpc_name!r}{did_you_mean(lb, vpc.load_balancers)}",
        )
        return None
    if found == "broken":
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


def _vpc_ref(ctx: Ctx, vpc_name: str, node: Node, path: str, topology: Topology) -> Vpc | None:
    """The VPC, or None: missing (reported) or broken (its own errors say why)."""
    vpc = topology.vpcs.get(vpc_name)
    if vpc is None:
        declared = ctx.declared.get("vpcs", frozenset())
        if declared is not None and vpc_name not in declared:
            ctx.error(path, node, f"no VPC {vpc_name!r}{did_you_mean(vpc_name, declared)}")
    return vpc


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
            vpc = _vpc_ref(ctx, vpc_name, vpc_node, view.path_of("vpc"), topology)
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


# -- stages ------------------------------------------------------------------------------


def _stages(ctx: Ctx, view: MapView, api_type: str | None) -> dict[str, _StageEntry] | None:
    """Stage name -> entry; a list of names or a mapping name -> {variables}."""
    node = view.get("stages")
    if node is None:
        return None
    path = view.path_of("stages")
    issues_before = len(ctx.issues)
    entries: list[tuple[str, str, Node, Node | None]] = []  # name, path, node, value
    if isinstance(node, SequenceNode):
        for item_path, item in ctx.sequence(node, path) or []:
            text = ctx.text(item, item_path, "a stage name")
            if text is not None:
                entries.append((text, item_path, item, None))
    elif isinstance(node, MappingNode):
        stages_view = MapView(ctx, node, path)
        entries = [(k, p, stages_view.key_node(k), v) for k, p, v in stages_view.items()]
    else:
        ctx.error(path, node, f"expected a list of stage names or a mapping, got {describe(node)}")
        return None
    if not entries and len(ctx.issues) == issues_before:
        ctx.error(path, node, "at least one stage is needed (an API is invoked through a stage)")
    result: dict[str, _StageEntry] = {}
    for name, stage_path, stage_node, value in entries:
        good_name = _stage_name(ctx, name, stage_node, stage_path, api_type)
        if name in result:
            ctx.error(stage_path, stage_node, f"stage {name!r} is listed twice")
            continue
        variables: dict[str, tuple[str, Node]] | None = {}
        if value is not None:
            variables = _stage_value(ctx, value, stage_path)
        if good_name and variables is not None:
            stage = Stage(name, {k: _variable_text(v) for k, (_, v) in variables.items()})
            result[name] = _StageEntry(stage, stage_path, stage_node, variables)
    return result if len(ctx.issues) == issues_before else None


def _stage_name(ctx: Ctx, name: str, node: Node, path: str, api_type: str | None) -> bool:
    if name == HTTP_DEFAULT_STAGE and api_type != "rest":
        return True
    if STAGE_NAME.fullmatch(name):
        return True
    if name == HTTP_DEFAULT_STAGE:
        message = "'$default' is an HTTP API stage; REST stage names are [A-Za-z0-9_-]"
    else:
        message = f"stage name {name!r} must be 1-128 characters of [A-Za-z0-9_-]"
    ctx.error(path, node, message)
    return False


def _stage_value(ctx: Ctx, node: Node, path: str) -> dict[str, tuple[str, Node]] | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    view.check_keys(STAGE_KEYS)
    variables_node = view.get("variables")
    if variables_node is None:
        return {}
    variables_view = ctx.mapping(variables_node, view.path_of("variables"), null_ok=True)
    if variables_view is None:
        return None
    result: dict[str, tuple[str, Node]] = {}
    for key, var_path, var_node in variables_view.items():
        if not VARIABLE_NAME.fullmatch(key):
            ctx.error(
                var_path,
                variables_view.key_node(key),
                f"stage variable name {key!r} must be 1-64 characters of [A-Za-z0-9_]",
            )
            continue
        if _variable_value(ctx, var_node, var_path):
            result[key] = (var_path, var_node)
    return result


def _variable_value(ctx: Ctx, node: Node, path: str) -> bool:
    """A string (or an integer, kept as written) of AWS's allowed characters."""
    if isinstance(node, ScalarNode) and node.tag == INT:
        return True
    if isinstance(node, ScalarNode) and node.tag == NULL:
        ctx.error(path, node, "a stage variable needs a value")
        return False
    text = ctx.text(node, path, "a string")
    if text is None:
        return False
    if not VARIABLE_VALUE.fullmatch(text):
        ctx.error(
            path,
            node,
            f"stage variable value {text!r} must be 1-512 characters of "
            "letters, digits and - . _ ~ : / ? # & = ,",
        )
        return False
    return True


def _variable_text(node: Node) -> str:
    return str(node.value)  # integers as written: 08080 stays 08080


def _check_stage_variables(
    ctx: Ctx, stages: dict[str, _StageEntry], scope: apiroutes.ApiScope
) -> None:
    """Every stage defines the variables routes use; those used as connection_id name
    a VPC link of the API. One issue per stage and variable."""
    for entry in stages.values():
        reported: set[str] = set()
        for use in scope.variable_uses:
            if use.name in reported:
                continue
            value = entry.stage.variables.get(use.name)
            if value is None:
                reported.add(use.name)
                ctx.error(
                    entry.path,
                    entry.node,
                    f"stage {entry.stage.name!r} does not define variable {use.name!r}, "
                    f"used by route {use.route!r}",
                )
            elif use.as_link:
                reported.add(use.name)
                status = scope.link_status(value)
                if status == "missing":
                    var_path, var_node = entry.variable_nodes[use.name]
                    ctx.error(
                        var_path,
                        var_node,
                        f"{value!r} is not a VPC link of API {scope.api!r} (route {use.route!r} "
                        f"uses it as connection_id){did_you_mean(value, scope.links)}",
                    )
                else:
                    scope.used_links.add(value)


# -- warnings ----------------------------------------------------------------------------


def _warn(
    ctx: Ctx,
    view: MapView,
    path: str,
    api_type: str | None,
    endpoint: str | None,
    policy: tuple[PolicyStatement, ...] | None,
    routes: tuple[Route, ...] | None,
    links: dict[str, VpcLink],
    scope: apiroutes.ApiScope,
    topology: Topology,
) -> None:
    """Valid but surprising: each of these makes calls fail or a part unused."""
    private = api_type == "rest" and endpoint == "private"
    if private and policy is not None and not any(s.effect == "Allow" for s in policy):
        ctx.warn(
            view.path_of("policy"), view.get("policy"), "no statement allows: every call gets 403"
        )
    if private and not _has_execute_api_endpoint(topology):
        ctx.warn(
            view.path_of("endpoint"),
            view.get("endpoint"),
            "a private API is reached through an interface endpoint for execute-api, and "
            "no VPC of this file has one",
        )
    if policy is not None and endpoint == "regional" and any(s.source_vpce for s in policy):
        ctx.warn(
            view.path_of("policy"),
            view.get("policy"),
            "source_vpce never matches on a regional API: execute-api endpoints reach "
            "private APIs only",
        )
    if private and policy is not None and any(s.source_ip for s in policy):
        ctx.warn(
            view.path_of("policy"),
            view.get("policy"),
            "source_ip (aws:SourceIp) never matches on a private API: the endpoint rewrites "
            "the source; use vpc_source_ip (aws:VpcSourceIp)",
        )
    if routes == ():
        ctx.warn(
            view.path_of("routes"),
            view.get("routes") or view.node,
            "no routes: every call gets "
            + ("404 Not Found" if api_type == "http" else "403 Missing Authentication Token"),
        )
    links_node = view.get("vpc_links")
    if isinstance(links_node, MappingNode):
        links_view = MapView(ctx, links_node, links_path(path))
        for name in links:
            if name not in scope.used_links:
                ctx.warn(
                    links_view.path_of(name),
                    links_view.key_node(name),
                    f"VPC link {name!r} is used by no route",
                )


def _has_execute_api_endpoint(topology: Topology) -> bool:
    return any(
        endpoint.service == privatelink.EXECUTE_API
        for vpc in topology.vpcs.values()
        for endpoint in vpc.endpoints.values()
    )
