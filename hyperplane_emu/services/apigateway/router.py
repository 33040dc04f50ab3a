"""Which API a request names, and which resource and method its path selects (pure).

API selection, in this order (Developer Guide, "Invoke a private API"):

1. Host `<api-id>.execute-api.<region>.amazonaws.com`;
2. Host `<api-id>-<vpce-id>.execute-api.<region>.amazonaws.com` (endpoint-specific
   name; the vpce id in it is informational: policies see the endpoint the
   connection really came through);
3. any other Host with header `x-apigw-api-id: <api-id>`.

Resource selection (REST APIs): the path after the stage is matched against
the API's resource tree. At every level a literal segment is tried first, then
the level's path variable `{name}`, then a greedy `{name+}` (one or more
segments); the first complete match whose resource has at least one method
wins (depth-first, so `/orders/special` beats `/orders/{id}` beats
`/{proxy+}`). AWS allows one variable child per resource, which
`config` enforces, so the order is total. The method is then looked up on that
resource only: exact method, else `ANY`. `HEAD` is not derived from `GET`
(a REST API answers HEAD only where a HEAD or ANY method exists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

_VAR = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


def strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def host_pattern(region: str) -> re.Pattern[str]:
    return re.compile(
        r"^([a-z0-9]+)(?:-(vpce-[a-z0-9]+))?\.execute-api\."
        + re.escape(region.lower())
        + r"\.amazonaws\.com\.?$"
    )


@dataclass(frozen=True)
class ApiTarget:
    api_id: str
    vpce_in_host: str | None  # form 2
    via: str  # "host", "vpce-host" or "header"


def select_api(
    host: str | None, api_id_header: str | None, pattern: re.Pattern[str]
) -> ApiTarget | None:
    """The API a request names, or None (then API Gateway answers 403 Forbidden)."""
    if host:
        m = pattern.match(strip_port(host))
        if m:
            vpce = m.group(2)
            return ApiTarget(m.group(1), vpce, "vpce-host" if vpce else "host")
    if api_id_header:
        api_id = api_id_header.strip().lower()
        if api_id:
            return ApiTarget(api_id, None, "header")
    return None


def split_target(target: str) -> tuple[str, str]:
    """`/prod/a?b=c` -> (`/prod/a`, `b=c`); absolute-form targets keep only the path."""
    if not target.startswith("/"):
        # absolute-form (RFC 9112 §3.2.2): http://host/path?q
        scheme_end = target.find("://")
        if scheme_end >= 0:
            slash = target.find("/", scheme_end + 3)
            target = target[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    path = path.split("#", 1)[0]
    return path, query


def split_stage(path: str) -> tuple[str, str]:
    """`/prod/orders/1` -> (`prod`, `/orders/1`); `/prod` -> (`prod`, `/`)."""
    rest = path.lstrip("/")
    stage, slash, tail = rest.partition("/")
    return stage, "/" + tail if slash else "/"


def segments(resource_path: str) -> list[str]:
    """Path segments, empty ones dropped (`/a//b/` is `/a/b`, as API Gateway treats it)."""
    return [s for s in resource_path.split("/") if s]


@dataclass
class _Node(Generic[T]):
    path: str
    literal: dict[str, _Node[T]] = field(default_factory=dict)
    var: _Node[T] | None = None
    var_name: str = ""
    greedy: bool = False
    methods: dict[str, T] = field(default_factory=dict)


@dataclass(frozen=True)
class Match(Generic[T]):
    resource: str  # the resource path as configured, e.g. "/orders/{id}"
    route: T | None  # None: the resource has no such method (Missing Authentication Token)
    params: Mapping[str, str]  # decoded values, for display and policies
    raw_params: Mapping[str, str]  # as received (still percent-encoded), for the uri


class ResourceTree(Generic[T]):
    """Resources of one API with what each method maps to (`T`: the route object)."""

    def __init__(self) -> None:
        self.root: _Node[T] = _Node("/")

    def add(self, path: str, method: str, value: T) -> None:
        """Insert; raises ValueError for malformed or conflicting paths."""
        node = self.root
        segs = segments(path)
        for i, seg in enumerate(segs):
            m = _VAR.match(seg)
            sub = "/" + "/".join(segs[: i + 1])
            if m is None:
                if "{" in seg or "}" in seg:
                    raise ValueError(f"bad path segment {seg!r}")
                node = node.literal.setdefault(seg, _Node(sub))
                continue
            name, plus = m.group(1), m.group(2) == "+"
            if plus and i != len(segs) - 1:
                raise ValueError(f"greedy {seg} must be the last segment")
            if node.var is None:
                node.var = _Node(sub)
                node.var_name, node.greedy = name, plus
            elif (node.var_name, node.greedy) != (name, plus):
                have = "{" + node.var_name + ("+" if node.greedy else "") + "}"
                raise ValueError(
                    f"{seg} and {have} are siblings; a resource may have only one "
                    "variable path part child"
                )
            node = node.var
        if method in node.methods:
            raise ValueError(f"{method} {path} is defined twice")
        node.methods[method] = value

    def match(self, resource_path: str, method: str) -> Match[T] | None:
        """The selected resource and its method, or None when no resource matches."""
        segs = segments(resource_path)
        raw: dict[str, str] = {}
        node = self._walk(self.root, segs, 0, raw)
        if node is None:
            return None
        route = node.methods.get(method)
        if route is None:
            route = node.methods.get("ANY")
        return Match(node.path, route, {k: unquote(v) for k, v in raw.items()}, dict(raw))

    def _walk(
        self, node: _Node[T], segs: Sequence[str], i: int, raw: dict[str, str]
    ) -> _Node[T] | None:
        if i == len(segs):
            return node if node.methods else None
        child = node.literal.get(unquote(segs[i]))
        if child is not None:
            found = self._walk(child, segs, i + 1, raw)
            if found is not None:
                return found
        var = node.var
        if var is None:
            return None
        if node.greedy:
            if var.methods:
                raw[node.var_name] = "/".join(segs[i:])
                return var
            return None
        raw[node.var_name] = segs[i]
        found = self._walk(var, segs, i + 1, raw)
        if found is None:
            del raw[node.var_name]
        return found
