"""Config file parsing: the brief's example, defaults, and every error with its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apigw_helpers import PRIV, PUB, VPCE, base_config

from hyperplane_emu.services.apigateway import config as cfgmod
from hyperplane_emu.services.apigateway.config import ConfigError, parse


def test_example_parses() -> None:
    cfg = parse(base_config(upstream_port=9000))
    assert cfg.region == "us-east-1"
    assert [(li.ip, li.port, li.tls) for li in cfg.listen] == [("127.0.0.1", 0, False)]
    assert cfg.endpoints["127.0.0.5"].vpce == VPCE
    priv = cfg.apis[PRIV]
    assert priv.private and priv.policy is not None
    assert priv.arn_prefix == f"arn:aws:execute-api:us-east-1:111122223333:{PRIV}"
    assert priv.stages["prod"].variables == {"vpcLinkId": "abc123"}
    assert priv.vpc_links["abc123"].address == "127.0.0.1"
    r0 = priv.routes[0]
    assert (r0.method, r0.path) == ("GET", "/orders/{id}")
    assert r0.integration.connection_id == "${stageVariables.vpcLinkId}"
    assert not cfg.apis[PUB].private and cfg.apis[PUB].policy is None
    assert cfg.connect_timeout_ms == cfgmod.DEFAULT_CONNECT_TIMEOUT_MS
    assert cfg.tls is None


def test_defaults() -> None:
    cfg = parse(
        {
            "region": "eu-west-1",
            "listen": [{"ip": "::1", "port": 80}],
            "apis": {
                "abc": {
                    "account_id": "123456789012",
                    "stages": {"dev": None},
                    "routes": [{"method": "get", "path": "/", "integration": {"type": "MOCK"}}],
                }
            },
        }
    )
    api = cfg.apis["abc"]
    assert api.endpoint == "regional" and api.name == "abc"
    i = api.routes[0].integration
    assert (i.type, i.connection_type, i.timeout_ms, i.mock_status, i.mock_body) == (
        "MOCK",
        "INTERNET",
        29000,
        200,
        "",
    )
    assert api.routes[0].method == "GET"
    assert cfg.listen[0].tls is False and cfg.endpoints == {}


def test_http_apis_are_served_next_to_rest_apis() -> None:
    raw = base_config()
    raw["apis"]["h1"] = {"type": "http", "account_id": "111122223333"}
    cfg = parse(raw)
    assert cfg.apis["h1"].http and cfg.apis["h1"].endpoint == "regional"
    assert not cfg.apis[PRIV].http
    assert cfg.warnings == ()


def test_every_error_is_reported_with_its_path() -> None:
    raw: dict[str, Any] = base_config()
    raw["listen"].append({"ip": "300.1.1.1", "port": 70000, "tls": False})
    raw["listen"].append({"ip": "127.0.0.1", "port": 443, "tls": True})
    raw["endpoints"]["nope"] = {"vpce": "", "vpc": "vpc-1"}
    priv = raw["apis"][PRIV]
    priv["account_id"] = "12345"
    priv["endpoint"] = "public"
    priv["routes"][0]["integration"]["uri"] = "ftp://x/orders/{id}"
    priv["routes"][1]["integration"]["timeout_ms"] = 10
    priv["routes"].append({"method": "FETCH", "path": "/x", "integration": {"type": "MOCK"}})
    priv["routes"].append(
        {
            "method": "GET",
            "path": "/y/{a}",
            "integration": {"type": "HTTP_PROXY", "uri": "http://h/{b}"},
        }
    )
    priv["routes"].append(
        {"method": "GET", "path": "/orders/{oid}/z", "integration": {"type": "MOCK"}}
    )
    priv["vpc_links"]["abc123"]["status"] = "BROKEN"
    priv["policy"]["Statement"][0]["Condition"] = {"Foo": {"aws:SourceVpce": "x"}}
    with pytest.raises(ConfigError) as exc:
        parse(raw)
    text = "\n".join(exc.value.errors)
    for needle in [
        "listen[1].ip:",
        "listen[1].port:",
        "tls: a listener has tls: true",
        "endpoints.nope:",
        "endpoints.nope.vpce:",
        f"apis.{PRIV}.account_id:",
        f"apis.{PRIV}.endpoint:",
        f"apis.{PRIV}.routes[0].integration.uri:",
        f"apis.{PRIV}.routes[1].integration.timeout_ms:",
        f"apis.{PRIV}.routes[3].method:",
        f"apis.{PRIV}.routes[4].integration.uri: {{b}} is not a path parameter",
        f"apis.{PRIV}.routes[5].path:",
        f"apis.{PRIV}.vpc_links.abc123.status:",
        f"apis.{PRIV}.policy.Statement[0].Condition.Foo:",
    ]:
        assert needle in text, (needle, text)


def test_vpc_link_needs_connection_id_and_available_link_an_address() -> None:
    raw = base_config()
    integ = raw["apis"][PRIV]["routes"][0]["integration"]
    del integ["connection_id"]
    del raw["apis"][PRIV]["vpc_links"]["abc123"]["address"]
    with pytest.raises(ConfigError) as exc:
        parse(raw)
    text = "\n".join(exc.value.errors)
    assert "connection_id: VPC_LINK needs a connection_id" in text
    assert "vpc_links.abc123.address: missing" in text
    raw = base_config()
    raw["apis"][PRIV]["vpc_links"]["abc123"] = {"status": "PENDING"}
    assert parse(raw).apis[PRIV].vpc_links["abc123"].address is None


def test_stage_variables_in_uri_are_accepted() -> None:
    raw = base_config()
    raw["apis"][PUB]["stages"]["prod"] = {"variables": {"backend": "b.example:81"}}
    raw["apis"][PUB]["routes"][0]["integration"]["uri"] = (
        "https://${stageVariables.backend}/{proxy}"
    )
    assert parse(raw).apis[PUB].routes[0].integration.uri.startswith("https://${")  # type: ignore[union-attr]


def test_bad_names() -> None:
    raw = base_config()
    raw["apis"]["Bad-Id"] = raw["apis"].pop(PUB)
    raw["apis"][PRIV]["stages"]["bad stage"] = {}
    raw["apis"][PRIV]["stages"]["prod"]["variables"]["bad-name"] = "x"
    with pytest.raises(ConfigError) as exc:
        parse(raw)
    text = "\n".join(exc.value.errors)
    assert "apis.Bad-Id:" in text
    assert f"apis.{PRIV}.stages.bad stage:" in text
    assert f"apis.{PRIV}.stages.prod.variables.bad-name:" in text


def test_duplicate_listener_and_empty_listen() -> None:
    raw = base_config(listen_port=8443)
    raw["listen"].append(dict(raw["listen"][0]))
    with pytest.raises(ConfigError, match=r"listen\[1\]: 127.0.0.1:8443 is listed twice"):
        parse(raw)
    raw["listen"] = []
    with pytest.raises(ConfigError, match="listen: must be a non-empty list"):
        parse(raw)


def test_load_from_file(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps(base_config()))
    assert PRIV in cfgmod.load(p).apis
    p.write_text("{nope")
    with pytest.raises(ConfigError, match="not JSON"):
        cfgmod.load(p)
    p.write_text("[]")
    with pytest.raises(ConfigError):
        cfgmod.load(p)
