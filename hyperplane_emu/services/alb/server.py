"""The ALB's sockets: listeners, client keep-alive, target connection pool.

Thin on purpose: `rules.evaluate` picks the action, `targets` picks the target,
`headers` writes the forwarded request, `errors` the ALB's own answers. This
module reads a whole request with h11, does what the action says and relays the
target's answer, keeping both sides alive (HTTP/1.1).

Target connections leave from an ALB node address: the node the client
connected to when its address is a node's (the ALB's cross-zone behaviour: a
node forwards from its own ENI), else the node in the target's AZ, else none
(the config names no nodes). They are pooled per (target, source) and reused;
one found closed before use is dropped, but a request is never retried on
another connection: like AWS, a target that closes a kept-alive connection as a
request arrives costs that request a 502.

Timeouts (ALB idle timeout, `idle_timeout` seconds): a client connection idle
that long is closed (408 when it stopped mid-request); a target that sends
nothing for that long gets the client a 504, as does one that does not accept
the connection within `connect_timeout` (10 s on AWS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import h11

from hyperplane_emu.plan.model import PlanAlbListener as Listener
from hyperplane_emu.plan.model import PlanTarget as Target
from hyperplane_emu.services.alb import errors
from hyperplane_emu.services.alb.config import AlbConfig, target_key
from hyperplane_emu.services.alb.errors import Answer
from hyperplane_emu.services.alb.headers import MAX_FORWARDED, response_headers
from hyperplane_emu.services.alb.headers import upstream_headers as forwarded_headers
from hyperplane_emu.services.alb.health import HealthChecker
from hyperplane_emu.services.alb.rules import Request, evaluate
from hyperplane_emu.services.alb.targets import TargetGroupState
from hyperplane_emu.services.httpio import TooLarge, listen, read_request
from hyperplane_emu.services.upstream import (
    UpstreamFailure,
    UpstreamKey,
    UpstreamPool,
    UpstreamResponse,
)

log = logging.getLogger("hyperplane_emu.alb")

MAX_BODY = 64 * 1024 * 1024  # bodies are buffered; larger ones get 413 / 502
_MAX_HEAD = 64 * 1024  # AWS: 64 KB of request headers in all
_POOL_MAX_IDLE = 256  # per (target, source)
_CLOSE_GRACE = 2.0
_NO_BODY_STATUS = frozenset({204, 304})

# How a target failed -> the ALB's answer (ALB guide "Troubleshoot": 502 refused, reset
# or malformed; 504 no connection or no data within the timeouts).
_FAILURE_STATUS = {"connect-timeout": 504, "connect": 502, "read-timeout": 504,
                   "too-large": 502, "broken": 502}  # fmt: skip


@dataclass
class _Bound:
    listener: Listener
    server: asyncio.Server
    port: int


@dataclass
class AlbServer:
    """Listeners + rules + target groups + health checks + target connection pool."""

    config: AlbConfig
    pool: UpstreamPool = field(default_factory=lambda: UpstreamPool(max_idle=_POOL_MAX_IDLE))
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        azs = self.config.enabled_azs
        self.groups = {
            name: TargetGroupState(tg, azs, self.config.health_checks)
            for name, tg in self.config.target_groups.items()
        }
        self._node_ips = {n.address for n in self.config.nodes}
        self._node_by_az = {n.az: n.address for n in reversed(self.config.nodes)}
        self.checker = HealthChecker(self.groups, self._probe_source)
        self._bound: list[_Bound] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------

    async def start(self) -> list[tuple[Listener, int]]:
        """Bind every listener, start the health checks; the listeners with real ports."""
        for li in self.config.listeners:
            await self._bind(li)
        self.checker.start()
        return self.bound()

    def bound(self) -> list[tuple[Listener, int]]:
        return [(b.listener, b.port) for b in self._bound]

    async def _bind(self, li: Listener) -> None:
        async def client(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int) -> None:
            await self._client(r, w, li, port)

        server, port = await listen(self.config.listen_address, li.port, client)
        self._bound.append(_Bound(li, server, port))

    async def close(self) -> None:
        await self.checker.close()
        for b in self._bound:
            b.server.close()
        for w in list(self._writers):
            w.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for b in self._bound:
            await b.server.wait_closed()
        self._bound.clear()
        self.pool.close()

    def describe(self) -> dict[str, object]:
        """Target health per group (DescribeTargetHealth's view) and counters."""
        return {
            "name": self.config.name,
            "listeners": [port for _, port in self.bound()],
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "target_groups": {name: g.describe() for name, g in self.groups.items()},
            "health_checks": self.checker.probes,
            "upstream": {"opened": self.pool.opened, "reused": self.pool.reused},
        }

    # -- sources --------------------------------------------------------

    def _probe_source(self, target: Target) -> str | None:
        if target.az in self._node_by_az:
            return self._node_by_az[target.az]
        return self.config.nodes[0].address if self.config.nodes else None

    def _source(self, local_ip: str, target: Target) -> str | None:
        if local_ip in self._node_ips:
            return local_ip
        if target.az in self._node_by_az:
            return self._node_by_az[target.az]
        return None

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
        local = writer.get_extra_info("sockname")
        client_ip = str(peer[0]) if isinstance(peer, tuple) else ""
        local_ip = str(local[0]) if isinstance(local, tuple) else ""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.config.idle_timeout):
                        request, body = await read_request(conn, reader, writer, MAX_BODY)
                except TimeoutError:
                    if conn.their_state is not h11.IDLE or conn.trailing_data[0]:
                        await self._send(conn, writer, errors.error_page(408, close=True), b"GET")
                    break
                except TooLarge:
                    await self._send(conn, writer, errors.error_page(413, close=True), b"POST")
                    break
                except h11.RemoteProtocolError:
                    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        await self._send(conn, writer, errors.error_page(400, close=True), b"GET")
                    break
                if request is None:
                    break
                try:
                    answer = await self._answer(request, body, li, port, client_ip, local_ip)
                except Exception:
                    # A bug must cost one request a 500, not the connection or the process.
                    log.exception("cannot handle %r from %s", request, client_ip)
                    answer = errors.error_page(500)
                await self._send(conn, writer, answer, request.method)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, OSError, h11.LocalProtocolError) as e:
            log.debug("client %s: %s", peer, e)
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(
        self,
        request: h11.Request,
        body: bytes,
        li: Listener,
        port: int,
        client_ip: str,
        local_ip: str,
    ) -> Answer | UpstreamResponse:
        self.requests += 1
        if request.method == b"TRACE":
            return self._done(errors.error_page(405), request, client_ip, "TRACE")
        raw = request.headers.raw_items()  # the client's spelling, as a proxy keeps it
        if not any(name.lower() == b"host" for name, _ in raw):
            # HTTP/1.0 without Host: name what the client connected to (HTTP/1.1 needs one).
            raw = [*raw, (b"Host", f"{local_ip}:{port}".encode())]
        headers, hops = forwarded_headers(
            raw, client_ip=client_ip, listener_port=port, body_length=len(body)
        )
        if hops > MAX_FORWARDED:
            return self._done(errors.error_page(463), request, client_ip, f"{hops} XFF hops")
        verdict = evaluate(li, Request.from_head(request.method, request.target, raw))
        action = verdict.action
        if action.fixed_response is not None:
            fr = action.fixed_response
            answer = errors.fixed_response(fr.status, fr.body, fr.content_type)
            return self._done(answer, request, client_ip, verdict.reason)
        assert action.forward is not None
        choice = self.groups[action.forward].choose()
        if choice.target is None:
            note = f"{verdict.reason}: no target in {action.forward}"
            return self._done(errors.error_page(503), request, client_ip, note)
        target = choice.target
        key = UpstreamKey(target.ip, target.port, self._source(local_ip, target))
        upstream = h11.Request(method=request.method, target=request.target, headers=headers)
        try:
            response = await self.pool.exchange(
                key, upstream, body, connect_timeout=self.config.connect_timeout,
                max_body=MAX_BODY, read_timeout=self.config.idle_timeout,
            )  # fmt: skip
        except UpstreamFailure as e:
            note = f"{verdict.reason} -> {target_key(target)}: {e.reason}"
            status = _FAILURE_STATUS[e.kind]
            return self._done(errors.error_page(status), request, client_ip, note)
        note = f"{verdict.reason} -> {target_key(target)} ({choice.mode})"
        return self._done(response, request, client_ip, note)

    def _done(
        self,
        answer: Answer | UpstreamResponse,
        request: h11.Request,
        client_ip: str,
        note: str,
    ) -> Answer | UpstreamResponse:
        self.statuses[answer.status] += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s -> %d %s",
                client_ip,
                request.method.decode("latin-1"),
                request.target.decode("latin-1"),
                answer.status,
                note,
            )
        return answer

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        answer: Answer | UpstreamResponse,
        method: bytes,
    ) -> None:
        status = answer.status
        no_body = method == b"HEAD" or status in _NO_BODY_STATUS or status < 200
        if isinstance(answer, UpstreamResponse):
            length = None if no_body else len(answer.body)
            headers = response_headers(answer.headers, length)
        else:
            headers = answer.headers
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=answer.reason))
        if answer.body and not no_body:
            data = (data or b"") + (conn.send(h11.Data(data=answer.body)) or b"")
        data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
        writer.write(data)
        await writer.drain()


def describe_bound(bound: Sequence[tuple[Listener, int]], address: str) -> str:
    return " ".join(f"http://{address}:{port}" for _, port in bound)
