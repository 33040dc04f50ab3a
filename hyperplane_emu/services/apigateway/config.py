"""The data plane's configuration file (JSON written by the runtime) -> frozen dataclasses.

`load(path)` / `parse(obj)` raise `ConfigError` carrying every problem found,
each prefixed by its JSON path (`apis.a1b2c3d4e5.routes[0].integration.uri: ...`),
so a bad file is reported once, completely. See docs/apigateway.md for the format.
REST APIs (`type: rest`) and HTTP APIs (`type: http`) share the file; the
HTTP API specifics (routes, `$default`, VPC link targets) are checked by
`httpconfig`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hyperplane_emu.services.apigateway.policy import Policy, PolicyError, parse_policy
from hyperplane_emu.services.apigateway.router import ResourceTree

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY")
INTEGRATION_TYPES = ("HTTP_PROXY", "HTTP", "MOCK")
CONNECTION_TYPES = ("INTERNET", "VPC_LINK")
ENDPOINT_TYPES = ("private", "regional", "edge")
LINK_STATES = ("PENDING", "AVAILABLE", "DELETING", "FAILED")
TIMEOUT_MIN_MS = 50  # API Gateway quota: integration timeout 50 ms minimum
TIMEOUT_MAX_MS = 300_000  # raised quota allowed for Regional and private REST APIs since 2024
DEFAULT_TIMEOUT_MS = 29_000
DEFAULT_CONNECT_TIMEOUT_MS = 10_000
DEFAULT_IDLE_TIMEOUT_S = 120.0

_API_ID = re.compile(r"^[a-z0-9]{1,64}$")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # Developer Guide: stage name characters
_STAGE_VAR_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
STAGE_VAR_REF = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
URI_PARAM = re.compile(r"(?<!\$)\{([A-Za-z0-9._-]+)\}")
_ACCOUNT = re.compile(r"^[0-9]{12}$")


class ConfigError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Listener:
    ip: str
    port: int
    tls: bool


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str


@dataclass(frozen=True)
class EndpointInfo:
    """The interface endpoint a source address stands for (set by the fabric's rewrite)."""

    vpce: str
    vpc: str
    private_dns: bool = False


@dataclass(frozen=True)
class Integration:
    type: str  # HTTP_PROXY | HTTP | MOCK
    connection_type: str = "INTERNET"
    connection_id: str | None = None  # may hold ${stageVariables.x}
    uri: str | None = None  # may hold ${stageVariables.x} and {param}
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    mock_status: int = 200
    mock_body: str = ""
    overwrite_path: str | None = None  # HTTP APIs: the `overwrite:path` parameter mapping
    targets: tuple[LinkTarget, ...] = ()  # HTTP APIs over a VPC link: where it connects


@dataclass(frozen=True)
class LinkTarget:
    """One place an HTTP API's VPC link reaches for an integration (the runtime resolves it).

    `address:port` is the link's front address in API Gateway's VPC (the fabric
    translates it, VPC-to-VPC NAT, to the load balancer or instance); `host`
    is the load balancer's DNS name (TLS server name), `kind` alb / nlb /
    instance (a Cloud Map instance), `attributes` the instance's Cloud Map
    attributes (for the uri's query filters), `healthy` its health.
    """

    address: str
    port: int
    host: str = ""
    kind: str = "alb"
    attributes: Mapping[str, str] = field(default_factory=dict)
    healthy: bool = True


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    integration: Integration


@dataclass(frozen=True)
class Stage:
    name: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VpcLink:
    id: str
    name: str
    status: str
    address: str | None


@dataclass(frozen=True)
class RestApi:
    id: str
    name: str
    endpoint: str  # private | regional | edge
    account_id: str
    region: str
    policy: Policy | None
    stages: Mapping[str, Stage]
    routes: tuple[Route, ...]
    vpc_links: Mapping[str, VpcLink]
    type: str = "rest"  # rest | http

    @property
    def http(self) -> bool:
        return self.type == "http"

    @property
    def arn_prefix(self) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.id}"

    @property
    def private(self) -> bool:
        return self.endpoint == "private"


@dataclass(frozen=True)
class GatewayConfig:
    region: str
    listen: tuple[Listener, ...]
    tls: TlsFiles | None
    endpoints: Mapping[str, EndpointInfo]
    apis: Mapping[str, RestApi]
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    warnings: tuple[str, ...] = ()
    fabric_socket: str | None = None
    """The fabric's control socket: asked who opened a connection that came
    through an endpoint (its `nat_origin`), for X-Forwarded-For and aws:VpcSourceIp."""


def load(path: str | Path) -> GatewayConfig:
    text = Path(path).read_text()
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ConfigError([f"{path}: not JSON: {e}"]) from e
    return parse(obj)


def parse(obj: Any) -> GatewayConfig:
    p = _Parser()
    cfg = p.config(obj)
    if p.errors or cfg is None:
        raise ConfigError(p.errors or ["config: empty"])
    return cfg


class _Parser:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    # -- helpers --------------------------------------------------------

    def obj(self, node: Any, path: str) -> dict[str, Any]:
        if not isinstance(node, dict):
            self.err(path, "must be an object")
            return {}
        return node

    def string(
        self,
        node: Mapping[str, Any],
        key: str,
        path: str,
        default: str | None = None,
        required: bool = True,
    ) -> str | None:
        value = node.get(key, default)
        if value is None:
            if required:
                self.err(f"{path}.{key}", "missing")
            return None
        if not isinstance(value, str) or not value:
            self.err(f"{path}.{key}", f"must be a non-empty string, not {value!r}")
            return None
        return value

    def integer(
        self, node: Mapping[str, Any], key: str, path: str, default: int, lo: int, hi: int
    ) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.err(f"{path}.{key}", f"must be an integer in [{lo}, {hi}], not {value!r}")
            return default
        return value

    def boolean(self, node: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.err(f"{path}.{key}", f"must be true or false, not {value!r}")
            return default
        return value

    def ip(self, value: Any, path: str) -> str | None:
        try:
            return str(ipaddress.ip_address(value))
        except (ValueError, TypeError):
            self.err(path, f"{value!r} is not an IP address")
            return None

    # -- sections -------------------------------------------------------

    def config(self, raw: Any) -> GatewayConfig | None:
        root = self.obj(raw, "config")
        if not root:
            return None
        region = self.string(root, "region", "config") or "us-east-1"
        listen = self.listeners(root.get("listen"), "listen")
        tls = None
        if "tls" in root and root["tls"] is not None:
            t = self.obj(root["tls"], "tls")
            cert, key = self.string(t, "cert", "tls"), self.string(t, "key", "tls")
            if cert and key:
                tls = TlsFiles(cert, key)
        if tls is None and any(li.tls for li in listen):
            self.err("tls", "a listener has tls: true but there is no tls {cert, key}")
        endpoints: dict[str, EndpointInfo] = {}
        for addr, ep in self.obj(root.get("endpoints", {}), "endpoints").items():
            epath = f"endpoints.{addr}"
            ip = self.ip(addr, epath)
            e = self.obj(ep, epath)
            vpce, vpc = self.string(e, "vpce", epath), self.string(e, "vpc", epath)
            private_dns = self.boolean(e, "private_dns", epath, False)
            if ip and vpce and vpc:
                endpoints[ip] = EndpointInfo(vpce, vpc, private_dns)
        apis: dict[str, RestApi] = {}
        for api_id, api in self.obj(root.get("apis", {}), "apis").items():
            parsed = self.api(api_id, api, region, f"apis.{api_id}")
            if parsed is not None:
                apis[api_id] = parsed
        connect_ms = self.integer(
            root, "connect_timeout_ms", "config", DEFAULT_CONNECT_TIMEOUT_MS, 1, TIMEOUT_MAX_MS
        )
        idle = root.get("idle_timeout_s", DEFAULT_IDLE_TIMEOUT_S)
        if isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0:
            self.err("config.idle_timeout_s", f"must be a positive number, not {idle!r}")
            idle = DEFAULT_IDLE_TIMEOUT_S
        return GatewayConfig(
            region=region,
            listen=tuple(listen),
            tls=tls,
            endpoints=endpoints,
            apis=apis,
            connect_timeout_ms=connect_ms,
            idle_timeout_s=float(idle),
            warnings=tuple(self.warnings),
            fabric_socket=root.get("fabric_socket")
            if isinstance(root.get("fabric_socket"), str)
            else None,
        )

    def listeners(self, raw: Any, path: str) -> list[Listener]:
        if not isinstance(raw, list) or not raw:
            self.err(path, "must be a non-empty list of {ip, port, tls}")
            return []
        out: list[Listener] = []
        seen: set[tuple[str, int]] = set()
        for i, item in enumerate(raw):
            lpath = f"{path}[{i}]"
            li = self.obj(item, lpath)
            if not li:
                continue
            ip = self.ip(li.get("ip"), f"{lpath}.ip")
            port = self.integer(li, "port", lpath, -1, 0, 65535)
            tls = self.boolean(li, "tls", lpath, False)
            if ip is None or port < 0:
                continue
            if port and (ip, port) in seen:
                self.err(lpath, f"{ip}:{port} is listed twice")
            seen.add((ip, port))
            out.append(Listener(ip, port, tls))
        return out

    def api(self, api_id: str, raw: Any, region: str, path: str) -> RestApi | None:
        before = len(self.errors)
        if not _API_ID.match(api_id):
            self.err(path, "an API id is lower-case letters and digits (AWS: 10 of them)")
        a = self.obj(raw, path)
        kind = a.get("type", "rest")
        if kind == "http":
            from hyperplane_emu.services.apigateway.httpconfig import HttpApiParser

            return HttpApiParser(self).api(api_id, a, region, path, before)
        if kind != "rest":
            self.err(f"{path}.type", f"must be rest or http, not {kind!r}")
        name = self.string(a, "name", path, default=api_id) or api_id
        endpoint = a.get("endpoint", "regional")
        if endpoint not in ENDPOINT_TYPES:
            self.err(f"{path}.endpoint", f"must be one of {', '.join(ENDPOINT_TYPES)}")
        account = self.string(a, "account_id", path) or "000000000000"
        if not _ACCOUNT.match(account):
            self.err(f"{path}.account_id", f"must be 12 digits, not {account!r}")
        policy = None
        if a.get("policy") is not None:
            try:
                policy = parse_policy(
                    a["policy"],
                    arn_prefix=f"arn:aws:execute-api:{region}:{account}:{api_id}",
                    path=f"{path}.policy",
                )
            except PolicyError as e:
                self.errors.extend(e.errors)
        stages = self.stages(a, path)
        links = self.vpc_links(a, path, address_required=True)
        routes = self.routes(a.get("routes", []), f"{path}.routes", set(stages))
        if len(self.errors) != before:
            return None
        return RestApi(
            id=api_id,
            name=name,
            endpoint=str(endpoint),
            account_id=account,
            region=region,
            policy=policy,
            stages=stages,
            routes=tuple(routes),
            vpc_links=links,
        )

    def stages(self, a: Mapping[str, Any], path: str, default_ok: bool = False) -> dict[str, Stage]:
        """`stages.<name>.variables`; `default_ok`: HTTP APIs also have the `$default` stage."""
        stages: dict[str, Stage] = {}
        for sname, st in self.obj(a.get("stages", {}), f"{path}.stages").items():
            spath = f"{path}.stages.{sname}"
            if not _STAGE.match(sname) and not (default_ok and sname == "$default"):
                self.err(spath, "a stage name is letters, digits, - and _ (at most 128)")
            s = self.obj(st if st is not None else {}, spath)
            variables: dict[str, str] = {}
            for k, v in self.obj(s.get("variables", {}), f"{spath}.variables").items():
                if not _STAGE_VAR_NAME.match(k) or not isinstance(v, str):
                    self.err(f"{spath}.variables.{k}", "names are [A-Za-z0-9_], values strings")
                    continue
                variables[k] = v
            stages[sname] = Stage(sname, variables)
        return stages

    def vpc_links(
        self, a: Mapping[str, Any], path: str, address_required: bool
    ) -> dict[str, VpcLink]:
        """`vpc_links.<id>`; REST (v1) links need the address of their endpoint ENI,
        HTTP API (v2) links do not (each integration lists its own targets)."""
        links: dict[str, VpcLink] = {}
        for lid, ln in self.obj(a.get("vpc_links", {}), f"{path}.vpc_links").items():
            lpath = f"{path}.vpc_links.{lid}"
            li = self.obj(ln, lpath)
            status = li.get("status", "AVAILABLE")
            if status not in LINK_STATES:
                self.err(f"{lpath}.status", f"must be one of {', '.join(LINK_STATES)}")
            address = None
            if li.get("address"):
                address = self.ip(li["address"], f"{lpath}.address")
            elif status == "AVAILABLE" and address_required:
                self.err(f"{lpath}.address", "missing (an AVAILABLE link needs an address)")
            links[lid] = VpcLink(lid, str(li.get("name", lid)), str(status), address)
        return links

    def routes(self, raw: Any, path: str, stages: set[str]) -> list[Route]:
        if not isinstance(raw, list):
            self.err(path, "must be a list")
            return []
        tree: ResourceTree[int] = ResourceTree()
        out: list[Route] = []
        for i, item in enumerate(raw):
            rpath = f"{path}[{i}]"
            r = self.obj(item, rpath)
            if not r:
                continue
            method = str(r.get("method", "")).upper()
            if method not in METHODS:
                self.err(f"{rpath}.method", f"must be one of {', '.join(METHODS)}")
                continue
            rp = r.get("path")
            if not isinstance(rp, str) or not rp.startswith("/"):
                self.err(f"{rpath}.path", f"must start with /, not {rp!r}")
                continue
            try:
                tree.add(rp, method, i)
            except ValueError as e:
                self.err(f"{rpath}.path", str(e))
                continue
            integ = self.integration(r.get("integration"), f"{rpath}.integration", rp)
            if integ is not None:
                out.append(Route(method, rp, integ))
        return out

    def integration(self, raw: Any, path: str, route_path: str) -> Integration | None:
        before = len(self.errors)
        n = self.obj(raw, path)
        kind = n.get("type")
        if kind not in INTEGRATION_TYPES:
            self.err(f"{path}.type", f"must be one of {', '.join(INTEGRATION_TYPES)}")
            return None
        ctype = n.get("connection_type", "INTERNET")
        if ctype not in CONNECTION_TYPES:
            self.err(f"{path}.connection_type", f"must be one of {', '.join(CONNECTION_TYPES)}")
        cid = n.get("connection_id")
        if ctype == "VPC_LINK" and kind != "MOCK" and (not isinstance(cid, str) or not cid):
            self.err(f"{path}.connection_id", "VPC_LINK needs a connection_id")
        uri = n.get("uri")
        if kind != "MOCK":
            if not isinstance(uri, str) or not uri:
                self.err(f"{path}.uri", "missing")
            else:
                self.check_uri(uri, f"{path}.uri", route_path)
        timeout = self.integer(
            n, "timeout_ms", path, DEFAULT_TIMEOUT_MS, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS
        )
        mock_status = self.integer(n, "mock_status", path, 200, 100, 599)
        mock_body = n.get("mock_body", "")
        if not isinstance(mock_body, str):
            self.err(f"{path}.mock_body", "must be a string")
            mock_body = ""
        targets: tuple[LinkTarget, ...] = ()
        if n.get("targets"):  # a REST integration over a VPC link V2 (since Nov 2025)
            from hyperplane_emu.services.apigateway.httpconfig import HttpApiParser

            targets = tuple(HttpApiParser(self).targets(n["targets"], f"{path}.targets"))
        if len(self.errors) != before:
            return None
        return Integration(
            type=kind,
            connection_type=str(ctype),
            connection_id=cid if isinstance(cid, str) else None,
            uri=uri if isinstance(uri, str) else None,
            timeout_ms=timeout,
            mock_status=mock_status,
            mock_body=mock_body,
            targets=targets,
        )

    def check_uri(self, uri: str, path: str, route_path: str) -> None:
        # Stage variables are only known per stage: check the shape with a stand-in.
        probe = STAGE_VAR_REF.sub("stagevar", uri)
        try:
            parts = urlsplit(probe)
            port = parts.port
        except ValueError as e:
            self.err(path, f"not a URL: {e}")
            return
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.err(path, f"must be http(s)://host[:port]/path, not {uri!r}")
            return
        del port
        have = {
            m.group(1) for seg in route_path.split("/") if (m := re.match(r"^\{(.+?)\+?\}$", seg))
        }
        for name in URI_PARAM.findall(probe):
            if name not in have:
                self.err(path, f"{{{name}}} is not a path parameter of {route_path}")
