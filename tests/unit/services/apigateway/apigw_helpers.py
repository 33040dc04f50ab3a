"""Shared pieces for the API Gateway data-plane tests: configs (plan dataclasses), a scripted
backend, a client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import h11

from hyperplane_emu.plan.model import (
    PlanApi,
    PlanApiRoute,
    PlanIntegration,
    PlanIntegrationTarget,
    PlanPolicyStatement,
    PlanStage,
    PlanVpcLink,
)
from hyperplane_emu.services.apigateway.config import (
    EndpointInfo,
    GatewayConfig,
    Listener,
)

REGION = "us-east-1"
ACCOUNT = "111122223333"
PRIV = "a1b2c3d4e5"  # private API
PUB = "r1e2g3i4o5"  # regional API
VPCE = "vpce-0abc1234def567890"
VPC = "vpc-0123456789abcdef0"
ENDPOINT_IP = "127.0.0.5"  # a source address standing for the interface endpoint
PRIV_HOST = f"{PRIV}.execute-api.{REGION}.amazonaws.com"
PUB_HOST = f"{PUB}.execute-api.{REGION}.amazonaws.com"

ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}"
ALLOW_VPCE = (PlanPolicyStatement("Allow", (f"{ARN}:{PRIV}/*",), source_vpce=(VPCE,)),)
ORDERS_NLB = "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com"


def link(lid: str, name: str, status: str = "AVAILABLE", address: str = "") -> PlanVpcLink:
    return PlanVpcLink(lid, name, "", "", "", status, address)


def api(
    aid: str,
    name: str,
    routes: list[PlanApiRoute],
    stages: dict[str, dict[str, str]],
    *,
    type: Literal["rest", "http"] = "rest",
    endpoint: Literal["regional", "private"] = "regional",
    policy: tuple[PlanPolicyStatement, ...] | None = None,
    links: tuple[PlanVpcLink, ...] = (),
    vpc_endpoint_ids: tuple[str, ...] = (),
) -> PlanApi:
    return PlanApi(
        id=aid,
        name=name,
        type=type,
        endpoint=endpoint,
        account_id=ACCOUNT,
        arn_prefix=f"{ARN}:{aid}",
        hostname=f"{aid}.execute-api.{REGION}.amazonaws.com",
        policy=policy,
        stages={n: PlanStage(n, dict(v)) for n, v in stages.items()},
        routes=tuple(routes),
        vpc_links={lk.id: lk for lk in links},
        vpc_endpoint_ids=vpc_endpoint_ids,
    )


def route(method: str, path: str, **integration: Any) -> PlanApiRoute:
    integration.setdefault("connection_type", "INTERNET")
    integration.setdefault("connection_id", None)
    integration.setdefault("uri", None)
    integration.setdefault("timeout_ms", 29000)
    return PlanApiRoute(method, path, PlanIntegration(**integration))


def base_config(upstream_port: int = 8080, listen_port: int = 0) -> GatewayConfig:
    """One private and one regional API (the brief's example, extended)."""
    priv = api(
        PRIV,
        "orders",
        [
            route(
                "GET", "/orders/{id}", type="HTTP_PROXY", connection_type="VPC_LINK",
                connection_id="${stageVariables.vpcLinkId}",
                uri=f"http://{ORDERS_NLB}:{upstream_port}/orders/{{id}}",
            ),
            route(
                "ANY", "/items/{proxy+}", type="HTTP_PROXY", connection_type="VPC_LINK",
                connection_id="abc123", uri=f"http://items.internal:{upstream_port}/v1/{{proxy}}",
            ),
            route("GET", "/ping", type="MOCK", mock_status=200, mock_body='{"pong":true}'),
        ],
        {"prod": {"vpcLinkId": "abc123"}},
        endpoint="private",
        policy=ALLOW_VPCE,
        links=(link("abc123", "orders-link", address="127.0.0.1"),),
        vpc_endpoint_ids=(VPCE,),
    )  # fmt: skip
    pub = api(
        PUB,
        "public",
        [
            route(
                "ANY", "/{proxy+}", type="HTTP_PROXY",
                uri=f"http://127.0.0.1:{upstream_port}/{{proxy}}",
            ),
            route("GET", "/", type="MOCK", mock_body="root"),
        ],
        {"prod": {}},
    )  # fmt: skip
    return GatewayConfig(
        region=REGION,
        listen=(Listener("127.0.0.1", listen_port, False),),
        tls=None,
        endpoints={ENDPOINT_IP: EndpointInfo(VPCE, VPC, True)},
        apis={PRIV: priv, PUB: pub},
    )


def set_api(cfg: GatewayConfig, aid: str, **changes: Any) -> GatewayConfig:
    return replace(cfg, apis={**cfg.apis, aid: replace(cfg.apis[aid], **changes)})


def set_stage(
    cfg: GatewayConfig, aid: str, name: str, variables: dict[str, str] | None
) -> GatewayConfig:
    """Add or replace a stage; `None` removes it."""
    stages = dict(cfg.apis[aid].stages)
    if variables is None:
        del stages[name]
    else:
        stages[name] = PlanStage(name, variables)
    return set_api(cfg, aid, stages=stages)


def set_integration(cfg: GatewayConfig, aid: str, index: int, **changes: Any) -> GatewayConfig:
    routes = list(cfg.apis[aid].routes)
    r = routes[index]
    routes[index] = replace(r, integration=replace(r.integration, **changes))
    return set_api(cfg, aid, routes=tuple(routes))


def set_link(cfg: GatewayConfig, aid: str, lid: str, **changes: Any) -> GatewayConfig:
    links = dict(cfg.apis[aid].vpc_links)
    links[lid] = replace(links[lid], **changes)
    return set_api(cfg, aid, vpc_links=links)


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
    targets: list[PlanIntegrationTarget], uri: str = "shop/web:80", **extra: Any
) -> PlanIntegration:
    return PlanIntegration(
        **{
            "type": "HTTP_PROXY",
            "connection_type": "VPC_LINK",
            "connection_id": "abc123",
            "uri": uri,
            "timeout_ms": 30000,
            "targets": tuple(targets),
            **extra,
        }
    )


def alb_target(port: int, address: str = "127.0.0.1") -> PlanIntegrationTarget:
    return PlanIntegrationTarget(address, port, ALB_HOST, "alb")


def http_config(upstream_port: int = 8080, listen_port: int = 0) -> GatewayConfig:
    """The brief's HTTP API (`shop`) next to base_config()'s REST APIs."""
    cfg = base_config(upstream_port, listen_port)
    shop = api(
        HTTPAPI,
        "shop",
        [
            PlanApiRoute("GET", "/items", link_integration([alb_target(upstream_port)])),
            PlanApiRoute(
                "ANY",
                "/items/{proxy+}",
                link_integration(
                    [alb_target(upstream_port)], overwrite_path="/new/$request.path.proxy"
                ),
            ),
            route(
                "GET", "/internet/{id}", type="HTTP_PROXY", timeout_ms=30000,
                uri=f"http://127.0.0.1:{upstream_port}/v2/{{id}}?src=gw",
            ),
            route(
                "ANY", "$default", type="HTTP_PROXY", timeout_ms=30000,
                uri=f"http://backend.example:{upstream_port}/base/",
            ),
        ],
        {"$default": {}, "beta": {"link": "abc123"}},
        type="http",
        links=(link("abc123", "shop-link"),),
    )  # fmt: skip
    return replace(cfg, apis={**cfg.apis, HTTPAPI: shop})


def set_route(cfg: GatewayConfig, aid: str, index: int, new: PlanApiRoute | None) -> GatewayConfig:
    """Replace route `index` (None removes it)."""
    routes = list(cfg.apis[aid].routes)
    if new is None:
        del routes[index]
    else:
        routes[index] = new
    return set_api(cfg, aid, routes=tuple(routes))


def with_integration(
    cfg: GatewayConfig, aid: str, index: int, integration: PlanIntegration
) -> GatewayConfig:
    r = cfg.apis[aid].routes[index]
    return set_route(cfg, aid, index, replace(r, integration=integration))
