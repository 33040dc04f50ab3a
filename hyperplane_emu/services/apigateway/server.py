"""The data plane's sockets: listeners (HTTP and HTTPS), keep-alive, upstream pool.

Thin on purpose: every decision is `dispatch.Gateway.handle`'s; this module
reads a whole request with h11, asks the gateway, and either answers at once
(errors, MOCK) or sends the integration request and relays the answer.

Upstream connections are kept alive per (address, port, TLS, server name) and
reused; a request that fails on a *reused* connection before any byte of the
answer arrived is retried once on a fresh one (the backend may have closed it
while idle, a race every HTTP client has). Timeouts: the integration timeout
covers connect + response and answers 504; a connect that has not completed
within `connect_timeout_ms` (default 10 s) answers 500 like a refused one, as
AWS answers 500 when a security group silently drops the SYN
(knowledge center "api-gateway-500-error-vpc").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import ipaddress
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

from hyperplane_emu.services.apigateway import errors
from hyperplane_emu.services.apigateway.config import GatewayConfig, Listener
from hyperplane_emu.services.apigateway.dispatch import (
    Action,
    Caller,
    ForwardAction,
    Gateway,
    MockAction,
    RequestInfo,
    UpstreamRequest,
    new_apigw_id,
)
from hyperplane_emu.services.apigateway.errors import GatewayError
from hyperplane_emu.services.apigateway.httpapi import http_error_headers, http_response_headers
from hyperplane_emu.services.apigateway.integration import (
    Headers,
    error_headers,
    gateway_headers,
    response_headers,
)
from hyperplane_emu.services.httpio import READ_SIZE, TooLarge, read_request

log = logging.getLogger("hyperplane_emu.apigateway")

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway quota: 10 MB payload, request and response
_MAX_HEAD = 64 * 1024
_CLOSE_GRACE = 2.0
_POOL_IDLE_S = 50.0  # under the NLB's 350 s and most servers' keep-alive timeouts
_POOL_MAX_IDLE = 256  # per upstream key
_TLS_HANDSHAKE_S = 10.0
_NO_BODY_STATUS = frozenset({204, 304})


# Indirection so tests can stand in for a connect that never completes.
_open_connection = asyncio.open_connection


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class UpstreamError(Exception):
    """The integration failed; `error` is what the client gets."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.reason)
        self.error = error


class _Retryable(Exception):
    """A reused connection died before any answer: try a fresh one."""


@dataclass
class UpstreamResponse:
    status: int
    headers: Headers
    body: bytes


@dataclass
class _UpConn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection
    last_used: float = 0.0


_PoolKey = tuple[str, int, bool, str]


class UpstreamPool:
    """Keep-alive connections to integration endpoints."""

    def __init__(self) -> None:
        self._idle: dict[_PoolKey, list[_UpConn]] = {}
        ctx = ssl.create_default_context()
        # Backends here carry the emulator's own or self-signed certificates;
        # docs/apigateway.md explains why nothing is verified.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self._tls = ctx
        self.opened = 0
        self.reused = 0

    def _take(self, key: _PoolKey) -> _UpConn | None:
        conns = self._idle.get(key)
        now = time.monotonic()
        while conns:
            c = conns.pop()
            if c.reader.at_eof() or c.writer.is_closing() or now - c.last_used > _POOL_IDLE_S:
                c.writer.close()
                continue
            return c
        return None

    def _give(self, key: _PoolKey, c: _UpConn) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) >= _POOL_MAX_IDLE:
            c.writer.close()
            return
        c.last_used = time.monotonic()
        conns.append(c)

    def sweep(self) -> None:
        """Close connections idle for too long (called periodically)."""
        now = time.monotonic()
        for key, conns in list(self._idle.items()):
            keep = []
            for c in conns:
                if now - c.last_used > _POOL_IDLE_S or c.reader.at_eof():
                    c.writer.close()
                else:
                    keep.append(c)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def close(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.writer.close()
        self._idle.clear()

    async def exchange(self, req: UpstreamRequest, body: bytes) -> UpstreamResponse:
        """Send one integration request; raise UpstreamError with the client's answer."""
        key: _PoolKey = (req.connect_host, req.port, req.tls, req.server_name)
        try:
            async with asyncio.timeout(req.timeout_s):
                conn = self._take(key)
                if conn is not None:
                    self.reused += 1
                    try:
                        return await self._roundtrip(key, conn, req, body)
                    except _Retryable:
                        pass
                conn = await self._connect(req)
                try:
                    return await self._roundtrip(key, conn, req, body)
                except _Retryable as e:
                    raise UpstreamError(
                        errors.INTERNAL.with_reason(f"backend closed the connection: {e}")
                    ) from None
        except TimeoutError:
            raise UpstreamError(
                errors.TIMEOUT.with_reason(f"no answer within {req.timeout_s:g} s")
            ) from None

    async def _connect(self, req: UpstreamRequest) -> _UpConn:
        ssl_ctx = self._tls if req.tls else None
        connect = _open_connection(
            req.connect_host,
            req.port,
            ssl=ssl_ctx,
            server_hostname=req.server_name if req.tls else None,
            ssl_handshake_timeout=_TLS_HANDSHAKE_S if req.tls else None,
            limit=READ_SIZE * 4,
        )
        cm = asyncio.timeout(req.connect_timeout_s)
        try:
            async with cm:
                reader, writer = await connect
        except TimeoutError:
            if cm.expired():
                raise UpstreamError(
                    errors.INTERNAL.with_reason(
                        f"connect to {req.connect_host}:{req.port} timed out"
                    )
                ) from None
            raise  # the integration timeout: 504
        except (OSError, ssl.SSLError) as e:
            raise UpstreamError(
                errors.INTERNAL.with_reason(f"connect to {req.connect_host}:{req.port}: {e}")
            ) from None
        self.opened += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _UpConn(reader, writer, h11.Connection(h11.CLIENT))

    async def _roundtrip(
        self, key: _PoolKey, c: _UpConn, req: UpstreamRequest, body: bytes
    ) -> UpstreamResponse:
        conn = c.h11
        fresh = conn.their_state is h11.IDLE and c.last_used == 0.0
        got_any = False
        try:
            data = conn.send(h11.Request(method=req.method, target=req.target, headers=req.headers))
            if body:
                data += conn.send(h11.Data(data=body))
            data += conn.send(h11.EndOfMessage())
            c.writer.write(data)
            status = 0
            headers: Headers = []
            parts: list[bytes] = []
            size = 0
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    chunk = await c.reader.read(READ_SIZE)
                    if chunk:
                        got_any = True
                    conn.receive_data(chunk)
                    continue
                if isinstance(event, h11.InformationalResponse):
                    got_any = True
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                    headers = list(event.headers)
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > MAX_PAYLOAD:
                        raise UpstreamError(
                            errors.INTERNAL.with_reason("integration response over 10 MB")
                        )
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise h11.RemoteProtocolError("closed before the response")
        except (
            h11.RemoteProtocolError,
            h11.LocalProtocolError,
            ConnectionError,
            OSError,
            ssl.SSLError,
        ) as e:
            c.writer.close()
            if not got_any and not fresh:
                raise _Retryable(str(e)) from None
            raise UpstreamError(errors.INTERNAL.with_reason(f"integration: {e}")) from None
        except BaseException:
            c.writer.close()  # timeout or cancellation: the connection is mid-exchange
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._give(key, c)
        else:
            c.writer.close()
        return UpstreamResponse(status, headers, b"".join(parts))


@dataclass
class _Bound:
    listener: Listener
    server: asyncio.Server
    port: int


@dataclass
class ApiGatewayServer:
    """Listeners + gateway + upstream pool; `reload` swaps the configuration."""

    config: GatewayConfig
    gateway: Gateway = field(init=False)
    pool: UpstreamPool = field(default_factory=UpstreamPool)
    requests: int = 0

    def __post_init__(self) -> None:
        self.gateway = Gateway(self.config)
        for problem in self.gateway.problems:
            log.warning("integration will answer 500: %s", problem)
        self._bound: dict[tuple[str, int, bool], _Bound] = {}
        self._ssl: ssl.SSLContext | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        if self.config.tls is not None:
            self._ssl.load_cert_chain(self.config.tls.cert, self.config.tls.key)
        return self._ssl

    async def start(self) -> list[tuple[Listener, int]]:
        """Bind every listener; return them with their real ports."""
        if any(li.tls for li in self.config.listen):
            self._tls_context()
        for li in self.config.listen:
            await self._bind(li)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever())
        return self.bound()

    def bound(self) -> list[tuple[Listener, int]]:
        return [(b.listener, b.port) for b in self._bound.values()]

    async def _bind(self, li: Listener) -> None:
        family = socket.AF_INET6 if ipaddress.ip_address(li.ip).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((li.ip, li.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]

        async def client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self._client(r, w, li, port)

        server = await asyncio.start_server(
            client,
            sock=sock,
            ssl=self._tls_context() if li.tls else None,
            ssl_handshake_timeout=_TLS_HANDSHAKE_S if li.tls else None,
            limit=READ_SIZE * 4,
        )
        self._bound[(li.ip, li.port, li.tls)] = _Bound(li, server, port)

    async def reload(self, config: GatewayConfig) -> None:
        """New APIs/endpoints at once; listeners added/removed; new certificate for new
        handshakes. Open connections keep going (their next request uses the new config)."""
        gateway = Gateway(config)
        old = self.config
        self.config, self.gateway = config, gateway
        for problem in gateway.problems:
            log.warning("integration will answer 500: %s", problem)
        if config.tls is not None and (config.tls != old.tls or self._ssl is not None):
            with contextlib.suppress(OSError, ssl.SSLError):
                self._tls_context()
        want = {(li.ip, li.port, li.tls) for li in config.listen}
        for key in list(self._bound):
            if key not in want:
                b = self._bound.pop(key)
                b.server.close()
        for li in config.listen:
            if (li.ip, li.port, li.tls) not in self._bound:
                try:
                    await self._bind(li)
                except OSError as e:
                    log.error("cannot listen on %s:%d: %s", li.ip, li.port, e)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for b in self._bound.values():
            b.server.close()
        for w in list(self._writers):
            w.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for b in self._bound.values():
            await b.server.wait_closed()
        self._bound.clear()
        self.pool.close()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(_POOL_IDLE_S / 2)
            self.pool.sweep()

    # -- one client connection ------------------------------------------

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, li: Listener, port: int
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local = writer.get_extra_info("sockname")
        caller = Caller(
            ip=str(peer[0]) if isinstance(peer, tuple) else "",
            tls=li.tls,
            local_port=port,
            local_ip=str(local[0]) if isinstance(local, tuple) else "",
        )
        if caller.ip in self.config.endpoints and self.config.fabric_socket:
            origin = await asyncio.to_thread(self._origin, peer, local)
            if origin:
                caller = dataclasses.replace(caller, vpc_source_ip=origin)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.config.idle_timeout_s):
                        request, body = await read_request(conn, reader, writer, MAX_PAYLOAD)
                except TimeoutError:
                    break
                except TooLarge:
                    await self._send_error(conn, writer, b"POST", errors.TOO_LARGE)
                    break
                except h11.RemoteProtocolError:
                    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        await self._send_error(conn, writer, b"GET", errors.BAD_REQUEST)
                    break
                if request is None:
                    break
                await self._answer(conn, writer, request, body, caller)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, OSError, ssl.SSLError, h11.LocalProtocolError) as e:
            log.debug("client %s: %s", peer, e)
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
                await writer.wait_closed()

    def _origin(self, peer: Any, local: Any) -> str:
        """The client behind the fabric's rewrite, or "" (then the rewritten address shows)."""
        from hyperplane_emu.fabric import control

        try:
            answer = control.request(
                str(self.config.fabric_socket), "nat_origin", timeout=1.0, vpc="apigateway",
                proto=6, src=peer[0], sport=peer[1], dst=local[0], dport=local[1],
            )  # fmt: skip
        except (control.ControlError, OSError, IndexError, TypeError):
            return ""
        origin = answer.get("origin") if isinstance(answer, dict) else None
        return str(origin["src"]) if isinstance(origin, dict) and origin.get("src") else ""

    async def _answer(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes,
        caller: Caller,
    ) -> None:
        self.requests += 1
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("latin-1")
        try:
            action: Action = self.gateway.handle(method, target, request.headers, caller, len(body))
        except Exception:
            # A bug must cost one request a 500, not the connection or the process.
            log.exception("cannot handle %s %s from %s", method, target, caller.ip)
            await self._send_error(conn, writer, request.method, errors.INTERNAL)
            return
        if isinstance(action, ForwardAction):
            try:
                resp = await self.pool.exchange(action.upstream, body)
            except UpstreamError as e:
                error = e.error
                if action.info.http_api:
                    # HTTP APIs answer every integration failure, timeouts
                    # included, 503 Service Unavailable (docs/apigateway.md).
                    error = errors.HTTP_UNAVAILABLE.with_reason(error.reason)
                self._log(caller, method, target, action.info, error.status, error.reason)
                await self._send_error(conn, writer, request.method, error, action.info)
                return
            is_head = method == "HEAD"
            length = None if is_head or resp.status in _NO_BODY_STATUS else len(resp.body)
            if action.info.http_api:
                headers = http_response_headers(
                    resp.headers, request_id=action.info.apigw_id, body_length=length
                )
            else:
                headers = response_headers(
                    resp.headers,
                    request_id=action.info.request_id,
                    apigw_id=action.info.apigw_id,
                    trace_id=action.info.trace_id,
                    body_length=length,
                )
            self._log(caller, method, target, action.info, resp.status, "")
            await self._send(conn, writer, resp.status, headers, b"" if is_head else resp.body)
        elif isinstance(action, MockAction):
            headers = gateway_headers(action.info.request_id, action.info.apigw_id)
            headers.append((b"Content-Type", b"application/json"))
            if action.status not in _NO_BODY_STATUS:
                headers.append((b"Content-Length", str(len(action.body)).encode()))
            self._log(caller, method, target, action.info, action.status, "mock")
            await self._send(
                conn, writer, action.status, headers, b"" if method == "HEAD" else action.body
            )
        else:
            self._log(caller, method, target, action.info, action.error.status, action.error.reason)
            await self._send_error(conn, writer, request.method, action.error, action.info)

    def _log(
        self, caller: Caller, method: str, target: str, info: RequestInfo, status: int, note: str
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %d %s api=%s stage=%s resource=%s id=%s",
                caller.ip,
                method,
                target,
                status,
                note,
                info.api_id,
                info.stage,
                info.resource,
                info.request_id,
            )

    async def _send_error(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        method: bytes,
        error: GatewayError,
        info: RequestInfo | None = None,
    ) -> None:
        if info is None:
            info = RequestInfo(str(uuid.uuid4()), new_apigw_id())
        if info.http_api:
            headers = http_error_headers(info.apigw_id, len(error.body))
        else:
            headers = error_headers(
                info.request_id, info.apigw_id, error.error_type, len(error.body)
            )
        if error.status in (400, 413):
            headers.append((b"Connection", b"close"))
        await self._send(
            conn, writer, error.status, headers, b"" if method == b"HEAD" else error.body
        )

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: Headers,
        body: bytes,
    ) -> None:
        data = (
            conn.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))
            or b""
        )
        if body and status not in _NO_BODY_STATUS:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()


def describe(bound: Sequence[tuple[Listener, int]]) -> str:
    return " ".join(f"{'https' if li.tls else 'http'}://{li.ip}:{port}" for li, port in bound)
