"""Shared pieces for the API Gateway data-plane tests: configs, a scripted backend, a client."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11

from hyperplane_emu.services.apigateway import config as config_mod

REGION = "us-east-1"
ACCOUNT = "111122223333"
PRIV = "a1b2c3d4e5"  # private API
PUB = "r1e2g3i4o5"  # regional API
VPCE = "vpce-0abc1234def567890"
VPC = "vpc-0123456789abcdef0"
ENDPOINT_IP = "127.0.0.5"  # a source address standing for the interface endpoint
PRIV_HOST = f"{PRIV}.execute-api.{REGION}.amazonaws.com"
PUB_HOST = f"{PUB}.execute-api.{REGION}.amazonaws.com"

ALLOW_VPCE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{PRIV}/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": [VPCE]}},
        }
    ],
}


def base_config(upstream_port: int = 8080, listen_port: int = 0) -> dict[str, Any]:
    """A config with one private and one regional API (the brief's example, extended)."""
    return copy.deepcopy(
        {
            "region": REGION,
            "listen": [{"ip": "127.0.0.1", "port": listen_port, "tls": False}],
            "endpoints": {ENDPOINT_IP: {"vpce": VPCE, "vpc": VPC, "private_dns": True}},
            "apis": {
                PRIV: {
                    "name": "orders",
                    "type": "rest",
                    "endpoint": "private",
                    "account_id": ACCOUNT,
                    "policy": ALLOW_VPCE,
                    "stages": {"prod": {"variables": {"vpcLinkId": "abc123"}}},
                    "routes": [
                        {
                            "method": "GET",
                            "path": "/orders/{id}",
                            "integration": {
                                "type": "HTTP_PROXY",
                                "connection_type": "VPC_LINK",
                                "connection_id": "${stageVariables.vpcLinkId}",
                                "uri": "http://orders-nlb-0123456789abcdef.elb.us-east-1."
                                f"amazonaws.com:{upstream_port}/orders/{{id}}",
                                "timeout_ms": 29000,
                            },
                        },
                        {
                            "method": "ANY",
                            "path": "/items/{proxy+}",
                            "integration": {
                                "type": "HTTP_PROXY",
                                "connection_type": "VPC_LINK",
                                "connection_id": "abc123",
                                "uri": f"http://items.internal:{upstream_port}/v1/{{proxy}}",
                            },
                        },
                        {
                            "method": "GET",
                            "path": "/ping",
                            "integration": {
                                "type": "MOCK",
                                "mock_status": 200,
                                "mock_body": '{"pong":true}',
                            },
                        },
                    ],
                    "vpc_links": {
                        "abc123": {
                            "name": "orders-link",
                            "status": "AVAILABLE",
                            "address": "127.0.0.1",
                        }
                    },
                },
                PUB: {
                    "name": "public",
                    "type": "rest",
                    "endpoint": "regional",
                    "account_id": ACCOUNT,
                    "stages": {"prod": {}},
                    "routes": [
                        {
                            "method": "ANY",
                            "path": "/{proxy+}",
                            "integration": {
                                "type": "HTTP_PROXY",
                                "uri": f"http://127.0.0.1:{upstream_port}/{{proxy}}",
                            },
                        },
                        {
                            "method": "GET",
                            "path": "/",
                            "integration": {"type": "MOCK", "mock_body": "root"},
                        },
                    ],
                },
            },
        }
    )


def parsed(cfg: dict[str, Any]) -> config_mod.GatewayConfig:
    return config_mod.parse(cfg)


# ---------------------------------------------------------------- scripted backend


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    peer: str


@dataclass
class Backend:
    """An HTTP/1.1 server on 127.0.0.1 that records requests and answers as told.

    `respond(seen) -> (status, headers, body)`; `silent=True` accepts and never
    answers; `close_after_each=True` closes every connection after one answer
    without saying `Connection: close` (an idle-close race, made certain).
    """

    respond: Callable[[Seen], tuple[int, list[tuple[str, str]], bytes]] | None = None
    silent: bool = False
    close_after_each: bool = False
    drop_second: bool = False  # close, unanswered, on a connection's second request
    dropped: int = 0
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername")
        req: h11.Request | None = None
        body = b""
        served = 0
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    req, body = event, b""
                elif isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage) and req is not None:
                    seen = Seen(
                        req.method.decode(),
                        req.target.decode(),
                        {k.decode(): v.decode() for k, v in req.headers},
                        body,
                        f"{peer[0]}:{peer[1]}",
                    )
                    served += 1
                    if self.drop_second and served == 2:
                        self.dropped += 1
                        return
                    self.seen.append(seen)
                    if self.silent:
                        await asyncio.sleep(3600)
                    status, headers, payload = (
                        self.respond(seen)
                        if self.respond
                        else (200, [("content-type", "text/plain")], b"hello")
                    )
                    if not any(k.lower() == "content-length" for k, _ in headers) and (
                        req.method != b"HEAD"
                    ):
                        headers = [*headers, ("content-length", str(len(payload)))]
                    out = conn.send(h11.Response(status_code=status, headers=headers)) or b""
                    if req.method != b"HEAD" and payload:
                        out += conn.send(h11.Data(data=payload)) or b""
                    out += conn.send(h11.EndOfMessage()) or b""
                    writer.write(out)
                    await writer.drain()
                    if self.close_after_each or conn.our_state is not h11.DONE:
                        return
                    conn.start_next_cycle()
                    req = None
                elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


# ---------------------------------------------------------------- client


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names, last value wins
    raw_headers: list[tuple[str, str]]
    body: bytes


class Client:
    """One keep-alive HTTP/1.1 connection (optionally TLS, optionally from a chosen source)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(
        cls,
        port: int,
        source: str | None = None,
        ssl_ctx: Any = None,
        server_hostname: str | None = None,
        host: str = "127.0.0.1",
    ) -> Client:
        r, w = await asyncio.open_connection(
            host,
            port,
            local_addr=(source, 0) if source else None,
            ssl=ssl_ctx,
            server_hostname=server_hostname,
        )
        return cls(r, w)

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Reply:
        hdrs = list(headers or [])
        if body:
            hdrs.append(("content-length", str(len(body))))
        out = self.conn.send(h11.Request(method=method, target=target, headers=hdrs)) or b""
        if body:
            out += self.conn.send(h11.Data(data=body)) or b""
        out += self.conn.send(h11.EndOfMessage()) or b""
        self.writer.write(out)
        status, raw, parts = 0, [], []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                raw = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before the answer")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return Reply(status, {k.lower(): v for k, v in raw}, raw, b"".join(parts))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


# ---------------------------------------------------------------- HTTP APIs

HTTPAPI = "h1h2h3h4h5"
HTTP_HOST = f"{HTTPAPI}.execute-api.{REGION}.amazonaws.com"
ALB_HOST = "internal-shop-alb-123.us-east-1.elb.amazonaws.com"


def link_integration(
    targets: list[dict[str, Any]], uri: str = "shop/web:80", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "HTTP_PROXY",
        "connection_type": "VPC_LINK",
        "connection_id": "abc123",
        "uri": uri,
        "timeout_ms": 30000,
        "overwrite_path": None,
        "targets": targets,
        **extra,
    }


def alb_target(port: int, address: str = "127.0.0.1") -> dict[str, Any]:
    return {"address": address, "port": port, "host": ALB_HOST, "kind": "alb", "healthy": True}


def http_config(upstream_port: int = 8080, listen_port: int = 0) -> dict[str, Any]:
    """The brief's HTTP API (`shop`) next to base_config()'s REST APIs."""
    raw = base_config(upstream_port, listen_port)
    raw["apis"][HTTPAPI] = {
        "name": "shop",
        "type": "http",
        "endpoint": "regional",
        "account_id": ACCOUNT,
        "policy": None,
        "stages": {"$default": {"variables": {}}, "beta": {"variables": {"link": "abc123"}}},
        "routes": [
            {
                "method": "GET",
                "path": "/items",
                "integration": link_integration([alb_target(upstream_port)]),
            },
            {
                "method": "ANY",
                "path": "/items/{proxy+}",
                "integration": link_integration(
                    [alb_target(upstream_port)], overwrite_path="/new/$request.path.proxy"
                ),
            },
            {
                "method": "GET",
                "path": "/internet/{id}",
                "integration": {
                    "type": "HTTP_PROXY",
                    "connection_type": "INTERNET",
                    "uri": f"http://127.0.0.1:{upstream_port}/v2/{{id}}?src=gw",
                },
            },
            {
                "method": "ANY",
                "path": "$default",
                "integration": {
                    "type": "HTTP_PROXY",
                    "uri": f"http://backend.example:{upstream_port}/base/",
                },
            },
        ],
        "vpc_links": {"abc123": {"name": "shop-link", "status": "AVAILABLE", "address": ""}},
    }
    return raw
