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
from hyperplane_emu.services.alb.headers import MAX_FORWARDED, Headers, response_headers
from hyperplane_emu.services.alb.headers import upstream_headers as forwarded_headers
from hyperplane_emu.services.alb.health import HealthChecker
from hyperplane_emu.services.alb.rules import Request, evaluate
from hyperplane_emu.services.alb.targets import TargetGroupState
from hyperplane_emu.services.httpio import READ_SIZE, TooLarge, read_request

log = logging.getLogger("hyperplane_emu.alb")

MAX_BODY = 64 * 1024 * 1024  # bodies are buffered; larger ones get 413 / 502
_MAX_HEAD = 64 * 1024  # AWS: 64 KB of request headers in all
_POOL_MAX_IDLE = 256  # per (target, source)
_CLOSE_GRACE = 2.0
_NO_BODY_STATUS = frozenset({204, 304})

# Indirection so tests can stand in for a connect that never completes.
_open_connection = asyncio.open_connection


class UpstreamFailure(Exception):
    """The target could not answer; `status` (502 or 504) is what the client gets."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class UpstreamResponse:
    status: int
    reason: bytes
    headers: Headers
    body: bytes


@dataclass
class _UpConn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))


_PoolKey = tuple[str, int, str | None]


class UpstreamPool:
    """Keep-alive connections to targets, per (ip, port, source address)."""

    def __init__(self) -> None:
        self._idle: dict[_PoolKey, list[_UpConn]] = {}
        self.opened = 0
        self.reused = 0

    def _take(self, key: _PoolKey) -> _UpConn | None:
        conns = self._idle.get(key)
        while conns:
            c = conns.pop()
            if c.reader.at_eof() or c.writer.is_closing():
                c.writer.close()  # the target closed it while idle
                continue
            return c
        return None

    def _give(self, key: _PoolKey, c: _UpConn) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) >= _POOL_MAX_IDLE:
            c.writer.close()
        else:
            conns.append(c)

    def close(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.writer.close()
        self._idle.clear()

    async def _connect(self, key: _PoolKey, timeout: float) -> _UpConn:
        ip, port, source = key
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await _open_connection(
                    ip, port, local_addr=(source, 0) if source else None, limit=READ_SIZE * 4
                )
        except TimeoutError:
            raise UpstreamFailure(504, f"connect to {ip}:{port} timed out") from None
        except OSError as e:  # refused (RST), unreachable: the ALB's 502
            raise UpstreamFailure(502, f"connect to {ip}:{port}: {e}") from None
        self.opened += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _UpConn(reader, writer)

    async def exchange(
        self,
        key: _PoolKey,
        request: h11.Request,
        body: bytes,
        connect_timeout: float,
        idle_timeout: float,
    ) -> UpstreamResponse:
        c = self._take(key)
        if c is None:
            c = await self._connect(key, connect_timeout)
        else:
            self.reused += 1
        try:
            response = await self._roundtrip(c, request, body, idle_timeout)
        except BaseException:
            c.writer.close()  # mid-exchange: never reusable
            raise
        if c.h11.our_state is h11.DONE and c.h11.their_state is h11.DONE:
            c.h11.start_next_cycle()
            self._give(key, c)
        else:
            c.writer.close()
        return response

    async def _roundtrip(
        self, c: _UpConn, request: h11.Request, body: bytes, idle_timeout: float
    ) -> UpstreamResponse:
        conn = c.h11
        try:
            data = conn.send(request) or b""
            if body:
                data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            c.writer.write(data)
            head: h11.Response | None = None
            parts: list[bytes] = []
            size = 0
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        async with asyncio.timeout(idle_timeout):
                            chunk = await c.reader.read(READ_SIZE)
                    except TimeoutError:
                        raise UpstreamFailure(
                            504, f"no data from the target for {idle_timeout:g} s"
                        ) from None
                    conn.receive_data(chunk)
                elif isinstance(event, h11.InformationalResponse):
                    continue
                elif isinstance(event, h11.Response):
                    head = event
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > MAX_BODY:
                        raise UpstreamFailure(502, "response body over the emulator's limit")
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise UpstreamFailure(502, "the target closed the connection")
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as e:
            raise UpstreamFailure(502, f"invalid response from the target: {e}") from None
        except (ConnectionError, OSError) as e:
            raise UpstreamFailure(502, f"the target reset the connection: {e}") from None
        assert head is not None  # h11 yields the Response before Data/EndOfMessage
        headers = list(head.headers.raw_items())
        return UpstreamResponse(head.status_code, head.reason, headers, b"".join(parts))


@dataclass
class _Bound:
    listener: Listener
    server: asyncio.Server
    port: int


@dataclass
class AlbServer:
    """Listeners + rules + target groups + health checks + target connection pool."""

    config: AlbConfig
    pool: UpstreamPool = field(default_factory=UpstreamPool)
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
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.listen_address, li.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]

        async def client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self._client(r, w, li, port)

        server = await asyncio.start_server(client, sock=sock, limit=READ_SIZE * 4)
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
        key = (target.ip, target.port, self._source(local_ip, target))
        upstream = h11.Request(method=request.method, target=request.target, headers=headers)
        try:
            response = await self.pool.exchange(
                key, upstream, body, self.config.connect_timeout, self.config.idle_timeout
            )
        except UpstreamFailure as e:
            note = f"{verdict.reason} -> {target_key(target)}: {e.reason}"
            return self._done(errors.error_page(e.status), request, client_ip, note)
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
