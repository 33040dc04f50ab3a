"""ALB listener rules: actions (forward, fixed response) and conditions.

AWS facts behind the checks (ALB guide "Listener rules", "Rule condition
types", "Fixed-response actions"; ELB API CreateRule, quotas):
- every rule has a priority 1-50000, unique within its listener, at least one
  condition, and exactly one final action: `forward`, `fixed-response` or
  `redirect` (redirect and authentication are not emulated here);
- a fixed response has a status 2XX, 4XX or 5XX, an optional body of at most
  1024 characters and a content type among text/plain, text/css, text/html,
  application/javascript, application/json;
- conditions: at most one each of `host-header`, `http-request-method`,
  `path-pattern` (and `source-ip`, not emulated), any number of `http-header`
  (and `query-string`, not emulated); up to three values per condition and
  five per rule, and at most five wildcards per rule;
- path patterns: up to 128 characters of A-Z a-z 0-9 _ - . $ / ~ " ' @ : + &
  and the wildcards * ?, case-sensitive, matched against the path only (not
  the query string);
- host patterns: up to 128 characters of A-Z a-z 0-9 - . * ?, at least one
  dot, only letters after the last dot (wildcards aside), case-insensitive;
- methods: up to 40 characters of A-Z _ -, case-sensitive, no wildcards;
- header names: a token (no wildcards); values up to 128 characters with
  wildcards, case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec.model import AlbAction, AlbConditions, AlbRule, FixedResponse
from hyperplane_emu.spec.nodes import Ctx, MapView, describe, did_you_mean

ACTION_KEYS = ("forward", "fixed_response")
ACTIONS_NOT_EMULATED = {
    "redirect": "redirect actions are not emulated; use fixed_response or forward",
    "authenticate_cognito": "authentication actions are not emulated (they need HTTPS)",
    "authenticate_oidc": "authentication actions are not emulated (they need HTTPS)",
}
FIXED_KEYS = ("status", "body", "content_type")
CONTENT_TYPES = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
BODY_MAX = 1024
RULE_KEYS = ("priority", "conditions", "action", "target_group")
CONDITION_KEYS = ("path", "host", "http_method", "http_header")
CONDITIONS_NOT_EMULATED = {
    "query_string": "query-string conditions are not emulated",
    "source_ip": "source-ip conditions are not emulated",
}
PRIORITY = (1, 50000)
VALUES_PER_CONDITION = 3
VALUES_PER_RULE = 5
WILDCARDS_PER_RULE = 5
PATTERN_MAX = 128
METHOD_MAX = 40
_PATH = re.compile(r"[A-Za-z0-9_\-.$/~\"'@:+&*?]+")
_HOST = re.compile(r"[A-Za-z0-9\-.*?]+")
_HOST_TLD = re.compile(r".*\.[A-Za-z*?]+")
_METHOD = re.compile(r"[A-Z_-]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token
_HEADER_VALUE = re.compile(r"[ -~]+")  # printable ASCII
INT = "tag:yaml.org,2002:int"


@dataclass
class ActionScope:
    """What actions refer to: the ALB's target groups, and which ones get used."""

    groups: set[str]  # valid target groups of the ALB
    written: set[str] | None  # every name written (None: the section was unreadable)
    used: set[str] = field(default_factory=set)


def parse_action(ctx: Ctx, node: Node, path: str, scope: ActionScope) -> AlbAction | None:
    """`{forward: <target group>}` or `{fixed_response: {status, body, content_type}}`."""
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    for key, reason in ACTIONS_NOT_EMULATED.items():
        if key in view:
            ctx.error(view.path_of(key), view.key_node(key), f"{key}: {reason}")
    view.check_keys((*ACTION_KEYS, *ACTIONS_NOT_EMULATED))
    written = [k for k in ACTION_KEYS if k in view]
    if len(written) != 1 and len(ctx.issues) == issues_before:
        ctx.error(
            path,
            node,
            "an action is exactly one of forward: <target group> or fixed_response: {status}"
            + (f" (got {' and '.join(written)})" if written else ""),
        )
        return None
    forward_node = view.get("forward")
    if forward_node is not None:
        group = forward_target(ctx, forward_node, view.path_of("forward"), scope)
        ok = len(ctx.issues) == issues_before and group is not None
        return AlbAction(forward=group) if ok else None
    fixed_node = view.get("fixed_response")
    if fixed_node is None:
        return None
    fixed = _fixed_response(ctx, fixed_node, view.path_of("fixed_response"))
    if fixed is None or len(ctx.issues) > issues_before:
        return None
    return AlbAction(fixed_response=fixed)


def forward_target(ctx: Ctx, node: Node, path: str, scope: ActionScope) -> str | None:
    group = ctx.text(node, path, "a target group name")
    if group is None:
        return None
    scope.used.add(group)
    if scope.written is not None and group not in scope.written:
        ctx.error(
            path,
            node,
            f"no target group {group!r} in this load balancer{did_you_mean(group, scope.written)}",
        )
        return None
    return group  # a broken group (already reported) still names the right thing


def _fixed_response(ctx: Ctx, node: Node, path: str) -> FixedResponse | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(FIXED_KEYS, required=("status",))
    status = None
    status_node = view.get("status")
    if status_node is not None:
        status = ctx.integer(status_node, view.path_of("status"), 200, 599)
        if status is not None and status // 100 == 3:
            ctx.error(
                view.path_of("status"),
                status_node,
                f"a fixed response is 2XX, 4XX or 5XX (AWS), not {status}; redirects are "
                "their own action",
            )
    body = ""
    body_node = view.get("body")
    if body_node is not None:
        text = _body_text(ctx, body_node, view.path_of("body"))
        if text is not None and len(text) > BODY_MAX:
            ctx.error(
                view.path_of("body"),
                body_node,
                f"a fixed response body is at most {BODY_MAX} characters, not {len(text)}",
            )
        body = text or ""
    content_type = FixedResponse.content_type
    type_node = view.get("content_type")
    if type_node is not None:
        text = ctx.text(type_node, view.path_of("content_type"), "a content type")
        if text is not None and text not in CONTENT_TYPES:
            ctx.error(
                view.path_of("content_type"),
                type_node,
                f"content type {text!r} is not one of {', '.join(CONTENT_TYPES)} (AWS)"
                f"{did_you_mean(text, CONTENT_TYPES)}",
            )
        content_type = text or content_type
    if len(ctx.issues) > issues_before or status is None:
        return None
    return FixedResponse(status, body, content_type)


def _body_text(ctx: Ctx, node: Node, path: str) -> str | None:
    if isinstance(node, ScalarNode) and node.tag == INT:
        return str(node.value)  # `body: 42` is the text 42
    return ctx.text(node, path, "a string")


# -- rules -------------------------------------------------------------------------------


def parse_rules(ctx: Ctx, node: Node, path: str, scope: ActionScope) -> tuple[AlbRule, ...] | None:
    """The listener's rules sorted by priority, or None when any is broken."""
    items = ctx.sequence(node, path)
    if items is None:
        return None
    issues_before = len(ctx.issues)
    result: list[AlbRule] = []
    seen: dict[int, str] = {}
    for item_path, item in items:
        rule = _rule(ctx, item, item_path, scope)
        if rule is None:
            continue
        if rule.priority in seen:
            ctx.error(
                f"{item_path}.priority",
                item,
                f"priority {rule.priority} is already used by {seen[rule.priority]}; "
                "priorities are unique per listener (AWS)",
            )
            continue
        seen[rule.priority] = item_path.rsplit(".", 1)[-1]
        result.append(rule)
    if len(ctx.issues) > issues_before:
        return None
    return tuple(sorted(result, key=lambda r: r.priority))


def _rule(ctx: Ctx, node: Node, path: str, scope: ActionScope) -> AlbRule | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(RULE_KEYS, required=("priority", "conditions"))
    priority = None
    priority_node = view.get("priority")
    if priority_node is not None:
        priority = ctx.integer(priority_node, view.path_of("priority"), *PRIORITY)
    conditions = None
    conditions_node = view.get("conditions")
    if conditions_node is not None:
        conditions = _conditions(ctx, conditions_node, view.path_of("conditions"))
    action = rule_action(ctx, view, scope, "action", "a rule")
    if len(ctx.issues) > issues_before or priority is None or conditions is None or not action:
        return None
    return AlbRule(priority, conditions, action)


def rule_action(
    ctx: Ctx, view: MapView, scope: ActionScope, key: str, owner: str
) -> AlbAction | None:
    """`<key>: {…}` (`action` in rules, `default_action` in listeners), or
    `target_group: X`, short for `<key>: {forward: X}`."""
    long_node = view.get(key)
    short_node = view.get("target_group")
    if long_node is not None and short_node is not None:
        ctx.error(
            view.path_of("target_group"),
            short_node,
            f"write {key} or its short form target_group, not both",
        )
        return None
    if short_node is not None:
        group = forward_target(ctx, short_node, view.path_of("target_group"), scope)
        return AlbAction(forward=group) if group is not None else None
    if long_node is not None:
        return parse_action(ctx, long_node, view.path_of(key), scope)
    ctx.error(
        view.path_of(key),
        view.node,
        f"{owner} needs {key} (forward or fixed_response) or target_group",
    )
    return None


# -- conditions --------------------------------------------------------------------------


@dataclass
class _Budget:
    """Values and wildcards counted across one rule's conditions (AWS quotas)."""

    values: int = 0
    wildcards: int = 0


def _conditions(ctx: Ctx, node: Node, path: str) -> AlbConditions | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    for key, reason in CONDITIONS_NOT_EMULATED.items():
        if key in view:
            ctx.error(view.path_of(key), view.key_node(key), f"{key}: {reason}")
    view.check_keys((*CONDITION_KEYS, *CONDITIONS_NOT_EMULATED))
    if not any(key in view for key in CONDITION_KEYS) and len(ctx.issues) == issues_before:
        ctx.error(
            path,
            node,
            "a rule needs at least one condition (path, host, http_method, http_header); "
            "the listener's default action is the rule without conditions",
        )
        return None
    budget = _Budget()
    values: dict[str, tuple[str, ...]] = {}
    for key, check in (("path", _path_value), ("host", _host_value), ("http_method", _method)):
        value_node = view.get(key)
        if value_node is not None:
            values[key] = _values(ctx, value_node, view.path_of(key), check, budget) or ()
    headers: dict[str, tuple[str, ...]] = {}
    header_node = view.get("http_header")
    if header_node is not None:
        headers = _headers(ctx, header_node, view.path_of("http_header"), budget)
    if budget.values > VALUES_PER_RULE:
        ctx.error(
            path,
            node,
            f"{budget.values} condition values; AWS allows at most {VALUES_PER_RULE} per rule",
        )
    elif budget.wildcards > WILDCARDS_PER_RULE:
        ctx.error(
            path,
            node,
            f"{budget.wildcards} wildcards; AWS allows at most {WILDCARDS_PER_RULE} per rule",
        )
    if len(ctx.issues) > issues_before:
        return None
    return AlbConditions(
        path=values.get("path", ()),
        host=values.get("host", ()),
        http_method=values.get("http_method", ()),
        http_header=headers,
    )


ValueCheck = Callable[[Ctx, str, Node, str], bool]


def _values(
    ctx: Ctx, node: Node, path: str, check: ValueCheck, budget: _Budget
) -> tuple[str, ...] | None:
    """A string or a list of 1-3 strings, each checked by `check(ctx, text, node, path)`."""
    items: list[tuple[str, Node]]
    if isinstance(node, SequenceNode):
        items = ctx.sequence(node, path) or []
        if not items:
            ctx.error(path, node, "at least one value is needed")
            return None
    elif isinstance(node, ScalarNode):
        items = [(path, node)]
    else:
        ctx.error(path, node, f"expected a string or a list of strings, got {describe(node)}")
        return None
    if len(items) > VALUES_PER_CONDITION:
        ctx.error(
            path,
            node,
            f"{len(items)} values; AWS allows at most {VALUES_PER_CONDITION} per condition",
        )
        return None
    result: list[str] = []
    for item_path, item in items:
        text = ctx.text(item, item_path, "a string")
        if text is None or not check(ctx, text, item, item_path):
            continue
        if text in result:
            ctx.error(item_path, item, f"{text!r} is listed twice")
            continue
        result.append(text)
        budget.wildcards += text.count("*") + text.count("?")
    budget.values += len(items)
    return tuple(result) if len(result) == len(items) else None


def _path_value(ctx: Ctx, text: str, node: Node, path: str) -> bool:
    if len(text) > PATTERN_MAX or not _PATH.fullmatch(text):
        ctx.error(
            path,
            node,
            f"path pattern {text!r} must be 1-{PATTERN_MAX} characters of letters, digits, "
            "_ - . $ / ~ \" ' @ : + & and the wildcards * ?",
        )
        return False
    if not text.startswith(("/", "*", "?")):
        ctx.warn(path, node, f"path pattern {text!r} never matches: request paths start with '/'")
    return True


def _host_value(ctx: Ctx, text: str, node: Node, path: str) -> bool:
    if len(text) > PATTERN_MAX or not _HOST.fullmatch(text):
        ctx.error(
            path,
            node,
            f"host pattern {text!r} must be 1-{PATTERN_MAX} characters of letters, digits, "
            "- . and the wildcards * ?",
        )
        return False
    if not _HOST_TLD.fullmatch(text):
        ctx.error(
            path,
            node,
            f"host pattern {text!r} needs at least one '.' and only letters after the last "
            "one (AWS)",
        )
        return False
    return True


def _method(ctx: Ctx, text: str, node: Node, path: str) -> bool:
    if len(text) > METHOD_MAX or not _METHOD.fullmatch(text):
        hint = f"; did you mean {text.upper()!r}?" if _METHOD.fullmatch(text.upper()) else ""
        ctx.error(
            path,
            node,
            f"method {text!r} must be 1-{METHOD_MAX} characters of A-Z _ - (case-sensitive, "
            f"no wildcards){hint}",
        )
        return False
    return True


def _header_value(ctx: Ctx, text: str, node: Node, path: str) -> bool:
    if len(text) > PATTERN_MAX or not _HEADER_VALUE.fullmatch(text):
        ctx.error(
            path,
            node,
            f"header value {text!r} must be 1-{PATTERN_MAX} printable characters",
        )
        return False
    return True


def _headers(ctx: Ctx, node: Node, path: str, budget: _Budget) -> dict[str, tuple[str, ...]]:
    """`{X-Env: [prod, staging]}`: one http-header condition per header name."""
    if not isinstance(node, MappingNode):
        ctx.error(path, node, f"expected a mapping of header name to values, got {describe(node)}")
        return {}
    view = MapView(ctx, node, path)
    if len(view) == 0:
        ctx.error(path, node, "at least one header is needed")
        return {}
    result: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for name, value_path, value_node in view.items():
        key_node = view.key_node(name)
        if not _HEADER_NAME.fullmatch(name) or len(name) > PATTERN_MAX:
            ctx.error(value_path, key_node, f"header name {name!r} is not an HTTP token")
            continue
        if "*" in name or "?" in name:
            ctx.error(value_path, key_node, f"header name {name!r}: no wildcards in names (AWS)")
            continue
        if name.lower() in seen:
            ctx.error(
                value_path,
                key_node,
                f"header {name!r} is {seen[name.lower()]!r} again (names are case-insensitive)",
            )
            continue
        seen[name.lower()] = name
        values = _values(ctx, value_node, value_path, _header_value, budget)
        if values is not None:
            result[name] = values
    return result
