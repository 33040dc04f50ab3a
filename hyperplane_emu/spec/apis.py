"""The top-level `apis` section: API Gateway REST APIs (v1) and HTTP APIs (v2).

An API has a type, an endpoint type, an owning account, an optional resource
policy (`apipolicy`), VPC links (`apilinks`), stages (`apistages`) and routes
(`apiroutes`); this module reads the API itself and ties those together.

AWS facts behind the checks (API Gateway Developer Guide: "Private REST APIs"):
- REST endpoint types regional, private, edge (edge is not emulated: no
  CloudFront); HTTP APIs are regional only, so a private API is a REST API;
- a private REST API without a resource policy cannot be deployed (CreateDeployment:
  "Private REST API doesn't have a resource policy attached to it"; Developer Guide,
  "Create and attach an API Gateway resource policy to an API").
"""

from __future__ import annotations

import dataclasses
from typing import Literal, cast

from yaml.nodes import MappingNode, Node

from hyperplane_emu.spec import (
    apiendpoints,
    apilinks,
    apipolicy,
    apiroutes,
    apistages,
    names,
    privatelink,
    refs,
)
from hyperplane_emu.spec.apiscope import ApiScope
from hyperplane_emu.spec.model import Api, PolicyStatement, Route, Topology, VpcLink
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
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


@topology_section("apis")
def parse_apis(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
    view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, view)
    if view is None:
        return topology
    shared = apilinks.Shared(apilinks.fronted_nlbs(topology))
    result: dict[str, Api] = {}
    for key, api_path, api_node in view.items():
        good_name = names.name(ctx, key, view.key_node(key), api_path, "API")
        api = _api(ctx, key, api_node, api_path, topology, shared)
        if good_name and api is not None:
            result[key] = api
    return dataclasses.replace(topology, apis=result)


def _api(
    ctx: Ctx, name: str, node: Node, path: str, topology: Topology, shared: apilinks.Shared
) -> Api | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(API_KEYS, required=("type", "stages"))

    api_type: str | None = refs.key_choice(
        ctx, view, "type", None, "API type", API_TYPES, API_TYPES_NOT_EMULATED
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
    links = apilinks.parse_vpc_links(ctx, view, api_type, account, topology, shared)
    scope = ApiScope(
        api=name,
        type=cast(Literal["rest", "http"] | None, api_type),
        links=links,
        declared_links=ctx.declared.get(apilinks.links_path(path)),
        topology=topology,
    )
    routes: tuple[Route, ...] | None = ()
    routes_node = view.get("routes")
    if routes_node is not None:
        routes = apiroutes.parse_routes(ctx, routes_node, view.path_of("routes"), scope)
    stages = apistages.parse_stages(ctx, view, api_type)
    if stages is not None:
        apistages.check_stage_variables(ctx, stages, scope)

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
    scope: ApiScope,
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
        links_view = MapView(ctx, links_node, apilinks.links_path(path))
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
