"""API Gateway integrations -> the backend a route reaches, and the VPC links it uses.

A private integration names a VPC link (listed under every API whose integrations
or stage variables name it) and a backend: an NLB for a REST link, a listener or a
Cloud Map service for an HTTP API link. Apart from apigw.py because it follows
references into ELB and Cloud Map resources, which change for their own reasons.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hyperplane_emu.cfn.ec2 import group_names, vpc_of
from hyperplane_emu.cfn.elbv2 import lb_entry
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import LB, LINK_V1, LINK_V2, LISTENER, SD_SERVICE, SUBNET
from hyperplane_emu.cfn.translate import Translator


def rest_integration(
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
        link = link_name(tr, spec.get("ConnectionId"), f"{path}.ConnectionId", api)
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
        lb = lb_key(tr, target, f"{path}.IntegrationTarget")
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


def link_name(tr: Translator, value: Any, path: str, api: dict[str, Any]) -> str | None:
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
        lb = lb_key(tr, arns[0], f"{p.path('TargetArns')}[0]")
        return {"target": lb} if lb else None
    p = Props(tr, link)
    subnets = p.refs("SubnetIds", SUBNET, required=True)
    vpcs = {vpc_of(tr, s.id) for s in subnets}
    if len(vpcs) != 1 or None in vpcs:
        if subnets:
            p.error("SubnetIds", "a VPC link's subnets are in one VPC of the template")
        return None
    groups = group_names(tr, p, "SecurityGroupIds")
    spec: dict[str, Any] = {"vpc": vpcs.pop(), "subnets": [tr.names[s.id] for s in subnets]}
    if groups:
        spec["security_groups"] = groups
    return spec


def lb_key(tr: Translator, value: Any, path: str) -> str | None:
    lb = tr.owner(value, path, (LB,), "load balancer ARN")
    if lb is None:
        return None
    found = lb_entry(tr, lb.id)
    return f"{found[0]}/{found[1]}" if found else None


def v2_integration(
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
        link = link_name(tr, spec.get("ConnectionId"), f"{path}.ConnectionId", api)
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
