"""An HTTP API on loopback: two local upstreams as Cloud Map instances, errors, headers."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
from collections.abc import Awaitable
from typing import Any

from apigw_helpers import (
    HTTP_HOST,
    HTTPAPI,
    Backend,
    Client,
    Seen,
    http_config,
    link_integration,
    route,
    set_route,
    with_integration,
)

from hyperplane_emu.plan.model import PlanIntegrationTarget
from hyperplane_emu.services.apigateway.config import GatewayConfig
from hyperplane_emu.services.apigateway.dispatch import Gateway
from hyperplane_emu.services.apigateway.server import ApiGatewayServer

H = [("host", HTTP_HOST)]


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def instance(port: int, healthy: bool = True) -> PlanIntegrationTarget:
    return PlanIntegrationTarget(
        "127.0.0.1", port, "", "instance", {"AWS_INSTANCE_PORT": str(port)}, healthy
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(raw: GatewayConfig) -> tuple[ApiGatewayServer, int]:
    srv = ApiGatewayServer(raw)
    srv.gateway = Gateway(srv.config, random.Random(7))  # a reproducible spread
    bound = await srv.start()
    return srv, bound[0][1]


def test_two_instances_share_the_load_and_see_http_api_headers() -> None:
    async def main() -> None:
        answer: Any = lambda s: (200, [("server", "inst"), ("x-app", "1")], b"ok")  # noqa: E731
        a, b, sick = Backend(answer), Backend(answer), Backend(answer)
        pa, pb, ps = await a.start(), await b.start(), await sick.start()
        raw = http_config()
        raw = with_integration(
            raw,
            HTTPAPI,
            0,
            link_integration(
                [instance(pa), instance(pb), instance(ps, healthy=False)], uri="cloud_map/shop/web"
            ),
        )
        srv, port = await start(raw)
        try:
            c = await Client.open(port)
            for _ in range(40):
                r = await c.request("GET", "/beta/items?x=1", H)
                assert r.status == 200 and r.body == b"ok"
            assert r.headers["server"] == "inst" and r.headers["x-app"] == "1"
            assert len(r.headers["apigw-requestid"]) == 16
            assert "x-amzn-requestid" not in r.headers
            assert not any(k.startswith("x-amzn-remapped") for k in r.headers)
            assert r.headers["content-length"] == "2"
            await c.close()
            assert len(a.seen) + len(b.seen) == 40 and not sick.seen
            assert len(a.seen) >= 8 and len(b.seen) >= 8
            assert a.connections == 1 and b.connections == 1  # pooled per instance
            seen: Seen = a.seen[-1]
            assert seen.target == "/beta/items?x=1"  # the stage reaches the backend
            assert seen.headers["host"] == HTTP_HOST
            assert seen.headers["forwarded"] == f"for=127.0.0.1;host={HTTP_HOST};proto=http"
            assert seen.headers["via"] == "HTTP/1.1 AmazonAPIGateway"
        finally:
            await srv.close()
            for be in (a, b, sick):
                await be.close()

    run(main())


def test_errors_are_http_api_shaped() -> None:
    async def main() -> None:
        silent = Backend(silent=True)
        sport = await silent.start()
        raw = http_config(upstream_port=free_port())  # nothing listens there: refused
        # no $default route; a slow one instead
        slow = route("GET", "/slow", type="HTTP_PROXY", uri=f"http://127.0.0.1:{sport}/slow",
                     timeout_ms=300)  # fmt: skip
        raw = set_route(raw, HTTPAPI, -1, slow)
        srv, port = await start(raw)
        try:
            c = await Client.open(port)
            r = await c.request("GET", "/nothing", H)
            assert (r.status, r.body) == (404, b'{"message":"Not Found"}')
            assert r.headers["content-type"] == "application/json"
            assert "x-amzn-errortype" not in r.headers and "apigw-requestid" in r.headers
            r = await c.request("GET", "/items", H)  # refused
            assert (r.status, r.body) == (503, b'{"message":"Service Unavailable"}')
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            r = await c.request("GET", "/slow", H)  # integration timeout
            assert (r.status, r.body) == (503, b'{"message":"Service Unavailable"}')
            assert 0.25 < loop.time() - t0 < 5
            r = await c.request("GET", "/items/x", H)  # the connection is still usable
            assert r.status == 503
            await c.close()
        finally:
            await srv.close()
            await silent.close()

    run(main())


def test_reload_with_an_instance_gone_unhealthy_stops_sending_it_requests() -> None:
    async def main() -> None:
        a, b = Backend(), Backend()
        pa, pb = await a.start(), await b.start()
        raw = http_config()
        integ = link_integration([instance(pa), instance(pb)], uri="cloud_map/shop/web")
        srv, port = await start(with_integration(raw, HTTPAPI, 0, integ))
        try:
            c = await Client.open(port)
            for _ in range(20):
                assert (await c.request("GET", "/items", H)).status == 200
            assert a.seen and b.seen
            t0, t1 = integ.targets
            integ = dataclasses.replace(integ, targets=(t0, dataclasses.replace(t1, healthy=False)))
            await srv.reload(with_integration(raw, HTTPAPI, 0, integ))
            before = len(b.seen)
            for _ in range(20):
                assert (await c.request("GET", "/items", H)).status == 200  # same connection
            assert len(b.seen) == before
            integ = dataclasses.replace(
                integ, targets=tuple(dataclasses.replace(t, healthy=False) for t in integ.targets)
            )
            await srv.reload(with_integration(raw, HTTPAPI, 0, integ))
            r = await c.request("GET", "/items", H)
            assert (r.status, r.body) == (503, b'{"message":"Service Unavailable"}')
            await c.close()
        finally:
            await srv.close()
            await a.close()
            await b.close()

    run(main())


def test_server_name_to_verify_makes_the_private_integration_https(tmp_path: Any) -> None:
    """Issue 16 item 4 (AWS::ApiGatewayV2::Integration TlsConfig: "If you specify a TLS
    configuration, private integration traffic uses the HTTPS protocol"; serverNameToVerify
    is sent as SNI and checked): a matching certificate answers, another name is a 503."""
    from hyperplane_emu.services import echo
    from hyperplane_emu.services.apigateway.ca import issue, make_ca

    ca = make_ca(tmp_path, "t")
    cert, key = issue(ca, ["pay.shop.internal"], tmp_path, "us-east-1", "pay", False)

    async def main() -> None:
        be = echo.EchoServer("pay1", "127.0.0.1", 0, tls=echo.server_tls(str(cert), str(key)))
        _, bport = await be.start()
        for name, want in (("pay.shop.internal", 200), ("web.shop.internal", 503)):
            raw = http_config()
            raw = with_integration(
                raw, HTTPAPI, 0,
                link_integration(
                    [instance(bport)], uri="cloud_map/shop/pay", tls_server_name=name
                ),
            )  # fmt: skip
            raw = dataclasses.replace(raw, backend_cas=(str(ca[0]),))
            srv, port = await start(raw)
            try:
                c = await Client.open(port)
                r = await c.request("GET", "/beta/items", H)
                assert r.status == want, (name, r.body)
                if want == 503:
                    assert r.body == b'{"message":"Service Unavailable"}'
                await c.close()
            finally:
                await srv.close()
        await be.close()

    run(main())
