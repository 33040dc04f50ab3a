"""API Gateway resources (REST and HTTP APIs, VPC links) -> the topology's `apis`.

CloudFormation spreads an API over many resources (RestApi, Resource, Method,
Deployment, Stage; Api, Integration, Route, Stage; VPC links shared by APIs);
the topology keeps one API per entry with its routes, stages and the links it
uses. A REST resource tree becomes route paths (`GET /orders/{id}`); a VPC link
is listed under every API whose integrations (or stage variables) name it.
APIs defined by an OpenAPI `Body` (what SAM writes) are read from the
`x-amazon-apigateway-*` extensions the same way.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.translate import Translator

REST = "AWS::ApiGateway::RestApi"
RESOURCE = "AWS::ApiGateway::Resource"
METHOD = "AWS::ApiGateway::Method"
DEPLOYMENT = "AWS::ApiGateway::Deployment"
STAGE = "AWS::ApiGateway::Stage"
LINK_V1 = "AWS::ApiGateway::VpcLink"
HTTP = "AWS::ApiGatewayV2::Api"
LINK_V2 = "AWS::ApiGatewayV2::VpcLink"
INTEGRATION = "AWS::ApiGatewayV2::Integration"
ROUTE = "AWS::ApiGatewayV2::Route"
STAGE_V2 = "AWS::ApiGatewayV2::Stage"
DEPLOYMENT_V2 = "AWS::ApiGatewayV2::Deployment"
API_TYPES = (
    REST,
    RESOURCE,
    METHOD,
    DEPLOYMENT,
    STAGE,
    LINK_V1,
    HTTP,
    LINK_V2,
    INTEGRATION,
    ROUTE,
    STAGE_V2,
    DEPLOYMENT_V2,
)
OPENAPI_METHODS = {
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "x-amazon-apigateway-any-method",
}


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
        api["policy"] = _policy(tr, policy, p.path("Policy"))
    _api_entry(tr, res, api)
    tr.prov(f"apis.{tr.names[res.id]}.policy", p.path("Policy"))
    if body:
        _openapi(tr, res, body, api, p.path("Body"), "rest")


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
    got = _integration(tr, res, integration, p.path("Integration"), api, "rest")
    if got is None:
        return
    key = f"{method} {route_path}"
    api["routes"][key] = {"integration": got}
    tr.where(res.id, f"{api_path}.routes.{key}")
    tr.prov(f"{api_path}.routes.{key}.integration", p.path("Integration"))


def _integration(
    tr: Translator,
    res: Resource,
    spec: dict[str, Any],
    path: str,
    api: dict[str, Any],
    api_type: str,
) -> dict[str, Any] | None:
    """REST `Integration` (CloudFormation or OpenAPI, keys capitalised) -> topology form."""
    itype = str(spec.get("Type", spec.get("IntegrationType", ""))).upper()
    if itype in ("AWS", "AWS_PROXY"):
        tr.skip(
            res,
            f"{itype} integrations (Lambda, AWS services) are not emulated; the route is left out",
        )
        return None
    if itype not in ("HTTP_PROXY", "HTTP", "MOCK"):
        tr.error(
            f"{path}.Type",
            f"integration type {itype or 'missing'}: HTTP_PROXY, HTTP or MOCK are emulated",
        )
        return None
    out: dict[str, Any] = {"type": itype}
    if itype == "MOCK":
        status = 200
        template = (spec.get("RequestTemplates") or {}).get("application/json")
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            status = int(json.loads(template).get("statusCode", 200)) if template else 200
        responses = spec.get("IntegrationResponses") or []
        if responses and isinstance(responses[0], dict):
            first = responses[0]
            status = int(str(first.get("StatusCode", status)))
            body = (first.get("ResponseTemplates") or {}).get("application/json")
            if body:
                out["mock_body"] = str(body)
        out["mock_status"] = status
        return out
    connection = str(spec.get("ConnectionType", "INTERNET")).upper()
    if connection == "VPC_LINK":
        link = _link(tr, spec.get("ConnectionId"), f"{path}.ConnectionId", api)
        if link is None:
            return None
        out["connection_type"] = "VPC_LINK"
        out["connection_id"] = link
    uri = spec.get("Uri", spec.get("IntegrationUri"))
    if uri is not None:
        out["uri"] = str(uri)
    if "TimeoutInMillis" in spec:
        out["timeout_ms"] = int(str(spec["TimeoutInMillis"]))
    target = spec.get("IntegrationTarget")
    if target is not None:
        lb = _lb_key(tr, target, f"{path}.IntegrationTarget")
        if lb is None:
            return None
        out["integration_target"] = lb
    for key in (
        "RequestParameters",
        "RequestTemplates",
        "PassthroughBehavior",
        "IntegrationResponses",
        "CacheKeyParameters",
        "ContentHandling",
    ):
        if spec.get(key):
            tr.ignore(f"integration {key}: not emulated (requests pass through as they are)")
    return out


def _link(tr: Translator, value: Any, path: str, api: dict[str, Any]) -> str | None:
    """A ConnectionId -> the link's name in this API (added to its vpc_links)."""
    text = str(value) if value is not None else ""
    if text.startswith("${stageVariables."):
        return text
    link = tr.owner(value, path, (LINK_V1, LINK_V2), "VPC link")
    if link is None:
        return None
    name = tr.names[link.id]
    if name not in api["vpc_links"]:
        spec = _link_spec(tr, link)
        if spec is None:
            return None
        api["vpc_links"][name] = spec
        for api_path, entry in tr.apis.values():
            if entry is api:
                key = "TargetArns" if link.type == LINK_V1 else "SubnetIds"
                tr.prov(f"{api_path}.vpc_links.{name}", f"{link.path}.Properties.{key}")
    return name


def _link_spec(tr: Translator, link: Resource) -> dict[str, Any] | None:
    if link.type == LINK_V1:
        p = Props(tr, link)
        arns = p.items("TargetArns", required=True)
        if len(arns) != 1:
            if arns:
                p.error("TargetArns", "a REST VPC link targets exactly one NLB (AWS)")
            return None
        lb = _lb_key(tr, arns[0], f"{p.path('TargetArns')}[0]")
        return {"target": lb} if lb else None
    p = Props(tr, link)
    from hyperplane_emu.cfn.resources import SG, SUBNET, VPC, vpc_of

    subnets = p.refs("SubnetIds", SUBNET, required=True)
    vpcs = {vpc_of(tr, s.id) for s in subnets}
    if len(vpcs) != 1 or None in vpcs:
        if subnets:
            p.error("SubnetIds", "a VPC link's subnets are in one VPC of the template")
        return None
    groups = []
    for i, g in enumerate(p.items("SecurityGroupIds")):
        group = tr.owner(
            g, f"{p.path('SecurityGroupIds')}[{i}]", (SG, VPC), "AWS::EC2::SecurityGroup"
        )
        if group is not None:
            groups.append("default" if group.type == VPC else tr.names[group.id])
    spec: dict[str, Any] = {"vpc": vpcs.pop(), "subnets": [tr.names[s.id] for s in subnets]}
    if groups:
        spec["security_groups"] = groups
    return spec


def _lb_key(tr: Translator, value: Any, path: str) -> str | None:
    from hyperplane_emu.cfn.resources import LB, lb_entry

    lb = tr.owner(value, path, (LB,), "load balancer ARN")
    if lb is None:
        return None
    found = lb_entry(tr, lb.id)
    return f"{found[0]}/{found[1]}" if found else None


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
            link = _link(tr, value, f"{path}.{name}", api)
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
        _openapi(tr, res, body, api, p.path("Body"), "http")


def _http_integration(tr: Translator, res: Resource, api: dict[str, Any]) -> dict[str, Any] | None:
    p = Props(tr, res)
    return _v2_integration(tr, res, p.values, p.base, api)


def _v2_integration(
    tr: Translator, res: Resource, spec: dict[str, Any], path: str, api: dict[str, Any]
) -> dict[str, Any] | None:
    itype = str(spec.get("IntegrationType", spec.get("Type", ""))).upper()
    if itype == "AWS_PROXY":
        tr.skip(res, "AWS_PROXY (Lambda) integrations are not emulated; the route is left out")
        return None
    if itype != "HTTP_PROXY":
        tr.error(
            f"{path}.IntegrationType",
            f"integration type {itype or 'missing'}: HTTP APIs emulate HTTP_PROXY",
        )
        return None
    out: dict[str, Any] = {}
    uri = spec.get("IntegrationUri", spec.get("Uri"))
    if str(spec.get("ConnectionType", "INTERNET")).upper() == "VPC_LINK":
        link = _link(tr, spec.get("ConnectionId"), f"{path}.ConnectionId", api)
        if link is None:
            return None
        out["vpc_link"] = link
        backend = _backend(tr, uri, f"{path}.IntegrationUri")
        if backend is None:
            return None
        out["uri"] = backend
    elif uri is not None:
        out["uri"] = str(uri)
    if "TimeoutInMillis" in spec:
        out["timeout_ms"] = int(str(spec["TimeoutInMillis"]))
    params = spec.get("RequestParameters") or {}
    if isinstance(params, dict) and params:
        kept = {k: str(v) for k, v in params.items() if k == "overwrite:path"}
        if kept:
            out["request_parameters"] = kept
        if len(kept) != len(params):
            tr.ignore("HTTP API parameter mappings other than overwrite:path: not emulated")
    return out


def _backend(tr: Translator, uri: Any, path: str) -> str | None:
    """A private integration's IntegrationUri (listener ARN or Cloud Map service ARN)."""
    from hyperplane_emu.cfn.resources import LISTENER, SD_SERVICE

    target = tr.owner(
        uri, path, (LISTENER, SD_SERVICE), "load balancer listener ARN or Cloud Map service ARN"
    )
    if target is None:
        return None
    if target.type == LISTENER:
        ports = tr.listener_ports.get(target.id)
        if ports is None:
            return None
        vname, lb, port = ports
        return f"{vname}/{lb}:{port}"
    svc_path = tr.out.names.get(target.id)
    if svc_path is None:
        return None
    service = svc_path.split(".", 2)[2]
    namespace = tr.topology["cloud_map"]["services"][service]["namespace"]
    return f"cloud_map/{namespace}/{service}"


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


# -- resource policies ------------------------------------------------------------

CONDITION_MAP = {
    ("stringequals", "aws:sourcevpce"): "source_vpce",
    ("stringnotequals", "aws:sourcevpce"): "not_source_vpce",
    ("stringequals", "aws:sourcevpc"): "source_vpc",
    ("ipaddress", "aws:sourceip"): "source_ip",
    ("ipaddress", "aws:vpcsourceip"): "vpc_source_ip",
}


def _policy(tr: Translator, doc: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            tr.error(path, "the policy is not JSON")
            return []
    if not isinstance(doc, dict):
        tr.error(path, "a policy document is a mapping with Statement")
        return []
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = []
    for i, st in enumerate(statements if isinstance(statements, list) else []):
        spath = f"{path}.Statement[{i}]"
        if not isinstance(st, dict):
            tr.error(spath, "a statement is a mapping")
            continue
        got: dict[str, Any] = {"effect": str(st.get("Effect", ""))}
        actions = st.get("Action", "execute-api:Invoke")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(str(a).lower() in ("execute-api:invoke", "execute-api:*", "*") for a in actions):
            continue
        principal = st.get("Principal", "*")
        if principal not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
            tr.ignore(
                f"{spath}.Principal: IAM principals are not emulated (callers are "
                "anonymous); the statement applies to every caller"
            )
        resources = st.get("Resource", "*")
        resources = resources if isinstance(resources, list) else [resources]
        got["resources"] = [_resource_pattern(tr, str(r), f"{spath}.Resource") for r in resources]
        if got["resources"] == ["*"]:
            del got["resources"]
        for op, conds in (st.get("Condition") or {}).items():
            if not isinstance(conds, dict):
                continue
            for key, values in conds.items():
                topo_key = CONDITION_MAP.get((op.lower(), key.lower()))
                if topo_key is None:
                    tr.error(
                        f"{spath}.Condition.{op}.{key}",
                        f"condition {op} {key} is not "
                        "emulated (aws:SourceVpce, aws:SourceVpc, aws:SourceIp, "
                        "aws:VpcSourceIp)",
                    )
                    continue
                values = values if isinstance(values, list) else [values]
                got[topo_key] = [_policy_value(tr, str(v)) for v in values]
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in st:
                tr.error(f"{spath}.{key}", f"{key} is not emulated")
        out.append(got)
    return out


def _policy_value(tr: Translator, value: str) -> str:
    """A vpce-/vpc- stand-in id of this template -> the topology's `<vpc>/<endpoint>` or VPC."""
    owner = tr.stack.tokens.owner.get(value)
    if owner is None:
        return value
    path = tr.out.names.get(owner[0], "")
    parts = path.split(".")
    if len(parts) == 4 and parts[2] == "endpoints":
        return f"{parts[1]}/{parts[3]}"
    if len(parts) == 2 and parts[0] == "vpcs":
        return parts[1]
    return value


def _resource_pattern(tr: Translator, arn: str, path: str) -> str:
    """`execute-api:/*`, `execute-api:/prod/GET/orders`, `arn:aws:execute-api:…:id/*/GET/x`
    -> `*` or `GET /x` (the part after the stage, as the topology writes it)."""
    rest = arn.split("execute-api:", 1)[1] if "execute-api:" in arn else arn
    if not rest.startswith("/"):
        rest = "/" + rest.split("/", 1)[1] if "/" in rest else "/*"
    parts = rest.lstrip("/").split("/", 2)
    if len(parts) < 2 or (parts[1:] == ["*"] and len(parts) == 2):
        if parts[0] not in ("*", "") and len(parts) >= 1 and parts != ["*"]:
            tr.ignore(f"{path}: stage-specific resources are applied to every stage")
        return "*"
    stage, method = parts[0], parts[1]
    if stage != "*":
        tr.ignore(f"{path}: stage-specific resources are applied to every stage")
    sub = "/" + (parts[2] if len(parts) > 2 else "")
    if method == "*" and sub in ("/", "/*"):
        return "*"
    return f"{method.upper() if method != '*' else '*'} {sub if len(parts) > 2 else '/*'}"


# -- OpenAPI bodies (SAM, imported APIs) ---------------------------------------------


def _openapi(
    tr: Translator,
    res: Resource,
    body: dict[str, Any],
    api: dict[str, Any],
    path: str,
    api_type: str,
) -> None:
    api_path = tr.out.names[res.id]
    paths = body.get("paths") or {}
    if not isinstance(paths, dict):
        tr.error(f"{path}.paths", "expected a mapping of path -> operations")
        return
    for route_path, ops in paths.items():
        if not isinstance(ops, dict):
            continue
        for verb, op in ops.items():
            if verb not in OPENAPI_METHODS or not isinstance(op, dict):
                continue
            method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
            ipath = f"{path}.paths.{route_path}.{verb}.x-amazon-apigateway-integration"
            ext = op.get("x-amazon-apigateway-integration")
            if not isinstance(ext, dict):
                tr.skip(res, f"{method} {route_path} has no x-amazon-apigateway-integration")
                continue
            spec = {k[:1].upper() + k[1:]: v for k, v in ext.items()}
            if "Responses" in spec:
                spec["IntegrationResponses"] = [
                    {
                        "StatusCode": r.get("statusCode", 200),
                        "ResponseTemplates": r.get("responseTemplates", {}),
                    }
                    for r in (spec.pop("Responses") or {}).values()
                    if isinstance(r, dict)
                ]
            if api_type == "rest":
                got = _integration(tr, res, spec, ipath, api, "rest")
            else:
                got = _v2_integration(tr, res, spec, ipath, api)
            if got is None:
                continue
            key = route_path if route_path == "$default" else f"{method} {route_path}"
            api["routes"][key] = {"integration": got}
            tr.prov(f"{api_path}.routes.{key}.integration", ipath)
