"""HTTP API (`type: http`) entries of the config file -> `RestApi(type="http")`.

What differs from REST APIs (API Gateway Developer Guide, "HTTP APIs",
"Private integrations", "Parameter mapping"; quotas):

- regional only: HTTP APIs cannot be private (nor edge-optimized), and have no
  resource policies;
- stages may include `$default` (no path segment);
- routes: `METHOD /path` or the `$default` route; sibling `{a}`/`{b}` variables
  are allowed (routes are matched as keys, not a resource tree) but one method
  and one shape twice is a conflict;
- integrations: `HTTP_PROXY` only (the emulator has no Lambda), timeout
  50 ms … 30 s (default 30 s); over a VPC link the uri is what the spec wrote
  (a listener or `cloud_map/<ns>/<svc>[?attr=value]`, not routed) and
  `targets` say where to connect; `overwrite_path` is the `overwrite:path`
  mapping (`$request.path`, `$request.path.<name>`, `$stageVariables.<name>`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hyperplane_emu.services.apigateway.config import (
    _ACCOUNT,
    CONNECTION_TYPES,
    METHODS,
    STAGE_VAR_REF,
    TIMEOUT_MIN_MS,
    Integration,
    LinkTarget,
    RestApi,
    Route,
)
from hyperplane_emu.services.apigateway.httpapi import URI_PARAM, mapping_refs
from hyperplane_emu.services.apigateway.httproutes import DEFAULT, HttpRouteTable

if TYPE_CHECKING:
    from hyperplane_emu.services.apigateway.config import _Parser

HTTP_TIMEOUT_MAX_MS = 30_000  # HTTP API quota: integration timeout 30 s at most
HTTP_DEFAULT_TIMEOUT_MS = 30_000
TARGET_KINDS = ("alb", "nlb", "instance")
_PARAM_SEG = re.compile(r"^\{([A-Za-z0-9._-]+)\+?\}$")


class HttpApiParser:
    """Parses one HTTP API with the shared parser's helpers and error list."""

    def __init__(self, p: _Parser) -> None:
        self.p = p

    def api(
        self, api_id: str, a: Mapping[str, Any], region: str, path: str, before: int
    ) -> RestApi | None:
        p = self.p
        name = p.string(a, "name", path, default=api_id) or api_id
        endpoint = a.get("endpoint", "regional")
        if endpoint != "regional":
            p.err(
                f"{path}.endpoint",
                f"an HTTP API is regional, not {endpoint!r} (private and edge-optimized "
                "endpoints are REST API features)",
            )
        account = p.string(a, "account_id", path) or "000000000000"
        if not _ACCOUNT.match(account):
            p.err(f"{path}.account_id", f"must be 12 digits, not {account!r}")
        if a.get("policy") is not None:
            p.err(f"{path}.policy", "HTTP APIs have no resource policies")
        stages = p.stages(a, path, default_ok=True)
        links = p.vpc_links(a, path, address_required=False)
        routes = self.routes(a.get("routes", []), f"{path}.routes")
        if len(p.errors) != before:
            return None
        return RestApi(
            id=api_id,
            name=name,
            endpoint="regional",
            account_id=account,
            region=region,
            policy=None,
            stages=stages,
            routes=tuple(routes),
            vpc_links=links,
            type="http",
        )

    def routes(self, raw: Any, path: str) -> list[Route]:
        p = self.p
        if not isinstance(raw, list):
            p.err(path, "must be a list")
            return []
        table: HttpRouteTable[int] = HttpRouteTable()
        out: list[Route] = []
        for i, item in enumerate(raw):
            rpath = f"{path}[{i}]"
            r = p.obj(item, rpath)
            if not r:
                continue
            rp = r.get("path")
            # `$default` has no method of its own; the runtime writes ANY.
            method = str(r.get("method", "ANY")).upper()
            if method not in METHODS:
                p.err(f"{rpath}.method", f"must be one of {', '.join(METHODS)}")
                continue
            if not isinstance(rp, str):
                p.err(f"{rpath}.path", f"must be /… or $default, not {rp!r}")
                continue
            try:
                table.add(method, rp, i)
            except ValueError as e:
                p.err(f"{rpath}.path", str(e))
                continue
            integ = self.integration(r.get("integration"), f"{rpath}.integration", rp)
            if integ is not None:
                out.append(Route(method if rp != DEFAULT else "ANY", rp, integ))
        return out

    def integration(self, raw: Any, path: str, route_path: str) -> Integration | None:
        p = self.p
        before = len(p.errors)
        n = p.obj(raw, path)
        kind = n.get("type")
        if kind != "HTTP_PROXY":
            p.err(f"{path}.type", f"an HTTP API integration here is HTTP_PROXY, not {kind!r}")
            return None
        ctype = n.get("connection_type", "INTERNET")
        if ctype not in CONNECTION_TYPES:
            p.err(f"{path}.connection_type", f"must be one of {', '.join(CONNECTION_TYPES)}")
        cid = n.get("connection_id")
        if ctype == "VPC_LINK" and (not isinstance(cid, str) or not cid):
            p.err(f"{path}.connection_id", "VPC_LINK needs a connection_id")
        uri = n.get("uri")
        params = _route_params(route_path)
        if not isinstance(uri, str) or not uri:
            p.err(f"{path}.uri", "missing")
        elif ctype != "VPC_LINK":
            self.check_url(uri, f"{path}.uri", route_path, params)
        timeout = p.integer(
            n, "timeout_ms", path, HTTP_DEFAULT_TIMEOUT_MS, TIMEOUT_MIN_MS, HTTP_TIMEOUT_MAX_MS
        )
        overwrite = n.get("overwrite_path")
        if overwrite is not None:
            self.check_mapping(overwrite, f"{path}.overwrite_path", route_path, params)
        targets = self.targets(n.get("targets", []), f"{path}.targets")
        if len(p.errors) != before:
            return None
        return Integration(
            type="HTTP_PROXY",
            connection_type=str(ctype),
            connection_id=cid if isinstance(cid, str) else None,
            uri=uri if isinstance(uri, str) else None,
            timeout_ms=timeout,
            overwrite_path=overwrite if isinstance(overwrite, str) else None,
            targets=tuple(targets),
        )

    def check_url(self, uri: str, path: str, route_path: str, params: set[str]) -> None:
        probe = STAGE_VAR_REF.sub("stagevar", uri)
        m = re.match(r"^(https?)://([^/?#:]+)(?::([0-9]{1,5}))?([/?#].*)?$", probe)
        if m is None or not m.group(2):
            self.p.err(path, f"must be http(s)://host[:port]/path, not {uri!r}")
            return
        if m.group(3) and not 0 < int(m.group(3)) < 65536:
            self.p.err(path, f"port {m.group(3)} is out of range")
        for name in URI_PARAM.findall(probe):
            if name not in params:
                self.p.err(path, f"{{{name}}} is not a path parameter of {route_path}")

    def check_mapping(self, value: Any, path: str, route_path: str, params: set[str]) -> None:
        if not isinstance(value, str) or not value:
            self.p.err(path, f"must be a non-empty string, not {value!r}")
            return
        for ref in mapping_refs(value):
            if ref == "request.path" or ref.startswith("stageVariables."):
                continue
            if ref.startswith("request.path."):
                name = ref[len("request.path.") :]
                if name not in params:
                    self.p.err(path, f"${ref}: {name} is not a path parameter of {route_path}")
                continue
            self.p.err(path, f"${ref} is not emulated (only $request.path[.name] and "
                       "$stageVariables.name)")  # fmt: skip

    def targets(self, raw: Any, path: str) -> list[LinkTarget]:
        p = self.p
        if not isinstance(raw, list):
            p.err(path, "must be a list")
            return []
        out: list[LinkTarget] = []
        for i, item in enumerate(raw):
            tpath = f"{path}[{i}]"
            t = p.obj(item, tpath)
            if not t:
                continue
            address = p.ip(t.get("address"), f"{tpath}.address")
            port = p.integer(t, "port", tpath, 0, 1, 65535)
            host = t.get("host") or ""
            if not isinstance(host, str):
                p.err(f"{tpath}.host", "must be a string")
                host = ""
            kind = t.get("kind", "alb")
            if kind not in TARGET_KINDS:
                p.err(f"{tpath}.kind", f"must be one of {', '.join(TARGET_KINDS)}")
            attributes: dict[str, str] = {}
            for k, v in p.obj(t.get("attributes") or {}, f"{tpath}.attributes").items():
                if not isinstance(v, str):
                    p.err(f"{tpath}.attributes.{k}", "values are strings")
                    continue
                attributes[k] = v
            healthy = p.boolean(t, "healthy", tpath, True)
            if address is not None and port:
                out.append(LinkTarget(address, port, host, str(kind), attributes, healthy))
        return out


def _route_params(route_path: str) -> set[str]:
    if route_path == DEFAULT:
        return set()
    return {m.group(1) for seg in route_path.split("/") if (m := _PARAM_SEG.match(seg))}
