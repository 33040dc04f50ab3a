"""The data plane on loopback, in process: real sockets, TLS, keep-alive, failures.

127.0.0.5 stands for an interface endpoint's rewritten source address (any
127/8 address is local on Linux, so a client can bind it without root).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from apigw_helpers import (
    ENDPOINT_IP,
    PRIV,
    PRIV_HOST,
    PUB_HOST,
    VPC,
    VPCE,
    Backend,
    Client,
    Seen,
    base_config,
    set_integration,
    set_stage,
)

from hyperplane_emu.services import echo, upstream
from hyperplane_emu.services.apigateway import server as server_mod
from hyperplane_emu.services.apigateway.ca import issue, make_ca
from hyperplane_emu.services.apigateway.config import GatewayConfig, Listener, TlsFiles
from hyperplane_emu.services.apigateway.server import ApiGatewayServer

H_PRIV = [("host", PRIV_HOST)]


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


async def with_gateway(
    raw: GatewayConfig,
    body: Callable[[ApiGatewayServer, int], Awaitable[None]],
) -> None:
    srv = ApiGatewayServer(raw)
    bound = await srv.start()
    try:
        await body(srv, bound[0][1])
    finally:
        await srv.close()


def test_proxy_keep_alive_and_what_the_backend_sees() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            for i in range(5):
                r = await c.request("GET", f"/prod/orders/{i}?x=1", H_PRIV)
                assert r.status == 200 and r.body == b"hello"
                assert r.headers["x-amzn-remapped-content-length"] == "5"
                assert r.headers["content-length"] == "5"
                assert "x-amzn-requestid" in r.headers and "x-amz-apigw-id" in r.headers
            await c.close()
            assert be.connections == 1  # upstream connection reused
            assert srv.pool.opened == 1 and srv.pool.reused == 4
            assert srv.requests == 5
            seen = be.seen[-1]
            assert (seen.method, seen.target) == ("GET", "/orders/4?x=1")
            assert seen.headers["host"].startswith("orders-nlb-0123456789abcdef.elb.")
            assert seen.headers["x-amzn-vpce-id"] == VPCE
            assert seen.headers["x-amzn-vpc-id"] == VPC
            assert seen.headers["x-forwarded-for"] == ENDPOINT_IP
            assert seen.headers["user-agent"] == f"AmazonAPIGateway_{PRIV}"

        try:
            await with_gateway(base_config(port), body)
        finally:
            await be.close()

    run(main())


def test_post_body_head_and_backend_status_pass_through() -> None:
    def respond(seen: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        if seen.method == "POST":
            return 201, [("content-type", "application/json"), ("x-b", "1")], seen.body[::-1]
        return 404, [("content-type", "text/plain")], b"not here"

    async def main() -> None:
        be = Backend(respond=respond)
        port = await be.start()

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            r = await c.request("POST", "/prod/items/a/b", H_PRIV, body=b"payload")
            assert (r.status, r.body, r.headers["x-b"]) == (201, b"daolyap", "1")
            assert be.seen[-1].body == b"payload" and be.seen[-1].target == "/v1/a/b"
            r = await c.request("PUT", "/prod/items/x", H_PRIV)
            assert (r.status, r.body) == (404, b"not here")
            assert be.seen[-1].headers["content-length"] == "0"
            r = await c.request("HEAD", "/prod/items/x", H_PRIV)
            assert r.status == 404 and r.body == b""
            r = await c.request("GET", "/prod/ping", H_PRIV)
            assert (r.status, r.body) == (200, b'{"pong":true}')
            assert r.headers["content-type"] == "application/json"
            await c.close()

        try:
            await with_gateway(base_config(port), body)
        finally:
            await be.close()

    run(main())


def test_error_answers_keep_the_connection() -> None:
    async def main() -> None:
        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port)  # 127.0.0.1: a public caller
            r = await c.request("GET", "/prod/orders/1", H_PRIV)
            assert (r.status, r.body) == (403, b'{"message":"Forbidden"}')
            assert r.headers["x-amzn-errortype"] == "ForbiddenException"
            assert r.headers["content-type"] == "application/json"
            r = await c.request("GET", "/prod/", [("host", PUB_HOST)])
            assert (r.status, r.body) == (200, b"root")
            r = await c.request("GET", "/nostage/x", [("host", PUB_HOST)])
            assert r.status == 403 and r.body == b'{"message":"Forbidden"}'
            await c.close()

        await with_gateway(base_config(1), body)

    run(main())


def test_refused_and_unavailable_link_answer_500() -> None:
    async def main() -> None:
        raw = base_config(upstream_port=1)  # nothing listens on port 1
        raw = set_stage(raw, PRIV, "beta", {"vpcLinkId": "gone"})

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            for target in ("/prod/orders/1", "/beta/orders/1"):
                r = await c.request("GET", target, H_PRIV)
                assert r.status == 500, target
                assert r.body == b'{"message": "Internal server error"}'
                assert r.headers["x-amzn-errortype"] == "InternalServerErrorException"
                # issue 16 item 6: the headers AWS sends on an integration failure
                # (public 2025 capture, docs/apigateway.md "Error answers").
                assert r.headers["x-amzn-trace-id"].startswith("Root=1-")
                assert r.headers["x-amzn-requestid"] and r.headers["x-amz-apigw-id"]
                assert r.headers["content-type"] == "application/json"
            r = await c.request("GET", "/prod/nothing", H_PRIV)
            assert r.status == 403 and "x-amzn-trace-id" not in r.headers
            assert r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
            await c.close()

        await with_gateway(raw, body)

    run(main())


def test_silent_backend_times_out_with_504() -> None:
    async def main() -> None:
        be = Backend(silent=True)
        port = await be.start()
        raw = base_config(port)
        raw = set_integration(raw, PRIV, 0, timeout_ms=200)

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            t0 = time.monotonic()
            r = await c.request(
                "GET", "/prod/orders/1", [*H_PRIV, ("x-amzn-trace-id", "Root=1-5f84c7a9-1")]
            )
            took = time.monotonic() - t0
            assert r.status == 504 and r.body == b'{"message": "Endpoint request timed out"}'
            assert r.headers["x-amzn-trace-id"] == "Root=1-5f84c7a9-1"  # the request's own
            assert 0.2 <= took < 2.0, took
            # The client connection survives the timeout.
            r = await c.request("GET", "/prod/ping", H_PRIV)
            assert r.status == 200
            await c.close()

        try:
            await with_gateway(raw, body)
        finally:
            await be.close()

    run(main())


def test_connect_timeout_is_500_integration_timeout_is_504(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = asyncio.open_connection

    async def never(*a: Any, **kw: Any) -> Any:
        await asyncio.sleep(3600)  # a SYN dropped by a security group
        return await real(*a, **kw)

    monkeypatch.setattr(upstream, "_open_connection", never)

    async def main() -> None:
        for connect_ms, timeout_ms, want in ((100, 5000, 500), (5000, 100, 504)):
            raw = base_config(9)
            raw = dataclasses.replace(raw, connect_timeout_ms=connect_ms)
            raw = set_integration(raw, PRIV, 0, timeout_ms=timeout_ms)

            async def body(srv: ApiGatewayServer, gw_port: int, want: int = want) -> None:
                c = await Client.open(gw_port, source=ENDPOINT_IP)
                r = await c.request("GET", "/prod/orders/1", H_PRIV)
                assert r.status == want
                await c.close()

            await with_gateway(raw, body)

    run(main())


@pytest.mark.parametrize("mode", ["close_after_each", "drop_second"])
def test_backend_closing_idle_connections_is_retried_once(mode: str) -> None:
    async def main() -> None:
        be = Backend(**{mode: True})  # type: ignore[arg-type]
        port = await be.start()

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            for _ in range(4):
                r = await c.request("GET", "/prod/orders/1", H_PRIV)
                assert r.status == 200
            await c.close()
            assert len(be.seen) == 4  # each request answered exactly once
            if mode == "drop_second":
                # Requests 2-4 each met a reused connection that died: retried fresh.
                assert be.dropped == 3 and be.connections == 4

        try:
            await with_gateway(base_config(port), body)
        finally:
            await be.close()

    run(main())


def test_bad_request_and_payload_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "MAX_PAYLOAD", 1000)

    async def main() -> None:
        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            r, w = await asyncio.open_connection("127.0.0.1", gw_port)
            w.write(b"NOT HTTP AT ALL\r\n\r\n")
            data = await asyncio.wait_for(r.read(), 5)  # answered, then closed
            assert data.startswith(b"HTTP/1.1 400 ")
            assert data.endswith(b'{"message":"Bad Request"}')
            w.close()
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            rep = await c.request("POST", "/prod/items/a", H_PRIV, body=b"x" * 5000)
            assert rep.status == 413 and rep.body == b'{"message":"Request Too Long"}'
            await c.close()

        await with_gateway(base_config(1), body)

    run(main())


def test_tls_with_the_emulator_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "test")
    cert, key = issue(ca, ["127.0.0.1"], tmp_path)

    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = base_config(port)
        raw = dataclasses.replace(
            raw, listen=(Listener("127.0.0.1", 0, True),), tls=TlsFiles(str(cert), str(key))
        )
        ctx = ssl.create_default_context(cafile=str(ca[0]))

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            for name in (
                PRIV_HOST,
                f"{PRIV}-{VPCE}.execute-api.us-east-1.amazonaws.com",
                f"{VPCE}-x1.execute-api.us-east-1.vpce.amazonaws.com",
            ):
                c = await Client.open(
                    gw_port, source=ENDPOINT_IP, ssl_ctx=ctx, server_hostname=name
                )
                r = await c.request(
                    "GET", "/prod/orders/7", [("host", name), ("x-apigw-api-id", PRIV)]
                )
                assert r.status == 200, name
                assert be.seen[-1].headers["x-forwarded-proto"] == "https"
                await c.close()
            # A name outside the certificate fails verification.
            with pytest.raises(ssl.SSLCertVerificationError):
                await Client.open(gw_port, ssl_ctx=ctx, server_hostname="example.com")

        try:
            await with_gateway(raw, body)
        finally:
            await be.close()

    run(main())


def test_https_backend_over_a_vpc_link(tmp_path: Path) -> None:
    """TLS to the backend: SNI is the uri's host, verified against the topology's CA."""
    ca = make_ca(tmp_path, "backend")
    cert, key = issue(
        ca, ["orders.internal.example"], tmp_path, basename="backend", execute_api_names=False
    )

    async def main() -> None:
        seen_sni: list[str | None] = []
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        ctx.sni_callback = lambda sock, name, c: seen_sni.append(name)

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await w.drain()
            w.close()

        up = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port = up.sockets[0].getsockname()[1]
        raw = base_config(port)
        raw = set_integration(
            raw, PRIV, 0, uri=f"https://orders.internal.example:{port}/orders/{{id}}"
        )
        raw = dataclasses.replace(raw, backend_cas=(str(ca[0]),))

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            r = await c.request("GET", "/prod/orders/1", H_PRIV)
            assert (r.status, r.body) == (200, b"ok")
            await c.close()

        try:
            await with_gateway(raw, body)
        finally:
            up.close()
        assert seen_sni == ["orders.internal.example"]

    run(main())


@pytest.mark.parametrize(
    ("issuer", "cert_name", "skip", "want", "log"),
    [
        ("topology", "orders.internal.example", False, 200, ""),
        ("topology", "other.example", False, 500, "Host name 'orders.internal.example' does "
         "not match the certificate subject provided by the peer (CN=other.example)"),
        ("self", "orders.internal.example", False, 500, "PKIX path building failed"),
        ("self", "orders.internal.example", True, 200, ""),
        ("self", "other.example", True, 500, "Host name 'orders.internal.example' does not "
         "match"),
    ],
)  # fmt: skip
def test_backend_certificate_is_verified_as_aws_does(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    issuer: str,
    cert_name: str,
    skip: bool,
    want: int,
    log: str,
) -> None:
    """Issue 16 item 4 (knowledge center "api-gateway-ssl-certificate-errors",
    "api-gateway-500-error-vpc"; tlsConfig.insecureSkipVerification still checks the
    host name): the echo backend serves TLS with the certificate each case names."""
    topology_ca = make_ca(tmp_path / "topology", "t")
    ca = topology_ca if issuer == "topology" else make_ca(tmp_path / "self", "not trusted")
    cert, key = issue(ca, [cert_name], tmp_path, basename="backend", execute_api_names=False)

    async def main() -> None:
        be = echo.EchoServer(
            "tls-backend", "127.0.0.1", 0, tls=echo.server_tls(str(cert), str(key))
        )
        _, port = await be.start()
        raw = base_config(port)
        raw = set_integration(
            raw, PRIV, 0, uri=f"https://orders.internal.example:{port}/orders/{{id}}",
            tls_skip_verification=skip,
        )  # fmt: skip
        raw = dataclasses.replace(raw, backend_cas=(str(topology_ca[0]),))

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            c = await Client.open(gw_port, source=ENDPOINT_IP)
            r = await c.request("GET", "/prod/orders/1", H_PRIV)
            assert r.status == want, r.body
            if want == 200:
                assert json.loads(r.body)["host"] == "tls-backend"
            else:
                assert r.body == b'{"message": "Internal server error"}'
                assert r.headers["x-amzn-errortype"] == "InternalServerErrorException"
            await c.close()

        try:
            with caplog.at_level("WARNING", logger="hyperplane_emu.apigateway"):
                await with_gateway(raw, body)
        finally:
            await be.close()
        logged = [r.getMessage() for r in caplog.records]
        if log:
            assert any(
                m.startswith("Execution failed due to configuration error: ") and log in m
                for m in logged
            ), logged
        else:
            assert not any("Execution failed" in m for m in logged), logged

    run(main())


def test_reload_swaps_apis_and_listeners() -> None:
    async def main() -> None:
        raw = base_config(1)
        srv = ApiGatewayServer(raw)
        bound = await srv.start()
        port = bound[0][1]
        try:
            c = await Client.open(port, source=ENDPOINT_IP)
            assert (await c.request("GET", "/prod/ping", H_PRIV)).status == 200
            raw2 = base_config(1)
            raw2 = dataclasses.replace(
                raw2, listen=(Listener("127.0.0.1", port, False), Listener("127.0.0.2", 0, False))
            )
            raw2 = set_integration(raw2, PRIV, 2, mock_status=202)
            await srv.reload(raw2)
            # Same connection, new configuration.
            assert (await c.request("GET", "/prod/ping", H_PRIV)).status == 202
            await c.close()
            ports = {li.ip: p for li, p in srv.bound()}
            c2 = await Client.open(ports["127.0.0.2"], host="127.0.0.2", source=ENDPOINT_IP)
            assert (await c2.request("GET", "/prod/ping", H_PRIV)).status == 202
            await c2.close()
        finally:
            await srv.close()

    run(main())


def test_bench_load_generator_counts_requests() -> None:
    from hyperplane_emu.bench.apigateway import bench_config, load

    async def main() -> None:
        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            req = (
                b"GET /prod/mock HTTP/1.1\r\nHost: b3nchap1id.execute-api.us-east-1."
                b"amazonaws.com\r\n\r\n"
            )
            res = await load(gw_port, req, 2, 0.3, "MOCK")
            assert res.requests > 10 and res.errors == 0 and res.statuses == {"200": res.requests}
            assert res.requests == srv.requests

        await with_gateway(bench_config(0, 1), body)

    run(main())


def test_expect_100_continue_and_chunked_request_bodies() -> None:
    async def main() -> None:
        be = Backend(respond=lambda s: (200, [], s.body))
        port = await be.start()

        async def body(srv: ApiGatewayServer, gw_port: int) -> None:
            r, w = await asyncio.open_connection("127.0.0.1", gw_port, local_addr=(ENDPOINT_IP, 0))
            w.write(
                f"POST /prod/items/up HTTP/1.1\r\nHost: {PRIV_HOST}\r\n"
                "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
            )
            interim = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            assert interim.startswith(b"HTTP/1.1 100 ")
            w.write(b"hello")
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await r.readexactly(5) == b"hello"
            w.write(
                f"PUT /prod/items/up HTTP/1.1\r\nHost: {PRIV_HOST}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await r.readexactly(5) == b"abcde"
            seen = be.seen[-1]
            assert seen.headers["content-length"] == "5"
            assert "transfer-encoding" not in seen.headers and "expect" not in be.seen[0].headers
            w.close()

        try:
            await with_gateway(base_config(port), body)
        finally:
            await be.close()

    run(main())
