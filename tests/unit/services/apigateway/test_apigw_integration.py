"""Integration requests/responses: stage variables, VPC links, targets and header rules."""

from __future__ import annotations

import re

from apigw_helpers import PRIV, PUB, VPC, VPCE, base_config, set_link

from hyperplane_emu.plan.model import PlanIntegration, PlanStage
from hyperplane_emu.services.apigateway.config import EndpointInfo
from hyperplane_emu.services.apigateway.integration import (
    build_target,
    error_headers,
    new_trace_id,
    request_headers,
    resolve,
    response_headers,
    substitute_stage_vars,
    trace_id_of,
)

CFG = base_config(upstream_port=8080)
PRIV_API = CFG.apis[PRIV]
STAGE = PRIV_API.stages["prod"]
EP = EndpointInfo(VPCE, VPC, True)
LINKS = PRIV_API.vpc_links


def Integration(type: str, uri: str | None = None, **kw: object) -> PlanIntegration:  # noqa: N802
    return PlanIntegration(type, "INTERNET", None, uri, 29000, **kw)  # type: ignore[arg-type]


def hdict(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers:
        assert k.decode().lower() not in out, f"{k!r} twice"
        out[k.decode().lower()] = v.decode()
    return out


def test_stage_variable_substitution() -> None:
    assert substitute_stage_vars(
        "${stageVariables.a}-${stageVariables.b}", {"a": "1", "b": "2"}
    ) == ("1-2", [])
    assert substitute_stage_vars("x${stageVariables.zz}", {}) == ("x", ["zz"])


def test_resolve_vpc_link_via_stage_variable() -> None:
    r = resolve(PRIV_API.routes[0].integration, STAGE, LINKS)
    assert r.failure is None
    assert (r.connect_host, r.port, r.tls, r.via_link) == ("127.0.0.1", 8080, False, "abc123")
    assert r.uri_host == "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com"
    assert r.host_header == r.uri_host + ":8080"
    assert r.path_template == "/orders/{id}"
    assert r.timeout_s == 29.0


def test_resolve_failures_become_500_reasons() -> None:
    integ = PRIV_API.routes[0].integration
    r = resolve(integ, PlanStage("dev", {}), LINKS)
    assert r.failure is not None and "vpcLinkId" in r.failure
    r = resolve(integ, PlanStage("dev", {"vpcLinkId": "nope"}), LINKS)
    assert r.failure == "VPC link nope does not exist"
    api = set_link(base_config(), PRIV, "abc123", status="FAILED").apis[PRIV]
    r = resolve(api.routes[0].integration, STAGE, api.vpc_links)
    assert r.failure == "VPC link abc123 is FAILED, not AVAILABLE"
    r = resolve(Integration("HTTP_PROXY", uri="http://${stageVariables.h}/x"), STAGE, LINKS)
    assert r.failure is not None and "h" in r.failure


def test_resolve_internet_and_default_ports() -> None:
    r = resolve(Integration("HTTP_PROXY", uri="https://api.example.com/v1"), STAGE, LINKS)
    assert (r.connect_host, r.port, r.tls, r.host_header, r.via_link) == (
        "api.example.com",
        443,
        True,
        "api.example.com",
        None,
    )
    r = resolve(Integration("HTTP", uri="http://API.example.com"), STAGE, LINKS)
    assert (r.port, r.host_header, r.path_template) == (80, "api.example.com", "/")
    r = resolve(Integration("MOCK", mock_status=201, mock_body="é"), STAGE, LINKS)
    assert (r.type, r.mock_status, r.mock_body) == ("MOCK", 201, "é".encode())


def test_build_target() -> None:
    r = resolve(PRIV_API.routes[0].integration, STAGE, LINKS)
    assert build_target(r, {"id": "42"}, "") == "/orders/42"
    assert build_target(r, {"id": "a%2Fb"}, "x=1&y") == "/orders/a%2Fb?x=1&y"
    r = resolve(Integration("HTTP_PROXY", uri="http://h/v1/{proxy}?k=v"), STAGE, LINKS)
    assert build_target(r, {"proxy": "a/b/c"}, "q=1") == "/v1/a/b/c?k=v&q=1"


def _req_headers(
    client: list[tuple[bytes, bytes]], private: bool = True, **kw: object
) -> dict[str, str]:
    r = resolve(PRIV_API.routes[0].integration, STAGE, LINKS)
    args: dict[str, object] = dict(
        resolved=r,
        api_id=PRIV,
        caller_ip="10.255.1.5",
        proto="https",
        listener_port=443,
        trace_id="Root=1-00000000-000000000000000000000000",
        endpoint=EP if private else None,
        private=private,
        body_length=0,
    )
    args.update(kw)
    return hdict(request_headers(client, **args))  # type: ignore[arg-type]


def test_request_headers_private_api() -> None:
    h = _req_headers(
        [
            (b"host", b"a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"),
            (b"accept", b"*/*"),
            (b"user-agent", b"curl/8"),
            (b"connection", b"keep-alive, x-hop"),
            (b"x-hop", b"drop me"),
            (b"keep-alive", b"timeout=5"),
            (b"transfer-encoding", b"chunked"),
            (b"te", b"trailers"),
            (b"upgrade", b"h2c"),
            (b"expect", b"100-continue"),
            (b"x-forwarded-for", b"203.0.113.9"),
            (b"x-forwarded-proto", b"spoofed"),
            (b"x-amzn-vpce-id", b"vpce-spoofed"),
            (b"x-custom", b"kept"),
        ]
    )
    assert h == {
        "host": "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com:8080",
        "accept": "*/*",
        "x-custom": "kept",
        "x-forwarded-for": "203.0.113.9, 10.255.1.5",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
        "user-agent": f"AmazonAPIGateway_{PRIV}",
        "x-amzn-apigateway-api-id": PRIV,
        "x-amzn-vpce-id": VPCE,
        "x-amzn-vpc-id": VPC,
        "x-amzn-vpce-config": "1",
    }


def test_request_headers_regional_api_and_bodies() -> None:
    h = _req_headers(
        [(b"x-forwarded-for", b"a"), (b"x-forwarded-for", b"b")], private=False, body_length=5
    )
    assert "x-amzn-vpce-id" not in h and "x-amzn-vpc-id" not in h
    assert h["x-forwarded-for"] == "a, b, 10.255.1.5"
    assert h["content-length"] == "5"
    assert _req_headers([], method="POST")["content-length"] == "0"
    assert "content-length" not in _req_headers([], method="GET")


def test_trace_ids() -> None:
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", new_trace_id())
    assert trace_id_of([(b"x-amzn-trace-id", b"Root=1-abc-def;Parent=1")]) == (
        "Root=1-abc-def;Parent=1"
    )
    assert trace_id_of([(b"x-amzn-trace-id", b"garbage")]).startswith("Root=1-")


def test_response_headers_remap_drop_and_add() -> None:
    up = [
        (b"content-type", b"application/json"),
        (b"content-length", b"2"),
        (b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
        (b"server", b"nginx"),
        (b"connection", b"keep-alive, x-hop"),
        (b"x-hop", b"x"),
        (b"keep-alive", b"timeout=5"),
        (b"transfer-encoding", b"chunked"),
        (b"www-authenticate", b"Basic"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"x-amzn-trace-id", b"backend"),
    ]
    out = response_headers(up, request_id="rid", apigw_id="gid", trace_id="Root=1-t", body_length=7)
    names = [k.decode() for k, _ in out]
    assert names.count("set-cookie") == 2
    d = {k.decode(): v.decode() for k, v in out}
    assert d["x-amzn-Remapped-Content-Length"] == "2"
    assert d["x-amzn-Remapped-Date"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert d["x-amzn-Remapped-Server"] == "nginx"
    assert d["x-amzn-Remapped-Connection"] == "keep-alive, x-hop"
    assert d["x-amzn-Remapped-WWW-Authenticate"] == "Basic"
    assert d["Content-Length"] == "7"
    assert d["x-amzn-RequestId"] == "rid" and d["x-amz-apigw-id"] == "gid"
    assert d["X-Amzn-Trace-Id"] == "Root=1-t"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", d["Date"])
    for gone in ("x-hop", "keep-alive", "transfer-encoding", "x-amzn-trace-id", "server"):
        assert gone not in d
    head = response_headers(
        [(b"content-length", b"99")], request_id="r", apigw_id="g", trace_id="t", body_length=None
    )
    assert dict(head)[b"Content-Length"] == b"99"


def test_error_headers() -> None:
    d = dict(error_headers("rid", "gid", "ForbiddenException", 23))
    assert d[b"x-amzn-ErrorType"] == b"ForbiddenException"
    assert d[b"Content-Type"] == b"application/json"
    assert d[b"Content-Length"] == b"23"


def test_regional_api_in_helper_config_is_internet() -> None:
    api = CFG.apis[PUB]
    r = resolve(api.routes[0].integration, api.stages["prod"], api.vpc_links)
    assert r.via_link is None and r.connect_host == "127.0.0.1"
