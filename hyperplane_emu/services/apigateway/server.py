"""The data plane's sockets: listeners (HTTP and HTTPS), keep-alive, upstream pool.

Thin on purpose: every decision is `dispatch.Gateway.handle`'s; this module
reads a whole request with h11, asks the gateway, and either answers at once
(errors, MOCK) or sends the integration request and relays the answer.

Upstream connections (services/upstream.py, shared with the ALB) are kept
alive per (address, port, TLS, server name) and reused; a request that fails
on a *reused* connection before any byte of the answer arrived is retried once
on a fresh one (the backend may have closed it while idle, a race every HTTP
client has). Timeouts: the integration timeout
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
import logging
import socket
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

from hyperplane_emu.services.apigateway import backendtls, errors
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
from hyperplane_emu.services.httpio import TooLarge, listen, read_request
from hyperplane_emu.services.upstream import (
    UpstreamFailure,
    UpstreamKey,
    UpstreamPool,
    UpstreamResponse,
)

log = logging.getLogger("hyperplane_emu.apigateway")

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway quota: 10 MB payload, request and response
_MAX_HEAD = 64 * 1024
_CLOSE_GRACE = 2.0
_POOL_IDLE_S = 50.0  # under the NLB's 350 s and most servers' keep-alive timeouts
_POOL_MAX_IDLE = 256  # per upstream key
_TLS_HANDSHAKE_S = 10.0
_NO_BODY_STATUS = frozenset({204, 304})


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


def _integration_pool(ca_files: Sequence[str] = ()) -> UpstreamPool:
    """Backend TLS as AWS checks it (backendtls.py): chain to a trusted CA (or not, with
    insecure_skip_verification), validity and host name."""
    profiles = backendtls.contexts(ca_files)
    return UpstreamPool(
        profiles[backendtls.VERIFY], max_idle=_POOL_MAX_IDLE, idle_s=_POOL_IDLE_S,
        tls_profiles=profiles, peer_check=backendtls.check_peer,
        handshake_failure=backendtls.handshake_failure,
    )  # fmt: skip


async def integration_exchange(
    pool: UpstreamPool, req: UpstreamRequest, body: bytes
) -> UpstreamResponse:
    """Send one integration request; raise UpstreamError with the client's answer.

    The integration timeout bounds connect + response (504); a connect not done
    within the connect timeout, refused, reset or malformed answers are 500."""
    key = UpstreamKey(
        req.connect_host, req.port, None, req.tls, req.server_name,
        tls_profile=req.tls_profile, verify_name=req.verify_name,
    )  # fmt: skip
    request = h11.Request(method=req.method, target=req.target, headers=req.headers)
    try:
        async with asyncio.timeout(req.timeout_s):
            resp = await pool.exchange(
                key, request, body, connect_timeout=req.connect_timeout_s,
                max_body=MAX_PAYLOAD, retry_reused=True,
            )  # fmt: skip
    except TimeoutError:
        raise UpstreamError(
            errors.TIMEOUT.with_reason(f"no answer within {req.timeout_s:g} s")
        ) from None
    except UpstreamFailure as e:
        if e.kind == "tls":
            # AWS's execution log line for a certificate it refuses.
            log.warning("Execution failed due to configuration error: %s", e.reason)
            raise UpstreamError(errors.INTERNAL.with_reason(e.reason)) from None
        reason = "integration response over 10 MB" if e.kind == "too-large" else e.reason
        if e.kind == "broken":
            reason = f"integration: {e.reason}"
        raise UpstreamError(errors.INTERNAL.with_reason(reason)) from None
    # The integration's header names in lower case, as the header rules compare them.
    resp.headers = [(name.lower(), value) for name, value in resp.headers]
    return resp


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
    pool: UpstreamPool = field(init=False)
    requests: int = 0

    def __post_init__(self) -> None:
        self.pool = _integration_pool(self.config.backend_cas)
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
        async def client(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int) -> None:
            await self._client(r, w, li, port)

        tls = self._tls_context() if li.tls else None
        server, port = await listen(li.ip, li.port, client, tls, _TLS_HANDSHAKE_S)
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
                resp = await integration_exchange(self.pool, action.upstream, body)
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
            if info.trace_id and error.status >= 500:
                # Integration failures (500/502/504) carry the request's trace id; the
                # 403s decided before a method matched do not (public captures:
                # docs/apigateway.md, "Error answers").
                headers.append((b"X-Amzn-Trace-Id", info.trace_id.encode("latin-1")))
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
