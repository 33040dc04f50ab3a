"""APIs defined by an OpenAPI `Body` (what SAM writes, imported APIs) -> routes.

The `x-amazon-apigateway-integration` extension of each operation is read as the
Integration resource it stands for (apigw_integrations.py).
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.cfn.apigw_integrations import rest_integration, v2_integration
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.translate import Translator

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


def openapi_routes(
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
                got = rest_integration(tr, res, spec, ipath, api, "rest")
            else:
                got = v2_integration(tr, res, spec, ipath, api)
            if got is None:
                continue
            key = route_path if route_path == "$default" else f"{method} {route_path}"
            api["routes"][key] = {"integration": got}
            tr.prov(f"{api_path}.routes.{key}.integration", ipath)
