"""HTTP API entries of the config file: accepted shapes and every error at its path."""

from __future__ import annotations

from typing import Any

import pytest
from apigw_helpers import ALB_HOST, HTTPAPI, http_config

from hyperplane_emu.services.apigateway.config import ConfigError, parse


def errors_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse(raw)
    return e.value.errors


def test_the_briefs_api_parses() -> None:
    api = parse(http_config(upstream_port=9000)).apis[HTTPAPI]
    assert api.http and api.policy is None and api.endpoint == "regional"
    assert set(api.stages) == {"$default", "beta"}
    assert [(r.method, r.path) for r in api.routes] == [
        ("GET", "/items"),
        ("ANY", "/items/{proxy+}"),
        ("GET", "/internet/{id}"),
        ("ANY", "$default"),
    ]
    first = api.routes[0].integration
    assert first.connection_type == "VPC_LINK" and first.timeout_ms == 30000
    assert first.targets[0].port == 9000 and first.targets[0].host == ALB_HOST
    assert api.routes[1].integration.overwrite_path == "/new/$request.path.proxy"
    assert api.routes[2].integration.timeout_ms == 30000  # the HTTP API default
    assert api.vpc_links["abc123"].address is None  # v2 links have no single address


def test_cloud_map_targets_with_attributes() -> None:
    raw = http_config()
    raw["apis"][HTTPAPI]["routes"][0]["integration"]["uri"] = "cloud_map/shop/web?stage=prod"
    raw["apis"][HTTPAPI]["routes"][0]["integration"]["targets"] = [
        {"address": "10.255.1.9", "port": 20001, "kind": "instance",
         "attributes": {"stage": "prod"}, "healthy": False},
    ]  # fmt: skip
    t = parse(raw).apis[HTTPAPI].routes[0].integration.targets[0]
    assert (t.kind, dict(t.attributes), t.healthy, t.host) == (
        "instance",
        {"stage": "prod"},
        False,
        "",
    )


def test_http_api_errors_are_reported_with_their_paths() -> None:
    raw = http_config()
    api = raw["apis"][HTTPAPI]
    api["endpoint"] = "private"
    api["policy"] = {"Version": "2012-10-17", "Statement": []}
    api["stages"]["bad stage"] = {}
    routes = api["routes"]
    routes[0]["integration"]["timeout_ms"] = 30001
    routes[0]["integration"]["targets"].append(
        {"address": "nope", "port": 0, "kind": "lambda", "attributes": {"a": 1}}
    )
    routes[1]["integration"]["overwrite_path"] = "/x/$request.path.nope/$context.requestId"
    routes[2]["integration"]["uri"] = "http://h/{other}"
    routes.append({"method": "GET", "path": "/items", "integration": routes[0]["integration"]})
    routes.append({"method": "GET", "path": "/m", "integration": {"type": "MOCK"}})
    routes.append(
        {"method": "GET", "path": "/l", "integration": {"type": "HTTP_PROXY",
                                                       "connection_type": "VPC_LINK", "uri": "x"}}
    )  # fmt: skip
    got = errors_of(raw)
    p = f"apis.{HTTPAPI}"
    expected = [
        f"{p}.endpoint: an HTTP API is regional",
        f"{p}.policy: HTTP APIs have no resource policies",
        f"{p}.stages.bad stage:",
        f"{p}.routes[0].integration.timeout_ms: must be an integer in [50, 30000]",
        f"{p}.routes[0].integration.targets[1].address:",
        f"{p}.routes[0].integration.targets[1].port:",
        f"{p}.routes[0].integration.targets[1].kind:",
        f"{p}.routes[0].integration.targets[1].attributes.a:",
        f"{p}.routes[1].integration.overwrite_path: $request.path.nope",
        f"{p}.routes[1].integration.overwrite_path: $context.requestId is not emulated",
        f"{p}.routes[2].integration.uri: {{other}} is not a path parameter",
        f"{p}.routes[4].path: GET /items conflicts",
        f"{p}.routes[5].integration.type: an HTTP API integration here is HTTP_PROXY",
        f"{p}.routes[6].integration.connection_id: VPC_LINK needs a connection_id",
    ]
    for prefix in expected:
        assert any(e.startswith(prefix) for e in got), (prefix, got)
    assert len(got) == len(expected), got


def test_integration_uri_may_use_greedy_parameters() -> None:
    raw = http_config()
    raw["apis"][HTTPAPI]["routes"][1]["integration"] = {
        "type": "HTTP_PROXY",
        "uri": "https://petstore.example/petstore/{proxy+}",
    }
    assert parse(raw).apis[HTTPAPI].routes[1].integration.uri is not None
