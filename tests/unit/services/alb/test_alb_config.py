"""The ALB config file: a full valid config, defaults, and every error reported with its path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hyperplane_emu.services.alb import config as config_mod
from hyperplane_emu.services.alb.config import (
    Action,
    Conditions,
    ConfigError,
    FixedResponse,
    HealthCheck,
    Node,
    Rule,
    Target,
    matches,
)

FULL: dict[str, Any] = {
    "name": "orders-alb",
    "listen_address": "0.0.0.0",
    "idle_timeout": 30,
    "connect_timeout": 2.5,
    "nodes": [
        {"az": "us-east-1a", "address": "10.0.1.100"},
        {"az": "us-east-1b", "address": "10.0.2.100"},
    ],
    "listeners": [
        {
            "port": 80,
            "protocol": "http",
            "default_action": {"fixed_response": {"status": 404, "body": "no"}},
            "rules": [
                {
                    "priority": 20,
                    "conditions": {"path": "/admin/*", "http_header": {"X-Team": ["ops"]}},
                    "action": {"forward": "admin"},
                },
                {
                    "priority": 10,
                    "conditions": {"path": ["/orders", "/orders/*"], "http_method": ["GET"]},
                    "action": {"forward": "orders"},
                },
            ],
        }
    ],
    "target_groups": {
        "orders": {
            "port": 8080,
            "targets": [
                {"id": "web1", "ip": "10.0.1.10", "az": "us-east-1a"},
                {"ip": "10.0.2.10", "port": 8081, "az": "us-east-1b"},
            ],
            "health_check": {"path": "/health", "interval": 0.5, "timeout": 0.2, "matcher": 200},
        },
        "admin": {"port": 9000, "targets": [{"ip": "10.0.1.11"}], "health_check": None},
    },
}


def test_full_config() -> None:
    cfg = config_mod.parse(FULL)
    assert (cfg.name, cfg.idle_timeout, cfg.connect_timeout) == ("orders-alb", 30.0, 2.5)
    assert cfg.nodes == (Node("us-east-1a", "10.0.1.100"), Node("us-east-1b", "10.0.2.100"))
    assert cfg.enabled_azs == {"us-east-1a", "us-east-1b"}
    (li,) = cfg.listeners
    assert li.default_action == Action(fixed_response=FixedResponse(404, "no", "text/plain"))
    assert [r.priority for r in li.rules] == [10, 20]  # sorted
    assert li.rules[1] == Rule(
        20, Conditions(path=("/admin/*",), http_header=(("X-Team", ("ops",)),)), Action("admin")
    )
    orders = cfg.target_groups["orders"]
    assert orders.targets == (
        Target("10.0.1.10", 8080, "us-east-1a", "web1"),
        Target("10.0.2.10", 8081, "us-east-1b", "10.0.2.10"),
    )
    assert orders.health_check == HealthCheck("/health", None, 0.5, 0.2, 5, 2, "200")
    assert cfg.target_groups["admin"].health_check is None


def test_zones_enable_azs_beyond_the_nodes_of_this_process() -> None:
    one_node = {**FULL, "nodes": FULL["nodes"][:1], "zones": ["us-east-1a", "us-east-1b"]}
    cfg = config_mod.parse(one_node)
    assert cfg.enabled_azs == {"us-east-1a", "us-east-1b"}
    assert config_mod.parse({**FULL, "nodes": FULL["nodes"][:1]}).enabled_azs == {"us-east-1a"}
    with pytest.raises(ConfigError, match="zones: must be a non-empty list"):
        config_mod.parse({**FULL, "zones": []})


def test_defaults() -> None:
    cfg = config_mod.parse(
        {"listeners": [{"port": 80, "default_action": {"fixed_response": {"status": 200}}}]}
    )
    assert (cfg.name, cfg.listen_address, cfg.idle_timeout, cfg.connect_timeout) == (
        "alb",
        "0.0.0.0",
        60.0,
        10.0,
    )
    assert cfg.nodes == () and cfg.enabled_azs is None and cfg.target_groups == {}


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "alb.json"
    path.write_text(json.dumps(FULL))
    assert config_mod.load(path).name == "orders-alb"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="not JSON"):
        config_mod.load(path)


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FULL)
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


R0 = ["listeners", 0, "rules", 0]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["idle_timeout"], 0, "idle_timeout: must be a positive number"),
        (["connect_timeout"], True, "connect_timeout: must be a positive number"),
        (["listen_address"], "::1", "listen_address: '::1' is not an IPv4 address"),
        (["surprise"], 1, "config.surprise: unknown key"),
        (["nodes"], {}, "nodes: must be a list"),
        (["nodes", 0, "address"], "10.0.1", "nodes[0].address: '10.0.1' is not an IPv4"),
        (["nodes", 1, "az"], "", "nodes[1].az: must be a non-empty string"),
        (["listeners"], [], "listeners: must be a non-empty list"),
        (["listeners", 0, "port"], 70000, "listeners[0].port: must be an integer"),
        (["listeners", 0, "protocol"], "https", "listeners[0].protocol: must be http"),
        (["listeners", 0, "default_action"], {}, "listeners[0].default_action: must be exactly"),
        (
            ["listeners", 0, "default_action"],
            {"forward": "nope"},
            "listeners[0].default_action.forward: no target group 'nope'",
        ),
        (
            ["listeners", 0, "default_action", "fixed_response", "status"],
            302,
            "fixed_response.status: must be 2XX, 4XX or 5XX",
        ),
        (
            ["listeners", 0, "default_action", "fixed_response", "content_type"],
            "text/xml",
            "fixed_response.content_type: must be one of",
        ),
        ([*R0, "priority"], 0, "rules[0].priority: must be an integer in [1, 50000]"),
        (["listeners", 0, "rules", 1, "priority"], 20, "rules[1].priority: priority 20 is used"),
        ([*R0, "conditions"], {}, "rules[0].conditions: a rule needs at least one condition"),
        ([*R0, "conditions"], {"query": "x"}, "rules[0].conditions.query: unknown key"),
        ([*R0, "conditions", "path"], [], "conditions.path: must be a non-empty list"),
        ([*R0, "conditions", "http_header"], [], "conditions.http_header: must be an object"),
        ([*R0, "action"], {"forward": "web"}, "rules[0].action.forward: no target group 'web'"),
        (["target_groups", "orders", "port"], 0, "target_groups.orders.port: must be an integer"),
        (
            ["target_groups", "orders", "targets"],
            {},
            "target_groups.orders.targets: must be a list",
        ),
        (
            ["target_groups", "orders", "targets", 1],
            {"ip": "10.0.1.10"},
            "targets[1]: target 10.0.1.10:8080 is listed twice",
        ),
        (
            ["target_groups", "orders", "targets", 0, "ip"],
            "x",
            "targets[0].ip: 'x' is not an IPv4 address",
        ),
        (
            ["target_groups", "orders", "health_check", "matcher"],
            "2xx",
            "health_check.matcher: must be HTTP codes",
        ),
        (
            ["target_groups", "orders", "health_check", "path"],
            "health",
            "health_check.path: must start with '/'",
        ),
        (
            ["target_groups", "orders", "health_check", "healthy_threshold"],
            11,
            "health_check.healthy_threshold: must be an integer in [1, 10]",
        ),
    ],
)
def test_errors_name_their_path(path: list[Any], value: Any, expected: str) -> None:
    doc = mutate(path, value)
    with pytest.raises(ConfigError) as info:
        config_mod.parse(doc)
    assert any(expected in e for e in info.value.errors), info.value.errors


def test_all_errors_at_once() -> None:
    doc = mutate(["idle_timeout"], -1)
    doc["listeners"][0]["port"] = "80"
    doc["target_groups"]["admin"]["port"] = None
    with pytest.raises(ConfigError) as info:
        config_mod.parse(doc)
    assert len(info.value.errors) >= 3


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="config: must be an object"):
        config_mod.parse([])


@pytest.mark.parametrize(
    ("matcher", "status", "ok"),
    [
        ("200", 200, True),
        ("200", 201, False),
        ("200,202", 202, True),
        ("200-299", 250, True),
        ("200-299", 300, False),
        ("200,300-399", 302, True),
    ],
)
def test_matcher(matcher: str, status: int, ok: bool) -> None:
    assert matches(matcher, status) is ok
