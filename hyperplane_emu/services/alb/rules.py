"""Listener rule evaluation (sans-IO): request head in, the action and why out.

ALB semantics (ALB guide "Listener rules", "Rule condition types"): rules are
evaluated by priority, lowest first; the first rule whose conditions all match
decides; when none does, the listener's default action applies. Within one
condition kind the values are alternatives. Wildcards: `*` is any run of
characters (`/` included), `?` exactly one; patterns match the whole value.
- path: the request path without the query string, case-sensitive;
- host: the Host header without its port, case-insensitive;
- http_method: exact and case-sensitive, no wildcards;
- http_header: the header name case-insensitive; a value matches when any
  line of that header matches one pattern, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from hyperplane_emu.plan.model import PlanAlbAction, PlanAlbConditions, PlanAlbListener, PlanAlbRule

Headers = Sequence[tuple[bytes, bytes]]


@lru_cache(maxsize=4096)
def glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """A compiled regular expression for an ALB wildcard pattern."""
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@dataclass(frozen=True)
class Request:
    """What rules look at: method, path (no query), host (no port), headers."""

    method: str
    path: str
    host: str | None
    headers: Headers

    @classmethod
    def from_head(cls, method: bytes, target: bytes, headers: Headers) -> Request:
        text = target.decode("latin-1")
        if "://" in text:  # absolute-form: scheme://authority/path
            text = "/" + text.split("://", 1)[1].partition("/")[2]
        path = text.split("?", 1)[0].split("#", 1)[0] or "/"
        host = None
        for name, value in headers:
            if name.lower() == b"host":
                host = _strip_port(value.decode("latin-1").strip())
                break
        return cls(method.decode("latin-1"), path, host, headers)

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower().encode("latin-1")
        return [v.decode("latin-1").strip() for n, v in self.headers if n.lower() == wanted]


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [v6]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class Verdict:
    """The action to take and which rule chose it (None: the default action)."""

    action: PlanAlbAction
    priority: int | None

    @property
    def reason(self) -> str:
        return "default action" if self.priority is None else f"rule {self.priority}"


def conditions_match(conditions: PlanAlbConditions, request: Request) -> bool:
    if conditions.http_method and request.method not in conditions.http_method:
        return False
    if conditions.path and not any(glob(p, False).fullmatch(request.path) for p in conditions.path):
        return False
    if conditions.host and (
        request.host is None
        or not any(glob(h, True).fullmatch(request.host) for h in conditions.host)
    ):
        return False
    for name, patterns in conditions.http_header.items():
        values = request.header_values(name)
        if not any(glob(p, True).fullmatch(v) for p in patterns for v in values):
            return False
    return True


def evaluate(listener: PlanAlbListener, request: Request) -> Verdict:
    """The first matching rule by priority, else the default action."""
    return first_match(listener.rules, request) or Verdict(listener.default_action, None)


def first_match(rules: Sequence[PlanAlbRule], request: Request) -> Verdict | None:
    for rule in rules:  # the config keeps them sorted by priority
        if conditions_match(rule.conditions, request):
            return Verdict(rule.action, rule.priority)
    return None
