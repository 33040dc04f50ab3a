"""API Gateway resources (REST and HTTP APIs) -> the topology's `apis`.

CloudFormation spreads an API over many resources (RestApi, Resource, Method,
Deployment, Stage; Api, Integration, Route, Stage); the topology keeps one API
per entry with its routes and stages. A REST resource tree becomes route paths
(`GET /orders/{id}`). This module owns the shape of an API entry; how an
integration reaches its backend is apigw_integrations.py, an OpenAPI `Body`
(what SAM writes) apigw_openapi.py, a resource policy apigw_policy.py.
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.cfn.apigw_integrations import link_name, rest_integration, v2_integration
from hyperplane_emu.cfn.apigw_openapi import openapi_routes
from hyperplane_emu.cfn.apigw_policy import resource_policy
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import (
    DEPLOYMENT,
    DEPLOYMENT_V2,
    HTTP,
    INTEGRATION,
    LINK_V1,
    LINK_V2,
    METHOD,
    RESOURCE,
    REST,
    ROUTE,
    STAGE,
    STAGE_V2,
)
from hyperplane_emu.cfn.translate import Translator


def translate_all(tr: Translator) -> None:
    by_type = tr.by_type
    apis = tr.apis
    for res in by_type.get(REST, []):
        tr.guarded(res, _rest_api)
    for res in by_type.get(HTTP, []):
        tr.guarded(res, _http_api)
    resources = by_type.get(RESOURCE, [])
    paths = (
        tr.guarded(resources[0], lambda tr, _: _resource_paths(tr, resources)) if resources else {}
    ) or {}
    for res in by_type.get(METHOD, []):
        tr.guarded(res, _method, paths)
    for res in by_type.get(DEPLOYMENT, []):
        tr.guarded(res, _deployment)
    for res in by_type.get(STAGE, []) + by_type.get(STAGE_V2, []):
        tr.guarded(res, _stage)
    for res in by_type.get(ROUTE, []):
        tr.guarded(res, _route)
    for res in by_type.get(DEPLOYMENT_V2, []):
        Props(tr, res)
    used = {link for _, api in apis.values() for link in api.get("vpc_links", {})}
    for res in by_type.get(LINK_V1, []) + by_type.get(LINK_V2, []):
        if tr.names[res.id] not in used:
            tr.ignore(f"{res.path}: VPC link used by no integration")
    for logical, (_, api) in apis.items():
        if not api["stages"]:
            res = tr.stack.resources[logical]
            tr.error(
                res.path,
                "the API has no stage (AWS::ApiGateway::Stage, a Deployment with "
                "StageName, or AWS::ApiGatewayV2::Stage): AWS cannot invoke it, so "
                "nothing would be emulated",
            )
        if not api["vpc_links"]:
            del api["vpc_links"]


def _api_entry(tr: Translator, res: Resource, api: dict[str, Any]) -> None:
    name = tr.names[res.id]
    tr.topology.setdefault("apis", {})[name] = api
    tr.apis[res.id] = (f"apis.{name}", api)
    tr.where(res.id, f"apis.{name}")


def _api_of(tr: Translator, p: Props, key: str, rtype: str) -> tuple[str, dict[str, Any]] | None:
    res = p.ref(key, rtype, required=True)
    if res is None or res.id not in tr.apis:
        return None
    return tr.apis[res.id]


# -- REST APIs --------------------------------------------------------------------


def _rest_api(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    if p.has("BodyS3Location"):
        p.error("BodyS3Location", "an OpenAPI body in S3 cannot be read; inline it as Body")
    types = [str(t).upper() for t in p.mapping("EndpointConfiguration").get("Types", [])]
    body = p.mapping("Body")
    ext_cfg = body.get("x-amazon-apigateway-endpoint-configuration") or {}
    if not types and isinstance(ext_cfg, dict) and ext_cfg.get("types"):
        types = [str(t).upper() for t in ext_cfg["types"]]
    endpoint = "regional"
    if "PRIVATE" in types:
        endpoint = "private"
    elif "REGIONAL" not in types:
        tr.skip(
            res,
            "edge-optimized endpoint (CloudFormation's default when "
            "EndpointConfiguration is absent) needs CloudFront: emulated as regional",
        )
    if p.mapping("EndpointConfiguration").get("VpcEndpointIds"):
        tr.ignore(
            f"{p.path('EndpointConfiguration')}.VpcEndpointIds: the endpoint-specific "
            "names (<api-id>-<vpce-id>) always resolve in the emulator"
        )
    api: dict[str, Any] = {
        "type": "rest",
        "endpoint": endpoint,
        "vpc_links": {},
        "stages": {},
        "routes": {},
    }
    policy = p.raw("Policy")
    if policy is None and "x-amazon-apigateway-policy" in body:
        policy = body["x-amazon-apigateway-policy"]
    if policy is not None:
        api["policy"] = resource_policy(tr, policy, p.path("Policy"))
    _api_entry(tr, res, api)
    tr.prov(f"apis.{tr.names[res.id]}.policy", p.path("Policy"))
    if body:
        openapi_routes(tr, res, body, api, p.path("Body"), "rest")


def _resource_paths(tr: Translator, resources: list[Resource]) -> dict[str, tuple[str, str]]:
    """Resource logical id -> (REST API logical id, full path), walking ParentId chains."""
    tokens = tr.stack.tokens
    raw = {r.id: Props(tr, r) for r in resources}
    out: dict[str, tuple[str, str]] = {}

    def resolve(logical: str, seen: tuple[str, ...]) -> tuple[str, str] | None:
        if logical in out:
            return out[logical]
        p = raw[logical]
        api = p.ref("RestApiId", REST, required=True)
        part = p.string("PathPart", required=True)
        parent = p.raw("ParentId", required=True)
        if api is None or part is None or parent is None:
            return None
        owner = tokens.owner.get(str(parent))
        if owner is None:
            p.error(
                "ParentId",
                f"{parent!r} is not a resource of this template (Fn::GetAtt "
                "Api.RootResourceId or Ref to an AWS::ApiGateway::Resource)",
            )
            return None
        if owner[1] == "RootResourceId":
            if owner[0] != api.id:
                p.error("ParentId", f"the root of {owner[0]}, not of {api.id}")
                return None
            got = (api.id, "/" + part)
        elif owner[0] in raw and owner[0] not in seen:
            up = resolve(owner[0], (*seen, logical))
            if up is None:
                return None
            got = (api.id, up[1].rstrip("/") + "/" + part)
        else:
            p.error("ParentId", f"refers to {owner[0]}, not an API resource")
            return None
        out[logical] = got
        return got

    for logical in raw:
        resolve(logical, ())
    return out


def _method(tr: Translator, res: Resource, paths: dict[str, tuple[str, str]]) -> None:
    p = Props(tr, res)
    found = _api_of(tr, p, "RestApiId", REST)
    method = (p.string("HttpMethod", required=True) or "").upper()
    if found is None or not method:
        return
    api_path, api = found
    auth = (p.string("AuthorizationType") or "NONE").upper()
    if auth != "NONE":
        tr.skip(
            res,
            f"AuthorizationType {auth} is not emulated: the method is open "
            "(AWS would refuse unsigned or unauthorized calls)",
        )
    resource_id = p.raw("ResourceId", required=True)
    owner = tr.stack.tokens.owner.get(str(resource_id))
    if owner is None:
        p.error("ResourceId", f"{resource_id!r} is not a resource of this template")
        return
    if owner[1] == "RootResourceId":
        route_path = "/"
    elif owner[0] in paths:
        route_path = paths[owner[0]][1]
    else:
        return
    integration = p.mapping("Integration")
    if not integration:
        tr.skip(res, "a method without Integration answers nothing")
        return
    got = rest_integration(tr, res, integration, p.path("Integration"), api, "rest")
    if got is None:
        return
    key = f"{method} {route_path}"
    api["routes"][key] = {"integration": got}
    tr.where(res.id, f"{api_path}.routes.{key}")
    tr.prov(f"{api_path}.routes.{key}.integration", p.path("Integration"))


def _deployment(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    found = _api_of(tr, p, "RestApiId", REST)
    stage = p.string("StageName")
    if found is None or not stage:
        return
    variables = p.mapping("StageDescription").get("Variables") or {}
    _add_stage(tr, found, stage, variables, p.path("StageDescription"))


def _stage(tr: Translator, res: Resource) -> None:
    v2 = res.type == STAGE_V2
    p = Props(tr, res)
    found = _api_of(tr, p, "ApiId" if v2 else "RestApiId", HTTP if v2 else REST)
    stage = p.string("StageName", required=True)
    if found is None or not stage:
        return
    key = "StageVariables" if v2 else "Variables"
    _add_stage(tr, found, stage, p.mapping(key), p.path(key))
    tr.where(res.id, f"{found[0]}.stages.{stage}")


def _add_stage(
    tr: Translator,
    found: tuple[str, dict[str, Any]],
    stage: str,
    variables: dict[str, Any],
    path: str,
) -> None:
    api_path, api = found
    values: dict[str, str] = {}
    for name, value in variables.items():
        owner = tr.stack.tokens.owner.get(str(value))
        if owner is not None and tr.stack.resources[owner[0]].type in (LINK_V1, LINK_V2):
            # `vpcLinkId: !Ref Link` names the link; the topology names it too.
            link = link_name(tr, value, f"{path}.{name}", api)
            values[name] = link or ""
        else:
            values[name] = str(value)
    api["stages"][stage] = {"variables": values} if values else {}
    tr.prov(f"{api_path}.stages.{stage}", path)


# -- HTTP APIs ----------------------------------------------------------------------


def _http_api(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    body = p.mapping("Body")
    protocol = (p.string("ProtocolType") or ("HTTP" if body else "")).upper()
    if protocol != "HTTP":
        tr.skip(res, f"{protocol or 'missing'} ProtocolType: WebSocket APIs are not emulated")
        return
    api: dict[str, Any] = {"type": "http", "vpc_links": {}, "stages": {}, "routes": {}}
    _api_entry(tr, res, api)
    target = p.string("Target")
    if target:
        # Quick create: one route (RouteKey, default $default) and the $default stage.
        if not target.startswith(("http://", "https://")):
            tr.skip(res, "quick-create Target is not an HTTP URL (Lambda is not emulated)")
        else:
            api["routes"][p.string("RouteKey") or "$default"] = {"integration": {"uri": target}}
            api["stages"]["$default"] = {}
    if body:
        openapi_routes(tr, res, body, api, p.path("Body"), "http")


def _http_integration(tr: Translator, res: Resource, api: dict[str, Any]) -> dict[str, Any] | None:
    p = Props(tr, res)
    return v2_integration(tr, res, p.values, p.base, api)


def _route(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    found = _api_of(tr, p, "ApiId", HTTP)
    key = p.string("RouteKey", required=True)
    if found is None or not key:
        return
    api_path, api = found
    auth = (p.string("AuthorizationType") or "NONE").upper()
    if auth != "NONE":
        tr.skip(res, f"AuthorizationType {auth} is not emulated: the route is open")
    target = p.string("Target")
    if not target:
        tr.skip(res, "a route without Target has no integration (AWS answers 404)")
        return
    if not target.startswith("integrations/"):
        p.error("Target", f"expected integrations/<IntegrationId>, got {target!r}")
        return
    integration = tr.owner(target.split("/", 1)[1], p.path("Target"), (INTEGRATION,))
    if integration is None:
        return
    got = _http_integration(tr, integration, api)
    if got is None:
        return
    api["routes"][key] = {"integration": got}
    tr.where(res.id, f"{api_path}.routes.{key}")
    tr.where(integration.id, f"{api_path}.routes.{key}.integration")
