"""HTTP API decisions, request by request (sans-IO): stages, routes, targets, headers."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
from apigw_helpers import (
    ALB_HOST,
    ENDPOINT_IP,
    HTTP_HOST,
    HTTPAPI,
    http_config,
    link_integration,
    set_api,
    set_integration,
    set_link,
    set_route,
    set_stage,
    with_integration,
)

from hyperplane_emu.plan.model import PlanIntegrationTarget
from hyperplane_emu.services.apigateway import errors
from hyperplane_emu.services.apigateway.config import GatewayConfig
from hyperplane_emu.services.apigateway.dispatch import (
    Action,
    Caller,
    ErrorAction,
    ForwardAction,
    Gateway,
    UpstreamRequest,
)

CLIENT = "198.51.100.7"
GW_IP = "10.255.0.10"


def gw(raw: GatewayConfig | None = None, seed: int = 1) -> Gateway:
    return Gateway(raw or http_config(upstream_port=8080), random.Random(seed))


def call(
    g: Gateway,
    target: str,
    method: str = "GET",
    extra: list[tuple[bytes, bytes]] | None = None,
    source: str = CLIENT,
    tls: bool = True,
    host: str = HTTP_HOST,
) -> Action:
    headers = [(b"host", host.encode()), *(extra or [])]
    return g.handle(method, target, headers, Caller(source, tls, 443, local_ip=GW_IP), 0)


def fwd(action: Action) -> UpstreamRequest:
    assert isinstance(action, ForwardAction), action
    assert action.info.http_api
    return action.upstream


def hdrs(up: UpstreamRequest) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in up.headers:
        out[k.decode().lower()] = v.decode()
    return out


def err(action: Action) -> errors.GatewayError:
    assert isinstance(action, ErrorAction), action
    assert action.info.http_api
    return action.error


def test_routes_stages_and_backend_paths() -> None:
    g = gw()
    # GET /items over the link: the request path as sent, no stage to strip.
    up = fwd(call(g, "/items?q=1"))
    assert (up.connect_host, up.port, up.via_link, up.target) == (
        "127.0.0.1",
        8080,
        "abc123",
        "/items?q=1",
    )
    # A named stage is the first segment, and over a link it reaches the backend.
    assert fwd(call(g, "/beta/items")).target == "/beta/items"
    # overwrite:path with $request.path.proxy (raw, so %2F stays encoded).
    assert fwd(call(g, "/items/a/b%2Fc?x=y", "DELETE")).target == "/new/a/b%2Fc?x=y"
    assert fwd(call(g, "/beta/items/7")).target == "/new/7"
    # INTERNET: the uri's path with {id} filled, its query then the client's.
    up = fwd(call(g, "/internet/42?z=1"))
    assert (up.connect_host, up.target) == ("127.0.0.1", "/v2/42?src=gw&z=1")
    # $default route: the uri's path followed by the whole request path.
    up = fwd(call(g, "/store/checkout?a=b", "POST"))
    assert (up.connect_host, up.target) == ("backend.example", "/base/store/checkout?a=b")
    assert fwd(call(g, "/items", "POST")).target == "/base/items"  # no POST /items route


def test_overwrite_path_with_request_path_strips_the_stage() -> None:
    raw = http_config()
    raw = set_integration(raw, HTTPAPI, 0, overwrite_path="$request.path")
    assert fwd(call(gw(raw), "/beta/items?x=1")).target == "/items?x=1"
    raw = set_integration(raw, HTTPAPI, 0, overwrite_path="/$stageVariables.link")
    assert fwd(call(gw(raw), "/beta/items")).target == "/abc123"
    e = err(call(gw(raw), "/items"))  # $default stage has no such variable
    assert e.status == 503 and "undefined" in e.reason


def test_not_found_cases() -> None:
    raw = http_config()
    raw = set_route(raw, HTTPAPI, -1, None)  # no $default route
    g = gw(raw)
    for target, method in (("/nothing", "GET"), ("/items", "POST"), ("/items", "HEAD")):
        e = err(call(g, target, method))
        assert (e.status, e.body, e.error_type) == (404, b'{"message":"Not Found"}', "")
    raw = set_stage(raw, HTTPAPI, "$default", None)
    e = err(call(gw(raw), "/items"))
    assert e.status == 404 and "stage" in e.reason
    assert fwd(call(gw(raw), "/beta/items")).target == "/beta/items"


def test_link_problems_answer_503() -> None:
    raw = http_config()
    g = gw(set_link(raw, HTTPAPI, "abc123", status="PENDING"))
    e = err(call(g, "/items"))
    assert (e.status, e.body) == (503, b'{"message":"Service Unavailable"}')
    assert any("PENDING" in p for p in g.problems)
    raw = set_api(raw, HTTPAPI, vpc_links={})
    assert "does not exist" in err(call(gw(raw), "/items")).reason
    raw = http_config()
    sick = dataclasses.replace(raw.apis[HTTPAPI].routes[0].integration.targets[0], healthy=False)
    raw = set_integration(raw, HTTPAPI, 0, targets=(sick,))
    e = err(call(gw(raw), "/items"))
    assert e.status == 503 and "no healthy target" in e.reason


def instances(n_healthy: int, n_sick: int) -> list[PlanIntegrationTarget]:
    return [
        PlanIntegrationTarget(
            f"10.255.1.{10 + i}", 20001, "", "instance",
            {"stage": "prod" if i % 2 == 0 else "dev"}, i < n_healthy,
        )
        for i in range(n_healthy + n_sick)
    ]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_target_over_healthy_instances_only(seed: int) -> None:
    raw = http_config()
    raw = with_integration(
        raw, HTTPAPI, 0, link_integration(instances(4, 3), uri="cloud_map/shop/web")
    )
    g = gw(raw, seed)
    hits = Counter(fwd(call(g, "/items")).connect_host for _ in range(200))
    assert set(hits) == {f"10.255.1.{10 + i}" for i in range(4)}  # every healthy one
    assert min(hits.values()) > 20  # and roughly evenly (expected 50 each)


def test_cloud_map_query_filters_instances() -> None:
    raw = http_config()
    raw = with_integration(
        raw, HTTPAPI, 0, link_integration(instances(4, 3), uri="cloud_map/shop/web?stage=prod")
    )
    g = gw(raw)
    hits = {fwd(call(g, "/items")).connect_host for _ in range(100)}
    assert hits == {"10.255.1.10", "10.255.1.12"}  # healthy and stage=prod
    raw = set_integration(raw, HTTPAPI, 0, uri="cloud_map/shop/web?stage=qa")
    assert err(call(gw(raw), "/items")).status == 503


def test_headers_over_a_vpc_link() -> None:
    up = fwd(
        call(
            gw(),
            "/items",
            extra=[
                (b"user-agent", b"curl/8"),
                (b"x-forwarded-for", b"1.2.3.4"),
                (b"connection", b"keep-alive, x-hop"),
                (b"x-hop", b"1"),
                (b"forwarded", b"for=192.0.2.1"),
                (b"x-amzn-trace-id", b"Root=1-00000000-000000000000000000000001"),
            ],
        )
    )
    h = hdrs(up)
    assert up.headers[0] == (b"Host", HTTP_HOST.encode())  # the client's Host goes through
    assert up.server_name == ALB_HOST
    # The client's X-Forwarded-For becomes a Forwarded element (known-issues page).
    assert h["forwarded"] == (
        f"for=192.0.2.1, for=1.2.3.4, for={CLIENT};host={HTTP_HOST};proto=https"
    )
    assert h["via"] == "HTTP/1.1 AmazonAPIGateway"
    assert h["user-agent"] == "curl/8"  # not rewritten, unlike REST
    assert "x-forwarded-for" not in h  # never passed as sent
    assert h["x-amzn-trace-id"] == "Root=1-00000000-000000000000000000000001"
    assert "x-hop" not in h and "connection" not in h
    assert "x-amzn-apigateway-api-id" not in h and "x-forwarded-proto" not in h


@pytest.mark.parametrize(
    ("sent", "translated"),
    [
        ([(b"x-forwarded-for", b"203.0.113.9")], "for=203.0.113.9"),
        (
            [(b"x-forwarded-for", b"203.0.113.9, 2001:db8::1"), (b"x-forwarded-for", b"unknown")],
            'for=203.0.113.9, for="[2001:db8::1]", for=unknown',
        ),
        (
            [
                (b"x-forwarded-for", b"203.0.113.9"),
                (b"x-forwarded-proto", b"http"),
                (b"x-forwarded-host", b"shop.example"),
                (b"x-forwarded-port", b"8443"),
            ],
            'for=203.0.113.9;proto=http;host="shop.example:8443"',
        ),
        ([(b"x-forwarded-proto", b"https")], "proto=https"),
        ([(b"x-forwarded-for", b'1.2.3.4";by=evil')], 'for="1.2.3.4\\";by=evil"'),
        ([(b"x-forwarded-port", b"80")], ""),  # a port alone names no hop
    ],
)
def test_x_forwarded_headers_become_forwarded_elements(
    sent: list[tuple[bytes, bytes]], translated: str
) -> None:
    """Issue 16 item 3: HTTP APIs translate incoming X-Forwarded-* into Forwarded, the
    egress appended (Developer Guide, "Amazon API Gateway important notes")."""
    h = hdrs(fwd(call(gw(), "/items", extra=sent)))
    ours = f"for={CLIENT};host={HTTP_HOST};proto=https"
    assert h["forwarded"] == (f"{translated}, {ours}" if translated else ours)
    assert not any(k.startswith("x-forwarded-") for k in h)


def test_headers_over_the_internet() -> None:
    h = hdrs(fwd(call(gw(), "/internet/1", tls=False)))
    assert h["host"] == "127.0.0.1:8080"  # the uri's host
    assert h["forwarded"] == f"by={GW_IP};for={CLIENT};host={HTTP_HOST};proto=http"
    assert h["x-amzn-trace-id"].startswith("Root=1-") and "content-length" not in h
    h = hdrs(fwd(call(gw(), "/anything", method="POST")))  # the $default route
    assert h["host"] == "backend.example:8080" and h["content-length"] == "0"
    g = gw()
    up6 = g.handle(
        "GET", "/internet/1", [(b"host", HTTP_HOST.encode())], Caller("2001:db8::7", True, 443), 0
    )
    assert hdrs(fwd(up6))["forwarded"] == f'for="[2001:db8::7]";host={HTTP_HOST};proto=https'


def test_http_api_through_an_endpoint_is_forbidden() -> None:
    # HTTP APIs are regional: an execute-api endpoint reaches only private REST APIs.
    a = call(gw(), "/items", source=ENDPOINT_IP)
    assert isinstance(a, ErrorAction) and a.error.status == 403
