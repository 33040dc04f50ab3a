"""HTTP API stage and route selection (pure).

API Gateway Developer Guide, "Routing API requests" (HTTP APIs):

- Stage: a request whose first path segment names a stage goes to that stage
  (the rest of the path is matched against the routes); otherwise it goes to
  the `$default` stage with its whole path; no `$default` stage ->
  404 `{"message":"Not Found"}`.
- Route: "the most-specific match", in this order: a full match of route and
  method (literal segments and `{param}`s), then a route with a greedy path
  variable `{proxy+}`, then the `$default` route; none -> 404. `ANY` matches
  every method a route does not define itself.

How "most specific" is ordered here (the guide gives the three tiers and an
example, not a total order): segment by segment from the left, a literal
beats a `{param}` beats a `{proxy+}`; at equal shape, a route naming the
method beats `ANY`. A route is only a candidate when its method fits, so
`POST /items` with routes `GET /items` and `ANY /{proxy+}` goes to the
greedy route (the guide's `POST /test/5` example). `{proxy+}` needs one
segment or more (`/items` does not match `/items/{proxy+}`), empty segments
and a trailing slash are ignored, literal segments compare percent-decoded,
and HEAD is not derived from GET (as for REST APIs here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from hyperplane_emu.services.apigateway.router import segments

T = TypeVar("T")

DEFAULT = "$default"  # the catch-all route key, and the stage without a path segment
_VAR = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_LITERAL, _PARAM, _GREEDY = 0, 1, 2


def select_stage(path: str, stages: Iterable[str]) -> tuple[str, str] | None:
    """(stage, path the routes see) or None (404): `/beta/items` -> ("beta", "/items")."""
    names = set(stages)
    rest = path.lstrip("/")
    first, slash, tail = rest.partition("/")
    if first and first != DEFAULT and first in names:
        return first, "/" + tail if slash else "/"
    if DEFAULT in names:
        return DEFAULT, path if path.startswith("/") else "/" + path
    return None


@dataclass(frozen=True)
class _Compiled(Generic[T]):
    method: str
    key: str  # "GET /items/{id}", as AWS writes route keys
    shape: tuple[int, ...]  # per segment: literal, param, greedy
    literals: tuple[str, ...]  # literal text, or the variable's name
    value: T


@dataclass(frozen=True)
class HttpMatch(Generic[T]):
    key: str  # the route key that matched ("$default" for the catch-all)
    value: T
    params: Mapping[str, str]  # decoded (what AWS hands integrations)
    raw_params: Mapping[str, str]  # as received, for paths built from them


class HttpRouteTable(Generic[T]):
    """An HTTP API's routes; `add` raises ValueError for malformed or duplicate keys."""

    def __init__(self) -> None:
        self._routes: list[_Compiled[T]] = []
        self._default: T | None = None
        self._keys: set[tuple[str, tuple[int, ...], tuple[str, ...]]] = set()

    def add(self, method: str, path: str, value: T) -> None:
        if path == DEFAULT:
            if self._default is not None:
                raise ValueError("the $default route is defined twice")
            self._default = value
            return
        if not path.startswith("/"):
            raise ValueError(f"a route path starts with / (or is $default), not {path!r}")
        segs = segments(path)
        shape: list[int] = []
        names: list[str] = []
        for i, seg in enumerate(segs):
            m = _VAR.match(seg)
            if m is None:
                if "{" in seg or "}" in seg:
                    raise ValueError(f"bad path segment {seg!r}")
                shape.append(_LITERAL)
                names.append(unquote(seg))
                continue
            greedy = m.group(2) == "+"
            if greedy and i != len(segs) - 1:
                raise ValueError(f"greedy {seg} must be the last segment")
            shape.append(_GREEDY if greedy else _PARAM)
            names.append(m.group(1))
        # Two routes with one method and one shape catch the same requests
        # (`GET /a/{id}` and `GET /a/{oid}`): AWS refuses the second as a conflict.
        text = tuple(n if k == _LITERAL else "" for k, n in zip(shape, names, strict=True))
        same = (method, tuple(shape), text)
        if same in self._keys:
            raise ValueError(f"{method} {path} conflicts with a route already defined")
        self._keys.add(same)
        self._routes.append(
            _Compiled(method, f"{method} {path}", tuple(shape), tuple(names), value)
        )
        # Most specific first: shape left to right, then a named method before ANY.
        self._routes.sort(key=lambda r: (r.shape + (3,), r.method == "ANY"))

    def match(self, path: str, method: str) -> HttpMatch[T] | None:
        segs = segments(path)
        for r in self._routes:
            if r.method != method and r.method != "ANY":
                continue
            raw = _fit(r, segs)
            if raw is not None:
                return HttpMatch(r.key, r.value, {k: unquote(v) for k, v in raw.items()}, raw)
        if self._default is not None:
            return HttpMatch(DEFAULT, self._default, {}, {})
        return None


def _fit(r: _Compiled[T], segs: Sequence[str]) -> dict[str, str] | None:
    """The route's path parameters (raw) if it matches these segments, else None."""
    n = len(r.shape)
    greedy = n > 0 and r.shape[-1] == _GREEDY
    fits = len(segs) >= n if greedy else len(segs) == n
    if not fits:
        return None
    raw: dict[str, str] = {}
    for i, kind in enumerate(r.shape):
        if kind == _LITERAL:
            if unquote(segs[i]) != r.literals[i]:
                return None
        elif kind == _PARAM:
            raw[r.literals[i]] = segs[i]
        else:
            raw[r.literals[i]] = "/".join(segs[i:])
    return raw
