"""Routes and integrations of an API (`apis.<api>.routes`).

A route key is `"METHOD /path"` (REST: resource + method; HTTP APIs: route
key), or `$default` on HTTP APIs. Its integration is HTTP_PROXY, HTTP or MOCK,
over the internet or a VPC link; `vpc_link: X` is short for
`connection_type: VPC_LINK, connection_id: X`.

AWS facts behind the checks (API Gateway Developer Guide: "Set up REST API
resources", "Routes for HTTP APIs", "Integrations", quotas):
- methods GET POST PUT PATCH DELETE HEAD OPTIONS ANY; paths start with `/`,
  a segment is a literal or `{name}`, and a greedy `{name+}` only ends a path;
- a REST resource has at most one variable child ("A sibling ({id}) of this
  resource already has a variable path part -- only one is allowed");
- HTTP APIs have HTTP_PROXY (and Lambda) integrations only, no MOCK or HTTP;
  their private integrations target a load balancer listener or a Cloud Map
  service (the integration URI is an ARN), REST's a URL whose host only sets
  `Host` (the VPC link decides where packets go);
- `connectionId` may be `${stageVariables.<name>}`, resolved per stage;
- timeouts: REST 50 ms to 29 s by default, raisable since 2024 for regional
  and private APIs (accepted up to 300 s here); HTTP APIs 50 ms to 30 s,
  default 30 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import apitls, cloudmap, loadbalancers, refs
from hyperplane_emu.spec.model import Integration, Route, Topology, VpcLink
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
DEFAULT_ROUTE = "$default"
ROUTE_KEYS = ("integration",)
INTEGRATION_KEYS = (
    "type",
    "connection_type",
    "connection_id",
    "vpc_link",
    "uri",
    "timeout_ms",
    "mock_status",
    "mock_body",
    "request_parameters",
    "integration_target",
    "tls_config",
)
MOCK_ONLY = ("mock_status", "mock_body")
NOT_FOR_MOCK = (
    "uri",
    "vpc_link",
    "connection_type",
    "connection_id",
    "timeout_ms",
    "tls_config",
)
INTEGRATION_TYPES = ("HTTP_PROXY", "HTTP", "MOCK")
INTEGRATION_TYPES_NOT_EMULATED = {
    "AWS_PROXY": "Lambda proxy integrations are not emulated",
    "AWS": "AWS service integrations are not emulated",
}
CONNECTION_TYPES = ("INTERNET", "VPC_LINK")
TIMEOUT_MS = {"rest": (50, 300_000), "http": (50, 30_000)}
DEFAULT_TIMEOUT_MS = {"rest": 29_000, "http": 30_000}
MOCK_STATUS = (100, 599)
_ROUTE_KEY = re.compile(r"(\S+) (\S+)")
_LITERAL = re.compile(r"[A-Za-z0-9._:~@-]+")
_PARAM = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_URL = re.compile(r"(https?)://([^/?#:\s]+)(?::([0-9]{1,5}))?([/?#]\S*)?")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_URI_PARAM = re.compile(r"\{([^{}]*)\}")
_LISTENER = re.compile(r"([a-z][a-z0-9-]*)/([a-z][a-z0-9-]*):([0-9]{1,5})")
CLOUD_MAP_PREFIX = "cloud_map/"
_CLOUD_MAP = re.compile(r"cloud_map/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)(?:\?([^\s#]+))?")


@dataclass(frozen=True)
class VariableUse:
    """A `${stageVariables.<name>}` in a route, checked against every stage later."""

    name: str
    as_link: bool  # in connection_id: its value must name a VPC link
    route: str


@dataclass
class ApiScope:
    """What one API's routes are checked against, and what they record for later checks."""

    api: str
    type: Literal["rest", "http"] | None  # None: the type is wrong (reported)
    links: dict[str, VpcLink]
    declared_links: frozenset[str] | None  # every link name written; None: unreadable
    topology: Topology
    variable_uses: list[VariableUse] = field(default_factory=list)
    used_links: set[str] = field(default_factory=set)

    def link_status(self, name: str) -> Literal["found", "broken", "missing"]:
        if name in self.links:
            return "found"
        if self.declared_links is None or name in self.declared_links:
            return "broken"
        return "missing"


@dataclass(frozen=True)
class _RouteKey:
    method: str
    path: str
    segments: tuple[str, ...]
    params: frozenset[str]


def parse_routes(ctx: Ctx, node: Node, path: str, scope: ApiScope) -> tuple[Route, ...] | None:
    """The routes in file order, or None when any is wrong (already reported)."""
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    routes: list[Route] = []
    shapes: dict[tuple[str, tuple[str, ...]], str] = {}
    variables: dict[tuple[str, ...], tuple[str, str]] = {}  # REST parent -> (segment, route)
    for key, route_path, route_node in view.items():
        key_node = view.key_node(key)
        route_key = _route_key(ctx, key, key_node, route_path, scope.type)
        if route_key is not None and not _route_conflicts(
            ctx, key, key_node, route_path, route_key, scope, shapes, variables
        ):
            route_key = None
        integration = _route_value(ctx, route_node, route_path, scope, key, route_key)
        if route_key is not None and integration is not None:
            routes.append(Route(route_key.method, route_key.path, integration))
    if len(ctx.issues) > issues_before:
        return None
    return tuple(routes)


def _route_key(ctx: Ctx, key: str, node: Node, path: str, api_type: str | None) -> _RouteKey | None:
    if key == DEFAULT_ROUTE:
        if api_type == "rest":
            ctx.error(
                path,
                node,
                "$default routes are for HTTP APIs; a REST API catches everything with "
                "'ANY /{proxy+}'",
            )
            return None
        return _RouteKey("ANY", DEFAULT_ROUTE, (), frozenset())
    match = _ROUTE_KEY.fullmatch(key)
    if match is None:
        ctx.error(path, node, f"route {key!r} is not 'METHOD /path' (like 'GET /orders/{{id}}')")
        return None
    method, route_path = match[1], match[2]
    if method not in METHODS:
        hint = f"; write {method.upper()!r}" if method.upper() in METHODS else ""
        ctx.error(
            path,
            node,
            f"method {method!r} is not one of {', '.join(METHODS)}"
            f"{hint or did_you_mean(method.upper(), METHODS)}",
        )
        return None
    segments = _path_segments(ctx, route_path, node, path)
    if segments is None:
        return None
    params = frozenset(m[1] for seg in segments if (m := _PARAM.fullmatch(seg)))
    return _RouteKey(method, route_path, segments, params)


def _path_segments(ctx: Ctx, text: str, node: Node, path: str) -> tuple[str, ...] | None:
    if not text.startswith("/"):
        ctx.error(path, node, f"path {text!r} must start with '/'")
        return None
    if text == "/":
        return ()
    segments = tuple(text[1:].split("/"))
    seen: set[str] = set()
    for i, segment in enumerate(segments):
        param = _PARAM.fullmatch(segment)
        if segment == "":
            problem = "has an empty segment ('//' or a trailing '/')"
        elif param is not None and param[2] and i != len(segments) - 1:
            problem = f"has greedy {segment} before its end; {{name+}} may only end a path"
        elif param is not None and param[1] in seen:
            problem = f"uses path parameter {{{param[1]}}} twice"
        elif param is None and not _LITERAL.fullmatch(segment):
            problem = (
                f"has segment {segment!r}, neither a literal (letters, digits, . _ - ~ : @) "
                "nor a {parameter}"
            )
        else:
            if param is not None:
                seen.add(param[1])
            continue
        ctx.error(path, node, f"path {text!r} {problem}")
        return None
    return segments


def _route_conflicts(
    ctx: Ctx,
    key: str,
    node: Node,
    path: str,
    route: _RouteKey,
    scope: ApiScope,
    shapes: dict[tuple[str, tuple[str, ...]], str],
    variables: dict[tuple[str, ...], tuple[str, str]],
) -> bool:
    """False (reported) when the route clashes with an earlier one; True otherwise."""
    if scope.type == "rest":
        for depth, segment in enumerate(route.segments):
            if not _PARAM.fullmatch(segment):
                continue
            parent = route.segments[:depth]
            earlier = variables.setdefault(parent, (segment, key))
            if earlier[0] != segment:
                ctx.error(
                    path,
                    node,
                    f"{segment} and {earlier[0]} (route {earlier[1]!r}) are variable path parts "
                    f"under the same resource /{'/'.join(parent)}; AWS allows one per resource",
                )
                return False
    # Parameter names do not tell routes apart: GET /a/{x} and GET /a/{y} are the same route.
    shape = (route.method, tuple(_PARAM.sub("{}", s) for s in route.segments) or (route.path,))
    if shape in shapes:
        ctx.error(path, node, f"the same route as {shapes[shape]!r} (only parameter names differ)")
        return False
    shapes[shape] = key
    return True


def _route_value(
    ctx: Ctx, node: Node, path: str, scope: ApiScope, key: str, route: _RouteKey | None
) -> Integration | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    view.check_keys(ROUTE_KEYS, required=ROUTE_KEYS)
    integration_node = view.get("integration")
    if integration_node is None:
        return None
    return _integration(ctx, integration_node, view.path_of("integration"), scope, key, route)


def _integration(
    ctx: Ctx, node: Node, path: str, scope: ApiScope, key: str, route: _RouteKey | None
) -> Integration | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(INTEGRATION_KEYS)

    kind = _integration_type(ctx, view, scope)
    if kind == "MOCK" or (kind is None and any(key in view for key in MOCK_ONLY)):
        mock = _mock(ctx, view, issues_before)
        return mock if kind is not None else None
    for mock_key in MOCK_ONLY:
        if mock_key in view:
            ctx.error(
                view.path_of(mock_key),
                view.key_node(mock_key),
                f"{mock_key} is for MOCK integrations",
            )

    connection_type, connection_id = _connection(ctx, view, scope, key)
    uri = None
    uri_node = view.get("uri")
    if uri_node is None and kind is not None:
        ctx.error(
            view.path_of("uri"),
            view.node,
            "required key 'uri' is missing (an HTTP integration calls a URL"
            + (" or a load balancer listener)" if scope.type == "http" else ")"),
        )
    elif uri_node is not None:
        uri = _uri(
            ctx, uri_node, view.path_of("uri"), scope, key, route, connection_type, connection_id
        )

    timeout = DEFAULT_TIMEOUT_MS.get(scope.type or "rest", Integration.timeout_ms)
    timeout_node = view.get("timeout_ms")
    if timeout_node is not None and scope.type is not None:
        low, high = TIMEOUT_MS[scope.type]
        timeout = ctx.integer(timeout_node, view.path_of("timeout_ms"), low, high) or timeout

    overwrite_path = _request_parameters(ctx, view, scope)
    integration_target = _integration_target(ctx, view, scope, connection_type, connection_id)
    tls_config = apitls.parse_tls_config(ctx, view, scope.type, connection_type, uri)

    if len(ctx.issues) > issues_before or kind is None or connection_type is None:
        return None
    return Integration(
        type=cast(Literal["HTTP_PROXY", "HTTP", "MOCK"], kind),
        connection_type=cast(Literal["INTERNET", "VPC_LINK"], connection_type),
        connection_id=connection_id,
        uri=uri,
        timeout_ms=timeout,
        overwrite_path=overwrite_path,
        integration_target=integration_target,
        tls_config=tls_config,
    )


def _integration_target(
    ctx: Ctx,
    view: MapView,
    scope: ApiScope,
    connection_type: str | None,
    connection_id: str | None,
) -> str | None:
    """REST APIs over a VPC link V2 name the load balancer (`<vpc>/<alb or nlb>`); V1 links
    route to their one NLB and take none; HTTP APIs name it in the uri instead."""
    node = view.get("integration_target")
    link = scope.links.get(connection_id or "") if connection_id else None
    v2 = link is not None and link.vpc is not None
    path = view.path_of("integration_target")
    if scope.type == "rest" and connection_type == "VPC_LINK" and v2 and node is None:
        ctx.error(
            view.path,
            None,
            f"VPC link {connection_id!r} is a V2 link (Hyperplane ENIs, no NLB in front): a "
            "REST integration over it needs integration_target: <vpc>/<alb or nlb>",
        )
        return None
    if node is None:
        return None
    if scope.type != "rest":
        ctx.error(
            path,
            node,
            "integration_target is for REST APIs; an HTTP API names the "
            "listener in its uri (<vpc>/<lb>:<port>)",
        )
        return None
    text = ctx.text(node, path, "a load balancer, <vpc>/<name>")
    if text is None:
        return None
    if link is not None and not v2:
        ctx.error(
            path,
            node,
            f"VPC link {connection_id!r} is V1 (an endpoint service in front of "
            "one NLB): it takes no integration_target; use a V2 link "
            "{vpc, subnets, security_groups} to reach an ALB or choose the NLB",
        )
        return None
    vpc_name, _, lb_name = text.partition("/")
    vpc = scope.topology.vpcs.get(vpc_name)
    lb = vpc.load_balancers.get(lb_name) if vpc is not None else None
    if lb is None:
        ctx.error(path, node, f"no load balancer {text!r} (write <vpc>/<name>)")
        return None
    if link is not None and link.vpc != vpc_name:
        ctx.error(path, node, f"{text} is not in the VPC of link {connection_id!r} ({link.vpc})")
        return None
    return text


def _request_parameters(ctx: Ctx, view: MapView, scope: ApiScope) -> str | None:
    """HTTP APIs' parameter mapping; only `overwrite:path` is emulated
    (`$request.path`, `$request.path.<name>`, `$stageVariables.<name>`, literal text)."""
    node = view.get("request_parameters")
    if node is None:
        return None
    path = view.path_of("request_parameters")
    if scope.type != "http":
        ctx.error(path, node, "request_parameters (parameter mapping) is an HTTP API feature here")
        return None
    params = ctx.mapping(node, path)
    if params is None:
        return None
    params.check_keys(("overwrite:path",))
    value_node = params.get("overwrite:path")
    if value_node is None:
        return None
    value = ctx.text(value_node, params.path_of("overwrite:path"), "a path mapping")
    if value is not None and not (value.startswith("/") or value.startswith("$")):
        ctx.error(
            params.path_of("overwrite:path"),
            value_node,
            f"{value!r}: a path starts with / or a $request/$stageVariables reference",
        )
        return None
    return value


def _integration_type(ctx: Ctx, view: MapView, scope: ApiScope) -> str | None:
    """The type written, or HTTP_PROXY when a uri or vpc_link implies it."""
    node = view.get("type")
    path = view.path_of("type")
    if node is None:
        if "uri" in view or "vpc_link" in view or "connection_id" in view:
            return "HTTP_PROXY"
        if any(key in view for key in MOCK_ONLY):
            # HTTP APIs have no MOCK: HTTP_PROXY makes the mock keys the reported problem.
            return "MOCK" if scope.type != "http" else "HTTP_PROXY"
        ctx.error(path, view.node, "required key 'type' is missing (HTTP_PROXY, HTTP or MOCK)")
        return None
    text = ctx.text(node, path, f"one of {', '.join(INTEGRATION_TYPES)}")
    if text is None:
        return None
    upper = text.upper()
    if text not in INTEGRATION_TYPES and text not in INTEGRATION_TYPES_NOT_EMULATED:
        hint = (
            f"; write {upper!r}"
            if upper in INTEGRATION_TYPES
            else did_you_mean(upper, INTEGRATION_TYPES)
        )
        ctx.error(
            path,
            node,
            f"integration type {text!r} is not one of {', '.join(INTEGRATION_TYPES)}{hint}",
        )
        return None
    if text in INTEGRATION_TYPES_NOT_EMULATED:
        ctx.error(path, node, f"integration type {text}: {INTEGRATION_TYPES_NOT_EMULATED[text]}")
        return None
    if scope.type == "http" and text != "HTTP_PROXY":
        ctx.error(
            path,
            node,
            f"HTTP APIs have HTTP_PROXY integrations only (AWS: {text} is for REST APIs); "
            "use type: rest for it",
        )
        return None
    return text


def _mock(ctx: Ctx, view: MapView, issues_before: int) -> Integration | None:
    for key in NOT_FOR_MOCK:
        if key in view:
            ctx.error(
                view.path_of(key),
                view.key_node(key),
                f"MOCK integrations take no {key} (API Gateway answers by itself)",
            )
    status = Integration.mock_status
    status_node = view.get("mock_status")
    if status_node is not None:
        low, high = MOCK_STATUS
        status = ctx.integer(status_node, view.path_of("mock_status"), low, high) or status
    body = Integration.mock_body
    body_node = view.get("mock_body")
    if body_node is not None:
        body = ctx.text(body_node, view.path_of("mock_body")) or ""
    if len(ctx.issues) > issues_before:
        return None
    return Integration(type="MOCK", mock_status=status, mock_body=body)


def _connection(
    ctx: Ctx, view: MapView, scope: ApiScope, key: str
) -> tuple[str | None, str | None]:
    """(connection type, connection id); the type is None when wrong (reported)."""
    link_node = view.get("vpc_link")
    type_node = view.get("connection_type")
    id_node = view.get("connection_id")
    if link_node is not None and id_node is not None:
        ctx.error(
            view.path_of("vpc_link"),
            link_node,
            "write vpc_link or connection_id, not both (vpc_link is short for "
            "connection_type: VPC_LINK + connection_id)",
        )
        return None, None

    connection_type: str | None = "VPC_LINK" if link_node is not None else "INTERNET"
    if type_node is not None:
        path = view.path_of("connection_type")
        text = ctx.text(type_node, path, "INTERNET or VPC_LINK")
        if text is not None and text not in CONNECTION_TYPES:
            hint = f"; write {text.upper()!r}" if text.upper() in CONNECTION_TYPES else ""
            ctx.error(
                path, type_node, f"connection type {text!r} is not INTERNET or VPC_LINK{hint}"
            )
            text = None
        elif text == "INTERNET" and link_node is not None:
            ctx.error(path, type_node, "vpc_link means connection_type VPC_LINK, not INTERNET")
            text = None
        connection_type = text

    connection_id = None
    written = link_node if link_node is not None else id_node
    written_key = "vpc_link" if link_node is not None else "connection_id"
    if written is not None and connection_type == "INTERNET":
        ctx.error(
            view.path_of(written_key),
            written,
            "connection_id is for connection_type VPC_LINK",
        )
    elif written is not None:
        path = view.path_of(written_key)
        text = ctx.text(written, path, "a VPC link name or ${stageVariables.<name>}")
        if text is not None:
            connection_id = _connection_id(ctx, text, written, path, scope, key)
    elif connection_type == "VPC_LINK":
        ctx.error(
            view.path_of("connection_id"),
            view.node,
            "required key 'connection_id' is missing (VPC_LINK integrations name a VPC link; "
            "or write vpc_link: <name>)",
        )
    return connection_type, connection_id


def _connection_id(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, key: str
) -> str | None:
    variable = STAGE_VARIABLE.fullmatch(text)
    if variable is not None:
        scope.variable_uses.append(VariableUse(variable[1], True, key))
        return text
    if "${" in text:
        ctx.error(path, node, f"{text!r} is not a VPC link name or ${{stageVariables.<name>}}")
        return None
    status = scope.link_status(text)
    if status == "missing":
        ctx.error(
            path,
            node,
            f"no VPC link {text!r} in API {scope.api!r}"
            f"{did_you_mean(text, scope.declared_links or ())}",
        )
        return None
    scope.used_links.add(text)
    return text


def _uri(
    ctx: Ctx,
    node: Node,
    path: str,
    scope: ApiScope,
    key: str,
    route: _RouteKey | None,
    connection_type: str | None,
    connection_id: str | None,
) -> str | None:
    text = ctx.text(node, path, "a URL like http://orders.internal:80/orders")
    if text is None:
        return None
    if scope.type == "http" and connection_type == "VPC_LINK":
        return _http_api_target(ctx, text, node, path, scope, connection_id)
    return _url(ctx, text, node, path, scope, key, route)


def _url(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, key: str, route: _RouteKey | None
) -> str | None:
    names = [m[1] for m in STAGE_VARIABLE.finditer(text)]
    plain = STAGE_VARIABLE.sub("stagevariable", text)
    if "${" in plain:
        ctx.error(path, node, f"uri {text!r}: only ${{stageVariables.<name>}} may be substituted")
        return None
    match = _URL.fullmatch(plain)
    if match is None or not _HOST.fullmatch(match[2]):
        hint = ""
        if scope.type == "http" and (_LISTENER.fullmatch(text) or text.startswith("cloud_map")):
            hint = " (a load balancer listener or Cloud Map service needs a VPC link)"
        ctx.error(path, node, f"uri {text!r} is not an http:// or https:// URL{hint}")
        return None
    if match[3] is not None and not 1 <= int(match[3]) <= 65535:
        ctx.error(path, node, f"uri {text!r}: port {match[3]} is out of range 1..65535")
        return None
    url_path = re.split(r"[?#]", match[4] or "", maxsplit=1)[0]
    for written in _URI_PARAM.findall(url_path):
        name = written.removesuffix("+")
        if route is not None and name not in route.params:
            known = ", ".join(f"{{{p}}}" for p in sorted(route.params)) or "none"
            ctx.error(
                path,
                node,
                f"uri uses {{{written}}}, which is not a path parameter of route {key!r} "
                f"(its parameters: {known})",
            )
            return None
    scope.variable_uses.extend(VariableUse(name, False, key) for name in names)
    return text


def _http_api_target(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, connection_id: str | None
) -> str | None:
    """An HTTP API private integration: `<vpc>/<load balancer>:<port>` or a Cloud Map
    service `cloud_map/<namespace>/<service>[?attr=value&…]` (AWS: a listener or
    service ARN; the query filters instances by attribute, as DiscoverInstances does)."""
    link = scope.links.get(connection_id or "")
    if text.startswith(CLOUD_MAP_PREFIX):
        return _cloud_map_target(ctx, text, node, path, scope, link)
    match = _LISTENER.fullmatch(text)
    if match is None:
        ctx.error(
            path,
            node,
            f"uri {text!r}: an HTTP API private integration targets a load balancer listener "
            "<vpc>/<load balancer>:<port> or cloud_map/<namespace>/<service>, not a URL",
        )
        return None
    vpc_name, lb_name, port = match[1], match[2], int(match[3])
    vpc = scope.topology.vpcs.get(vpc_name)
    if vpc is None:
        declared = ctx.declared.get("vpcs", frozenset())
        if declared is not None and vpc_name not in declared:
            ctx.error(path, node, f"no VPC {vpc_name!r}{did_you_mean(vpc_name, declared)}")
            return None
        return text  # a broken VPC: its own errors say why
    if link is not None and link.vpc != vpc_name:
        ctx.error(
            path,
            node,
            f"{lb_name!r} is in VPC {vpc_name!r} but VPC link {link.name!r} is in "
            f"{link.vpc!r}: the link's ENIs reach their own VPC only",
        )
        return None
    lbs_path = loadbalancers.section_path(f"vpcs.{vpc_name}")
    declared_lbs = ctx.declared.get(lbs_path, frozenset())
    if lb_name not in vpc.load_balancers:
        if declared_lbs is not None and lb_name not in declared_lbs:
            ctx.error(
                path,
                node,
                f"no load balancer {lb_name!r} in VPC {vpc_name!r}"
                f"{did_you_mean(lb_name, vpc.load_balancers)}",
            )
            return None
        return text
    lb = vpc.load_balancers[lb_name]
    if lb.type == "application":
        kind, ports = "ALB", sorted(lst.port for lst in lb.alb_listeners)
        what = "listener"
    else:
        kind, ports = "NLB", sorted(lst.port for lst in lb.listeners if lst.protocol == "tcp")
        what = "tcp listener"
    if port not in ports:
        ctx.error(
            path,
            node,
            f"{kind} {lb_name!r} has no {what} on port {port} "
            f"(its {what}s: {', '.join(map(str, ports)) or 'none'})",
        )
        return None
    return text


def _cloud_map_target(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, link: VpcLink | None
) -> str | None:
    match = _CLOUD_MAP.fullmatch(text)
    if match is None:
        ctx.error(
            path,
            node,
            f"uri {text!r} is not cloud_map/<namespace>/<service> (optionally followed by "
            "?attribute=value&…)",
        )
        return None
    namespace, service_name, query = match[1], match[2], match[3]
    filters = _attribute_filters(ctx, query, node, path) if query is not None else {}
    if filters is None:
        return None
    cloud_map = scope.topology.cloud_map
    if namespace not in cloud_map.namespaces:
        if refs.status(ctx, cloudmap.NAMESPACES, namespace, ()) == "missing":
            declared = ctx.declared.get(cloudmap.NAMESPACES) or ()
            ctx.error(
                path,
                node,
                f"no Cloud Map namespace {namespace!r}{did_you_mean(namespace, declared)}",
            )
            return None
        return text  # broken: reported where it is written
    service = cloud_map.services.get(service_name)
    if service is None:
        if refs.status(ctx, cloudmap.SERVICES, service_name, ()) == "missing":
            declared = ctx.declared.get(cloudmap.SERVICES) or ()
            ctx.error(
                path,
                node,
                f"no Cloud Map service {service_name!r}{did_you_mean(service_name, declared)}",
            )
            return None
        return text
    if service.namespace != namespace:
        ctx.error(
            path,
            node,
            f"Cloud Map service {service_name!r} is in namespace {service.namespace!r}, "
            f"not {namespace!r}",
        )
        return None
    if link is not None and link.vpc is not None:
        elsewhere = sorted(cloudmap.service_vpcs(service, scope.topology) - {link.vpc})
        if elsewhere:
            ctx.error(
                path,
                node,
                f"Cloud Map service {service_name!r} has instances in VPC {elsewhere[0]!r} but "
                f"VPC link {link.name!r} is in {link.vpc!r}: the link's ENIs reach their own "
                "VPC only",
            )
            return None
    matching = [
        i
        for i in service.instances.values()
        if all(i.attributes.get(k) == v for k, v in filters.items())
    ]
    if service.instances and not any(i.health == "healthy" for i in matching):
        ctx.warn(
            path,
            node,
            f"no healthy instance of {namespace}/{service_name}"
            + (" has these attributes" if filters else "")
            + ": discovery returns nothing, every call on this route fails",
        )
    return text


def _attribute_filters(ctx: Ctx, query: str, node: Node, path: str) -> dict[str, str] | None:
    """`stage=prod&zone=a` -> {"stage": "prod", "zone": "a"} (DiscoverInstances
    QueryParameters: every pair must match)."""
    result: dict[str, str] = {}
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not key or not eq or not value:
            ctx.error(path, node, f"Cloud Map filter {part!r} is not attribute=value")
            return None
        if key in result:
            ctx.error(path, node, f"Cloud Map filter attribute {key!r} is given twice")
            return None
        result[key] = value
    return result
