"""Keep-alive HTTP/1.1 connections to backends, shared by the ALB and API Gateway.

One pool per process, connections kept per `UpstreamKey` (address, port, source
address, TLS and server name) and reused; h11 frames each exchange. What
differs between the two services is a parameter, not a copy:

- `read_timeout`: the ALB's idle timeout between reads (None: the caller bounds the
  whole exchange, as API Gateway's integration timeout does);
- `retry_reused`: a request that fails on a *reused* connection before any byte of
  the answer arrived is sent once more on a fresh one (the backend may have closed
  it while idle, a race every HTTP client has) — API Gateway's choice;
- `idle_s`: connections idle longer are not reused (`sweep` closes them).

Failures are `UpstreamFailure(kind, reason)`; each service maps the kind to its
own answer (ALB 502/504, API Gateway 500/504). Backend TLS: a key names one of the
pool's TLS contexts (`tls_profile`) and a name its certificate must carry
(`verify_name`, judged by the caller's `peer_check`), so API Gateway can verify as
AWS does while the ALB keeps its own context.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import h11

from hyperplane_emu.services.httpio import READ_SIZE

Headers = list[tuple[bytes, bytes]]
FailureKind = Literal["connect-timeout", "connect", "read-timeout", "too-large", "broken", "tls"]
PeerCheck = Callable[[bytes, str], "str | None"]
"""(the backend's certificate, DER; the name to verify) -> why it is refused, or None."""

_TLS_HANDSHAKE_S = 10.0

# Indirection so tests can stand in for a connect that never completes.
_open_connection = asyncio.open_connection


class UpstreamFailure(Exception):
    """The backend could not answer: `kind` says how (the service picks the status)."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class _Retryable(Exception):
    """A reused connection died before any answer: try a fresh one."""


@dataclass(frozen=True)
class UpstreamKey:
    host: str  # an address, or a name to resolve
    port: int
    source: str | None = None  # bind here (an ALB node's address)
    tls: bool = False
    server_name: str = ""  # TLS SNI
    tls_profile: str = ""  # which of the pool's TLS contexts ("": the default one)
    verify_name: str = ""  # checked against the certificate by the pool's peer_check


@dataclass
class UpstreamResponse:
    status: int
    reason: bytes
    headers: Headers  # names as the backend spelled them
    body: bytes


@dataclass
class _UpConn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    last_used: float = 0.0  # 0: never used (a fresh connection is not retried)


class UpstreamPool:
    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        max_idle: int = 256,
        idle_s: float | None = None,
        tls_profiles: Mapping[str, ssl.SSLContext] | None = None,
        peer_check: PeerCheck | None = None,
        handshake_failure: Callable[[ssl.SSLError], str] | None = None,
    ) -> None:
        self._tls = tls
        self._tls_profiles = dict(tls_profiles or {})
        self._peer_check = peer_check
        self._handshake_failure = handshake_failure
        self._max_idle = max_idle  # per key
        self._idle_s = idle_s
        self._idle: dict[UpstreamKey, list[_UpConn]] = {}
        self.opened = 0
        self.reused = 0

    def _stale(self, c: _UpConn, now: float) -> bool:
        if c.reader.at_eof() or c.writer.is_closing():
            return True  # the backend closed it while idle
        return self._idle_s is not None and now - c.last_used > self._idle_s

    def _take(self, key: UpstreamKey) -> _UpConn | None:
        conns = self._idle.get(key)
        now = time.monotonic()
        while conns:
            c = conns.pop()
            if self._stale(c, now):
                c.writer.close()
                continue
            return c
        return None

    def _give(self, key: UpstreamKey, c: _UpConn) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) >= self._max_idle:
            c.writer.close()
            return
        c.last_used = time.monotonic()
        conns.append(c)

    def idle_connections(self) -> list[_UpConn]:
        return [c for conns in self._idle.values() for c in conns]

    def sweep(self) -> None:
        """Close connections idle for too long or closed by the backend."""
        now = time.monotonic()
        for key, conns in list(self._idle.items()):
            keep = []
            for c in conns:
                if self._stale(c, now):
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

    async def connect(self, key: UpstreamKey, timeout: float) -> _UpConn:
        where = f"{key.host}:{key.port}"
        tls = self._tls_profiles.get(key.tls_profile, self._tls) if key.tls else None
        connect = _open_connection(
            key.host,
            key.port,
            local_addr=(key.source, 0) if key.source else None,
            ssl=tls,
            server_hostname=key.server_name if key.tls else None,
            ssl_handshake_timeout=_TLS_HANDSHAKE_S if key.tls else None,
            limit=READ_SIZE * 4,
        )
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                reader, writer = await connect
        except TimeoutError:
            if cm.expired():
                raise UpstreamFailure("connect-timeout", f"connect to {where} timed out") from None
            raise  # a timeout around the whole exchange: the caller's
        except ssl.SSLCertVerificationError as e:
            if self._handshake_failure is None:
                raise UpstreamFailure("connect", f"connect to {where}: {e}") from None
            raise UpstreamFailure("tls", self._handshake_failure(e)) from None
        except (OSError, ssl.SSLError) as e:  # refused (RST), unreachable, TLS
            raise UpstreamFailure("connect", f"connect to {where}: {e}") from None
        if key.tls and key.verify_name and self._peer_check is not None:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            why = self._peer_check(der or b"", key.verify_name)
            if why is not None:
                writer.close()
                raise UpstreamFailure("tls", why)
        self.opened += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _UpConn(reader, writer)

    async def exchange(
        self,
        key: UpstreamKey,
        request: h11.Request,
        body: bytes,
        *,
        connect_timeout: float,
        max_body: int,
        read_timeout: float | None = None,
        retry_reused: bool = False,
    ) -> UpstreamResponse:
        c = self._take(key)
        if c is not None:
            self.reused += 1
            try:
                return await self._roundtrip(key, c, request, body, max_body, read_timeout)
            except _Retryable as e:
                if not retry_reused:
                    raise UpstreamFailure("broken", str(e)) from None
        c = await self.connect(key, connect_timeout)
        try:
            return await self._roundtrip(key, c, request, body, max_body, read_timeout)
        except _Retryable as e:
            raise UpstreamFailure("broken", str(e)) from None

    async def _roundtrip(
        self,
        key: UpstreamKey,
        c: _UpConn,
        request: h11.Request,
        body: bytes,
        max_body: int,
        read_timeout: float | None,
    ) -> UpstreamResponse:
        conn = c.h11
        fresh = c.last_used == 0.0
        got_any = False
        head: h11.Response | None = None
        parts: list[bytes] = []
        try:
            data = conn.send(request) or b""
            if body:
                data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            c.writer.write(data)
            size = 0
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        async with asyncio.timeout(read_timeout):
                            chunk = await c.reader.read(READ_SIZE)
                    except TimeoutError:
                        if read_timeout is None:
                            raise
                        raise UpstreamFailure(
                            "read-timeout", f"no data from the backend for {read_timeout:g} s"
                        ) from None
                    got_any = got_any or bool(chunk)
                    conn.receive_data(chunk)
                elif isinstance(event, h11.InformationalResponse):
                    got_any = True
                elif isinstance(event, h11.Response):
                    head = event
                elif isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > max_body:
                        raise UpstreamFailure("too-large", "response body over the limit")
                    parts.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise h11.RemoteProtocolError("the backend closed the connection")
        except (h11.RemoteProtocolError, h11.LocalProtocolError, OSError, ssl.SSLError) as e:
            c.writer.close()
            if not got_any and not fresh:
                raise _Retryable(str(e)) from None
            raise UpstreamFailure("broken", str(e)) from None
        except BaseException:
            c.writer.close()  # timeout or cancellation: mid-exchange, never reusable
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._give(key, c)
        else:
            c.writer.close()
        assert head is not None  # h11 yields the Response before Data/EndOfMessage
        return UpstreamResponse(
            head.status_code, head.reason, list(head.headers.raw_items()), b"".join(parts)
        )
