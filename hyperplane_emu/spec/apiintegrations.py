"""The integration of a route (`apis.<api>.routes.<route>.integration`).

HTTP_PROXY, HTTP or MOCK, over the internet or a VPC link; `vpc_link: X` is
short for `connection_type: VPC_LINK, connection_id: X`. An HTTP API's private
integration names a listener or Cloud Map service, checked in `apitargets`.

AWS facts behind the checks (API Gateway Developer Guide: "Integrations", quotas):
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
from typing import Literal, cast

from yaml.nodes import Node

from hyperplane_emu.spec import apitargets, apitls
from hyperplane_emu.spec.apiscope import ApiScope, RouteKey, VariableUse
from hyperplane_emu.spec.model import Integration
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean

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
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_URL = re.compile(r"(https?)://([^/?#:\s]+)(?::([0-9]{1,5}))?([/?#]\S*)?")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_URI_PARAM = re.compile(r"\{([^{}]*)\}")


def parse_integration(
    ctx: Ctx, node: Node, path: str, scope: ApiScope, key: str, route: RouteKey | None
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
    route: RouteKey | None,
    connection_type: str | None,
    connection_id: str | None,
) -> str | None:
    text = ctx.text(node, path, "a URL like http://orders.internal:80/orders")
    if text is None:
        return None
    if scope.type == "http" and connection_type == "VPC_LINK":
        return apitargets.http_api_target(ctx, text, node, path, scope, connection_id)
    return _url(ctx, text, node, path, scope, key, route)


def _url(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, key: str, route: RouteKey | None
) -> str | None:
    names = [m[1] for m in STAGE_VARIABLE.finditer(text)]
    plain = STAGE_VARIABLE.sub("stagevariable", text)
    if "${" in plain:
        ctx.error(path, node, f"uri {text!r}: only ${{stageVariables.<name>}} may be substituted")
        return None
    match = _URL.fullmatch(plain)
    if match is None or not _HOST.fullmatch(match[2]):
        hint = ""
        if scope.type == "http" and (
            apitargets.LISTENER.fullmatch(text) or text.startswith("cloud_map")
        ):
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
