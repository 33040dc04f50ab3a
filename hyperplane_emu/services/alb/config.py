"""The ALB data plane's configuration (JSON written by the runtime) -> frozen dataclasses.

`load(path)` / `parse(obj)` raise `ConfigError` carrying every problem found, each
prefixed by its JSON path (`listeners[0].rules[1].action.forward: ...`), so a bad
file is reported once, completely. docs/alb.md describes the format; actions and
conditions are written as in the topology file (`{forward: tg}`,
`{fixed_response: {status, body, content_type}}`, `{path: [...], http_header: {...}}`).
Durations are seconds and may be fractions (tests use 0.1 s health checks).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_IDLE_TIMEOUT = 60.0  # ALB attribute idle_timeout.timeout_seconds
DEFAULT_CONNECT_TIMEOUT = 10.0  # AWS: 504 when a target does not accept within 10 s
DEFAULT_LISTEN = "0.0.0.0"
CONTENT_TYPES = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
_MATCHER = re.compile(r"[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*")
_TOP_KEYS = {
    "name",
    "listen_address",
    "idle_timeout",
    "connect_timeout",
    "nodes",
    "zones",
    "listeners",
    "target_groups",
}


class ConfigError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Node:
    """One ALB node: its ENI's address in one AZ (a source for target connections)."""

    az: str
    address: str


@dataclass(frozen=True)
class FixedResponse:
    status: int
    body: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Action:
    """Exactly one of `forward` (a target group name) or `fixed_response`."""

    forward: str | None = None
    fixed_response: FixedResponse | None = None


@dataclass(frozen=True)
class Conditions:
    path: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    http_method: tuple[str, ...] = ()
    http_header: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Rule:
    priority: int
    conditions: Conditions
    action: Action


@dataclass(frozen=True)
class Listener:
    port: int  # 0 binds an ephemeral port (tests)
    default_action: Action
    rules: tuple[Rule, ...] = ()  # sorted by priority


@dataclass(frozen=True)
class HealthCheck:
    """HTTP health check (ALB defaults: /, traffic port, 30 s, 5 s, 5/2, "200")."""

    path: str = "/"
    port: int | None = None  # None: each target's traffic port
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"


@dataclass(frozen=True)
class Target:
    ip: str
    port: int
    az: str | None = None  # None: in every enabled AZ (never "unused")
    id: str = ""  # what describe() calls it (instance id or address)

    @property
    def key(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class TargetGroup:
    name: str
    port: int
    targets: tuple[Target, ...] = ()
    health_check: HealthCheck | None = field(default_factory=HealthCheck)
    """None: no health checks, every target counts as healthy at once (tests, demos)."""


@dataclass(frozen=True)
class AlbConfig:
    name: str
    listeners: tuple[Listener, ...]
    target_groups: Mapping[str, TargetGroup]
    nodes: tuple[Node, ...] = ()
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    listen_address: str = DEFAULT_LISTEN
    zones: tuple[str, ...] = ()
    """The ALB's enabled AZs (its subnets'). A process may serve one node only
    (`nodes` = that node) yet, cross-zone being always on, send to targets in
    every enabled AZ: `zones` says which those are."""

    @property
    def enabled_azs(self) -> frozenset[str] | None:
        """`zones`, else the nodes' AZs; None when neither is given (every AZ)."""
        if self.zones:
            return frozenset(self.zones)
        return frozenset(n.az for n in self.nodes) if self.nodes else None


def load(path: str | Path) -> AlbConfig:
    text = Path(path).read_text()
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ConfigError([f"{path}: not JSON: {e}"]) from e
    return parse(obj)


def parse(obj: Any) -> AlbConfig:
    p = _Parser()
    cfg = p.config(obj)
    if p.errors or cfg is None:
        raise ConfigError(p.errors or ["config: empty"])
    return cfg


def matches(matcher: str, status: int) -> bool:
    """Whether `status` is one of the codes `200`, `200,202`, `200-299` lists."""
    for part in matcher.split(","):
        low, _, high = part.partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


class _Parser:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    # -- helpers --------------------------------------------------------

    def obj(self, node: Any, path: str, keys: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(node, dict):
            self.err(path, f"must be an object, not {node!r}")
            return {}
        for key in sorted(set(node) - keys) if keys is not None else ():
            self.err(f"{path}.{key}" if path else key, "unknown key")
        return node

    def text(self, value: Any, path: str, empty_ok: bool = False) -> str | None:
        if not isinstance(value, str) or (not value and not empty_ok):
            self.err(path, f"must be a {'' if empty_ok else 'non-empty '}string, not {value!r}")
            return None
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.err(path, f"must be an integer in [{low}, {high}], not {value!r}")
            return None
        return value

    def seconds(self, value: Any, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.err(path, f"must be a positive number of seconds, not {value!r}")
            return None
        return float(value)

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.err(path, f"must be a non-empty list of strings, not {value!r}")
            return ()
        out = [self.text(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(v for v in out if v is not None)

    def ip(self, value: Any, path: str) -> str | None:
        try:
            return str(ipaddress.IPv4Address(value))
        except (ValueError, TypeError):
            self.err(path, f"{value!r} is not an IPv4 address")
            return None

    # -- sections -------------------------------------------------------

    def config(self, raw: Any) -> AlbConfig | None:
        root = self.obj(raw, "config", _TOP_KEYS)
        if not root:
            return None
        name = self.text(root.get("name", "alb"), "name") or "alb"
        listen = self.ip(root.get("listen_address", DEFAULT_LISTEN), "listen_address")
        idle = self.seconds(root.get("idle_timeout", DEFAULT_IDLE_TIMEOUT), "idle_timeout")
        connect = self.seconds(
            root.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT), "connect_timeout"
        )
        nodes = self.nodes(root.get("nodes", []))
        zones = self.strings(root["zones"], "zones") if "zones" in root else ()
        groups = self.target_groups(root.get("target_groups", {}))
        listeners = self.listeners(root.get("listeners"), groups)
        return AlbConfig(
            name=name,
            listeners=listeners,
            target_groups=groups,
            nodes=nodes,
            idle_timeout=idle or DEFAULT_IDLE_TIMEOUT,
            connect_timeout=connect or DEFAULT_CONNECT_TIMEOUT,
            listen_address=listen or DEFAULT_LISTEN,
            zones=zones,
        )

    def nodes(self, raw: Any) -> tuple[Node, ...]:
        if not isinstance(raw, list):
            self.err("nodes", f"must be a list of {{az, address}}, not {raw!r}")
            return ()
        out: list[Node] = []
        for i, item in enumerate(raw):
            path = f"nodes[{i}]"
            node = self.obj(item, path, {"az", "address"})
            az = self.text(node.get("az"), f"{path}.az")
            address = self.ip(node.get("address"), f"{path}.address")
            if az and address:
                out.append(Node(az, address))
        return tuple(out)

    def target_groups(self, raw: Any) -> dict[str, TargetGroup]:
        groups = self.obj(raw, "target_groups")
        out: dict[str, TargetGroup] = {}
        for name, item in groups.items():
            path = f"target_groups.{name}"
            tg = self.obj(item, path, {"port", "targets", "health_check"})
            port = self.integer(tg.get("port"), f"{path}.port", 1, 65535)
            targets = self.targets(tg.get("targets", []), f"{path}.targets", port)
            check: HealthCheck | None = None
            if tg.get("health_check", {}) is not None:
                check = self.health_check(tg.get("health_check", {}), f"{path}.health_check")
            if port is not None:
                out[name] = TargetGroup(name, port, targets, check)
        return out

    def targets(self, raw: Any, path: str, tg_port: int | None) -> tuple[Target, ...]:
        if not isinstance(raw, list):
            self.err(path, f"must be a list of {{ip, port, az, id}}, not {raw!r}")
            return ()
        out: list[Target] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            tpath = f"{path}[{i}]"
            t = self.obj(item, tpath, {"ip", "port", "az", "id"})
            ip = self.ip(t.get("ip"), f"{tpath}.ip")
            port = tg_port
            if "port" in t:
                port = self.integer(t["port"], f"{tpath}.port", 1, 65535)
            az = self.text(t["az"], f"{tpath}.az") if t.get("az") is not None else None
            tid = self.text(t.get("id", ip or "?"), f"{tpath}.id") or ""
            if ip is None or port is None:
                continue
            target = Target(ip, port, az, tid)
            if target.key in seen:
                self.err(tpath, f"target {target.key} is listed twice")
                continue
            seen.add(target.key)
            out.append(target)
        return tuple(out)

    def health_check(self, raw: Any, path: str) -> HealthCheck | None:
        keys = {
            "path",
            "port",
            "interval",
            "timeout",
            "healthy_threshold",
            "unhealthy_threshold",
            "matcher",
        }
        hc = self.obj(raw, path, keys)
        d = HealthCheck()
        check_path = self.text(hc.get("path", d.path), f"{path}.path") or d.path
        if not check_path.startswith("/"):
            self.err(f"{path}.path", f"must start with '/', not {check_path!r}")
        port = None
        if hc.get("port") is not None:
            port = self.integer(hc["port"], f"{path}.port", 1, 65535)
        interval = self.seconds(hc.get("interval", d.interval), f"{path}.interval") or d.interval
        timeout = self.seconds(hc.get("timeout", d.timeout), f"{path}.timeout") or d.timeout
        healthy = self.integer(
            hc.get("healthy_threshold", d.healthy_threshold), f"{path}.healthy_threshold", 1, 10
        )
        unhealthy = self.integer(
            hc.get("unhealthy_threshold", d.unhealthy_threshold),
            f"{path}.unhealthy_threshold",
            1,
            10,
        )
        matcher = hc.get("matcher", d.matcher)
        if isinstance(matcher, int) and not isinstance(matcher, bool):
            matcher = str(matcher)
        if not isinstance(matcher, str) or not _MATCHER.fullmatch(matcher):
            self.err(f"{path}.matcher", f"must be HTTP codes like 200 or 200-299, not {matcher!r}")
            matcher = d.matcher
        return HealthCheck(
            check_path,
            port,
            interval,
            timeout,
            healthy or d.healthy_threshold,
            unhealthy or d.unhealthy_threshold,
            matcher,
        )

    def listeners(self, raw: Any, groups: Mapping[str, TargetGroup]) -> tuple[Listener, ...]:
        if not isinstance(raw, list) or not raw:
            self.err("listeners", f"must be a non-empty list, not {raw!r}")
            return ()
        out: list[Listener] = []
        ports: set[int] = set()
        for i, item in enumerate(raw):
            path = f"listeners[{i}]"
            li = self.obj(item, path, {"port", "protocol", "default_action", "rules"})
            port = self.integer(li.get("port"), f"{path}.port", 0, 65535)
            if li.get("protocol", "http") != "http":
                self.err(f"{path}.protocol", f"must be http, not {li.get('protocol')!r}")
            if port is not None and port != 0 and port in ports:
                self.err(f"{path}.port", f"port {port} has another listener")
            if port is not None:
                ports.add(port)
            default = self.action(li.get("default_action"), f"{path}.default_action", groups)
            rules = self.rules(li.get("rules", []), f"{path}.rules", groups)
            if port is not None and default is not None:
                out.append(Listener(port, default, rules))
        return tuple(out)

    def rules(self, raw: Any, path: str, groups: Mapping[str, TargetGroup]) -> tuple[Rule, ...]:
        if not isinstance(raw, list):
            self.err(path, f"must be a list, not {raw!r}")
            return ()
        out: list[Rule] = []
        priorities: set[int] = set()
        for i, item in enumerate(raw):
            rpath = f"{path}[{i}]"
            r = self.obj(item, rpath, {"priority", "conditions", "action"})
            priority = self.integer(r.get("priority"), f"{rpath}.priority", 1, 50000)
            if priority is not None and priority in priorities:
                self.err(f"{rpath}.priority", f"priority {priority} is used twice")
                priority = None
            if priority is not None:
                priorities.add(priority)
            conditions = self.conditions(r.get("conditions"), f"{rpath}.conditions")
            action = self.action(r.get("action"), f"{rpath}.action", groups)
            if priority is not None and conditions is not None and action is not None:
                out.append(Rule(priority, conditions, action))
        return tuple(sorted(out, key=lambda rule: rule.priority))

    def conditions(self, raw: Any, path: str) -> Conditions | None:
        kinds = ("path", "host", "http_method", "http_header")
        c = self.obj(raw, path, set(kinds))
        if not any(kind in c for kind in kinds):
            self.err(path, "a rule needs at least one condition")
            return None
        headers: list[tuple[str, tuple[str, ...]]] = []
        if "http_header" in c:
            for name, values in self.obj(c["http_header"], f"{path}.http_header").items():
                headers.append((name, self.strings(values, f"{path}.http_header.{name}")))
        return Conditions(
            path=self.strings(c["path"], f"{path}.path") if "path" in c else (),
            host=self.strings(c["host"], f"{path}.host") if "host" in c else (),
            http_method=(
                self.strings(c["http_method"], f"{path}.http_method") if "http_method" in c else ()
            ),
            http_header=tuple(headers),
        )

    def action(self, raw: Any, path: str, groups: Mapping[str, TargetGroup]) -> Action | None:
        a = self.obj(raw, path, {"forward", "fixed_response"})
        if len(a) != 1:
            self.err(path, "must be exactly one of {forward: <group>} or {fixed_response: {...}}")
            return None
        if "forward" in a:
            group = self.text(a["forward"], f"{path}.forward")
            if group is not None and group not in groups:
                self.err(f"{path}.forward", f"no target group {group!r}")
                return None
            return Action(forward=group) if group is not None else None
        fr = self.obj(
            a["fixed_response"], f"{path}.fixed_response", {"status", "body", "content_type"}
        )
        fpath = f"{path}.fixed_response"
        status = self.integer(fr.get("status"), f"{fpath}.status", 200, 599)
        if status is not None and status // 100 in (1, 3):
            self.err(f"{fpath}.status", f"must be 2XX, 4XX or 5XX, not {status}")
            status = None
        body = self.text(fr.get("body", ""), f"{fpath}.body", empty_ok=True)
        content_type = self.text(fr.get("content_type", "text/plain"), f"{fpath}.content_type")
        if content_type is not None and content_type not in CONTENT_TYPES:
            self.err(f"{fpath}.content_type", f"must be one of {', '.join(CONTENT_TYPES)}")
            content_type = None
        if status is None or body is None or content_type is None:
            return None
        return Action(fixed_response=FixedResponse(status, body, content_type))
