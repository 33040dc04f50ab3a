"""Routes of an API (`apis.<api>.routes`): route keys, their paths, clashes between them.

A route key is `"METHOD /path"` (REST: resource + method; HTTP APIs: route
key), or `$default` on HTTP APIs. Each route has one integration, parsed by
`apiintegrations`.

AWS facts behind the checks (API Gateway Developer Guide: "Set up REST API
resources", "Routes for HTTP APIs"):
- methods GET POST PUT PATCH DELETE HEAD OPTIONS ANY; paths start with `/`,
  a segment is a literal or `{name}`, and a greedy `{name+}` only ends a path;
- a REST resource has at most one variable child ("A sibling ({id}) of this
  resource already has a variable path part -- only one is allowed").
"""

from __future__ import annotations

import re

from yaml.nodes import Node

from hyperplane_emu.spec import apiintegrations
from hyperplane_emu.spec.apiscope import ApiScope, RouteKey
from hyperplane_emu.spec.model import Integration, Route
from hyperplane_emu.spec.nodes import Ctx, did_you_mean

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
DEFAULT_ROUTE = "$default"
ROUTE_KEYS = ("integration",)
_ROUTE_KEY = re.compile(r"(\S+) (\S+)")
_LITERAL = re.compile(r"[A-Za-z0-9._:~@-]+")
_PARAM = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")


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


def _route_key(ctx: Ctx, key: str, node: Node, path: str, api_type: str | None) -> RouteKey | None:
    if key == DEFAULT_ROUTE:
        if api_type == "rest":
            ctx.error(
                path,
                node,
                "$default routes are for HTTP APIs; a REST API catches everything with "
                "'ANY /{proxy+}'",
            )
            return None
        return RouteKey("ANY", DEFAULT_ROUTE, (), frozenset())
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
    return RouteKey(method, route_path, segments, params)


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
    route: RouteKey,
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
    ctx: Ctx, node: Node, path: str, scope: ApiScope, key: str, route: RouteKey | None
) -> Integration | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    view.check_keys(ROUTE_KEYS, required=ROUTE_KEYS)
    integration_node = view.get("integration")
    if integration_node is None:
        return None
    return apiintegrations.parse_integration(
        ctx, integration_node, view.path_of("integration"), scope, key, route
    )
