"""Target-group health checks, NLB and ALB: one parser, one matcher, two rule sets.

AWS facts behind the checks (ELB API CreateTargetGroup; NLB guide "Health
checks for Network Load Balancer target groups"; ALB guide "Health checks for
Application Load Balancer target groups"):
- both: port 1-65535 or `traffic-port` (the default: each target's own port),
  path starting with `/` (default `/`), interval 5-300 s (default 30; the
  emulator allows 1 s so that tests need not wait), timeout 2-120 s and not
  longer than the interval, thresholds 2-10 (defaults 5 healthy, 2 unhealthy);
- NLB: TCP (the default) or HTTP (HTTPS not emulated); timeout default 10 s for
  TCP, 6 s for HTTP; `path` and `matcher` are HTTP-only; matcher codes 200-599,
  default `200-399`;
- ALB: HTTP or HTTPS, never TCP (HTTPS not emulated); timeout default 5 s;
  matcher codes 200-499, default `200`.

A default timeout is never longer than the interval written (AWS would refuse
the pair; the emulator shortens its own default instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from yaml.nodes import Node, ScalarNode

from hyperplane_emu.spec import refs
from hyperplane_emu.spec.model import HealthCheck
from hyperplane_emu.spec.nodes import Ctx, MapView

HEALTH_KEYS = (
    "protocol",
    "port",
    "path",
    "interval",
    "timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "matcher",
)
INTERVAL = (1, 300)
TIMEOUT = (2, 120)
THRESHOLD = (2, 10)
PATH_MAX = 1024
TRAFFIC_PORT = "traffic-port"
INT = "tag:yaml.org,2002:int"
_MATCHER = re.compile(r"[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*")


@dataclass(frozen=True)
class CheckRules:
    """What one kind of load balancer accepts in a health check, and its AWS defaults."""

    lb: str  # how messages name the load balancer
    protocols: tuple[str, ...]
    not_emulated: Mapping[str, str]
    """Protocols AWS knows that are refused here, with the reason."""
    timeouts: Mapping[str, int]
    """AWS's default timeout per check protocol; the first key is the default protocol."""
    matcher_codes: tuple[int, int]
    matcher_default: str
    matcher_example: str

    @property
    def default_protocol(self) -> str:
        return next(iter(self.timeouts))

    def default(self) -> HealthCheck:
        """The check of a target group that writes no `health_check`."""
        return HealthCheck(
            protocol=cast(Literal["tcp", "http"], self.default_protocol),
            timeout=self.timeouts[self.default_protocol],
            matcher=self.matcher_default,
        )


NLB = CheckRules(
    lb="NLB",
    protocols=("tcp", "http"),
    not_emulated={
        "https": "HTTPS health checks are not emulated; use http or tcp",
        "udp": "AWS has no UDP health checks; use tcp or http",
    },
    timeouts={"tcp": 10, "http": 6},
    matcher_codes=(200, 599),
    matcher_default="200-399",
    matcher_example="200-399",
)
ALB = CheckRules(
    lb="ALB",
    protocols=("http",),
    not_emulated={
        "https": "HTTPS health checks are not emulated; use http",
        "tcp": "ALB health checks are HTTP or HTTPS (AWS); TCP checks are for NLBs",
    },
    timeouts={"http": 5},
    matcher_codes=(200, 499),
    matcher_default="200",
    matcher_example="200-299",
)


def parse(ctx: Ctx, node: Node, path: str, rules: CheckRules) -> HealthCheck | None:
    """A `health_check` mapping (null: every default); None when it has errors."""
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(HEALTH_KEYS)

    protocol: str | None = refs.key_choice(
        ctx,
        view,
        "protocol",
        rules.default_protocol,
        "health check protocol",
        rules.protocols,
        rules.not_emulated,
    )

    port: int | None = None
    port_node = view.get("port")
    if port_node is not None:
        port = check_port(ctx, port_node, view.path_of("port"))

    check_path = _http_only(ctx, view, "path", protocol, check_path_of)
    matcher = _http_only(
        ctx,
        view,
        "matcher",
        protocol,
        lambda c, n, p: parse_matcher(c, n, p, rules),
    )

    values: dict[str, int] = {}
    for key, (low, high) in (
        ("interval", INTERVAL),
        ("timeout", TIMEOUT),
        ("healthy_threshold", THRESHOLD),
        ("unhealthy_threshold", THRESHOLD),
    ):
        value_node = view.get(key)
        if value_node is not None:
            value = ctx.integer(value_node, view.path_of(key), low, high)
            if value is not None:
                values[key] = value
    interval = values.get("interval", HealthCheck.interval)
    # A broken interval is its own root cause: do not compare the timeout with a guess.
    interval_ok = "interval" in values or "interval" not in view
    timeout_node = view.get("timeout")
    if timeout_node is not None and interval_ok and values.get("timeout", 0) > interval:
        ctx.error(
            view.path_of("timeout"),
            timeout_node,
            f"timeout {values['timeout']} s is longer than the interval {interval} s",
        )
    elif timeout_node is None and protocol is not None:
        values["timeout"] = min(rules.timeouts[protocol], interval)

    if len(ctx.issues) > issues_before or protocol is None:
        return None
    return HealthCheck(
        protocol=cast(Literal["tcp", "http"], protocol),
        port=port,
        path=check_path or HealthCheck.path,
        matcher=matcher or rules.matcher_default,
        **values,
    )


def check_port(ctx: Ctx, node: Node, path: str) -> int | None:
    """A port, or `traffic-port` (AWS's default: the port each target receives traffic on)."""
    if isinstance(node, ScalarNode) and node.value == TRAFFIC_PORT:
        return None
    return ctx.integer(node, path, 1, 65535)


def _http_only(
    ctx: Ctx,
    view: MapView,
    key: str,
    protocol: str | None,
    read: Callable[[Ctx, Node, str], str | None],
) -> str | None:
    node = view.get(key)
    if node is None:
        return None
    if protocol == "tcp":
        ctx.error(view.path_of(key), node, f"{key} applies to http health checks only (AWS)")
        return None
    return read(ctx, node, view.path_of(key))


def check_path_of(ctx: Ctx, node: Node, path: str) -> str | None:
    """The path an HTTP check requests: starts with '/', at most `PATH_MAX`, no spaces."""
    text = ctx.text(node, path, "a URL path like /health")
    if text is None:
        return None
    if not text.startswith("/"):
        ctx.error(path, node, f"health check path {text!r} must start with '/'")
        return None
    if len(text) > PATH_MAX or any(c.isspace() for c in text):
        ctx.error(path, node, f"health check path must be at most {PATH_MAX} characters, no spaces")
        return None
    return text


def parse_matcher(ctx: Ctx, node: Node, path: str, rules: CheckRules) -> str | None:
    """HTTP codes counted healthy: `200`, `200,202`, `200-299`, within `rules.matcher_codes`."""
    value: str | None
    if isinstance(node, ScalarNode) and node.tag == INT:
        value = str(node.value)  # `matcher: 200` unquoted
    else:
        value = ctx.text(node, path, f'HTTP codes like "{rules.matcher_example}"')
        if value is None:
            return None
    if not _MATCHER.fullmatch(value):
        ctx.error(
            path,
            node,
            f"matcher {value!r} is not HTTP codes like 200, 200,202 or {rules.matcher_example}",
        )
        return None
    low, high = rules.matcher_codes
    for part in value.split(","):
        first, _, last = part.partition("-")
        pair = (int(first), int(last or first))
        if not all(low <= code <= high for code in pair):
            ctx.error(
                path, node, f"matcher {value!r}: {rules.lb} health checks accept codes {low}-{high}"
            )
            return None
        if pair[0] > pair[1]:
            ctx.error(path, node, f"matcher range {part} runs backwards")
            return None
    return value


def matches(matcher: str, status: int) -> bool:
    """Whether an HTTP status counts as healthy under a matcher the spec accepted."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False
