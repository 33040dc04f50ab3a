"""Shared pieces for the ALB data-plane tests: configs (plan dataclasses), scripted targets,
a client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import h11

from hyperplane_emu.plan.model import (
    PlanAlbAction,
    PlanAlbConditions,
    PlanAlbListener,
    PlanAlbRule,
    PlanFixedResponse,
    PlanHealthCheck,
    PlanTarget,
    PlanTargetGroup,
)
from hyperplane_emu.services.alb.config import AlbConfig
from hyperplane_emu.services.alb.health import USER_AGENT as HEALTH_AGENT
from hyperplane_emu.services.alb.server import AlbServer


def forward(group: str) -> PlanAlbAction:
    return PlanAlbAction(forward=group)


def fixed(status: int, body: str = "", content_type: str = "text/plain") -> PlanAlbAction:
    return PlanAlbAction(fixed_response=PlanFixedResponse(status, body, content_type))


def rule(priority: int, action: PlanAlbAction, **conditions: Any) -> PlanAlbRule:
    return PlanAlbRule(priority, PlanAlbConditions(**conditions), action)


def check(**changes: Any) -> PlanHealthCheck:
    """ALB defaults (/, each target's traffic port, 30 s, 5 s, 5/2, "200"), then `changes`."""
    base = PlanHealthCheck("http", 0, "/", 30, 5, 5, 2, "200")
    return replace(base, **changes)


def group(name: str, ports: list[int], hc: PlanHealthCheck | None = None) -> PlanTargetGroup:
    return PlanTargetGroup(
        name, f"arn:tg/{name}", 6, 1, "ip",
        tuple(PlanTarget(f"t{p}", "127.0.0.1", p, "", None) for p in ports),
        hc or check(), False, False,
    )  # fmt: skip


def alb_config(
    groups: dict[str, list[int]],
    rules: list[PlanAlbRule] | None = None,
    default: PlanAlbAction | None = None,
    check: PlanHealthCheck | None = None,
    **top: Any,
) -> AlbConfig:
    """One listener on an ephemeral port of 127.0.0.1; `groups`: name -> target ports.
    Without `check`, no health checks: every target healthy at once."""
    listener = PlanAlbListener(
        0,
        default or fixed(404, "none"),
        tuple(sorted(rules or [], key=lambda r: r.priority)),
    )
    return AlbConfig(
        name="test-alb",
        listeners=(listener,),
        target_groups={name: group(name, ports, check) for name, ports in groups.items()},
        listen_address="127.0.0.1",
        health_checks=check is not None,
        **top,
    )


def set_default(cfg: AlbConfig, action: PlanAlbAction) -> AlbConfig:
    li = replace(cfg.listeners[0], default_action=action)
    return replace(cfg, listeners=(li, *cfg.listeners[1:]))


def set_group(cfg: AlbConfig, name: str, **changes: Any) -> AlbConfig:
    return replace(
        cfg, target_groups={**cfg.target_groups, name: replace(cfg.target_groups[name], **changes)}
    )


def set_target_az(cfg: AlbConfig, name: str, index: int, az: str) -> AlbConfig:
    targets = list(cfg.target_groups[name].targets)
    targets[index] = replace(targets[index], az=az)
    return set_group(cfg, name, targets=tuple(targets))


async def with_alb(raw: AlbConfig, body: Callable[[AlbServer, int], Awaitable[None]]) -> None:
    srv = AlbServer(raw)
    bound = await srv.start()
    try:
        await body(srv, bound[0][1])
    finally:
        await srv.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


async def until(check: Callable[[], bool], deadline: float = 10.0) -> None:
    """Poll `check` until it holds (no fixed sleeps as synchronisation)."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- targets


@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


Respond = Callable[[Seen], tuple[int, list[tuple[str, str]], bytes]]


@dataclass
class Backend:
    """An HTTP/1.1 target on 127.0.0.1 that records requests and answers as told.

    `mode`: "ok" answers (via `respond`, default 200 `hello from <port>`);
    "silent" reads the request and never answers; "reset" reads it and resets
    the connection (RST); "garbage" answers bytes that are not HTTP; "close"
    closes (FIN) without answering; "short" announces a longer body than it
    sends and keeps the connection open.
    """

    respond: Respond | None = None
    mode: str = "ok"
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    peers: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def hello(self) -> bytes:
        return f"hello from {self.port}".encode()

    async def start(self, host: str = "127.0.0.1") -> int:
        self._server = await asyncio.start_server(self._handle, host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop every connection (the instance went away)."""
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def requests(self, path_prefix: str = "/") -> list[Seen]:
        """Requests other than health checks."""
        return [
            s
            for s in self.seen
            if s.header("user-agent") != "ELB-HealthChecker/2.0"
            and s.target.startswith(path_prefix)
        ]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        self.peers.append(peer[0])
        conn = h11.Connection(h11.SERVER)
        req: h11.Request | None = None
        body = b""
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                    continue
                if isinstance(event, h11.Request):
                    req, body = event, b""
                elif isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage) and req is not None:
                    seen = Seen(
                        req.method.decode(),
                        req.target.decode(),
                        [(k.decode(), v.decode()) for k, v in req.headers.raw_items()],
                        body,
                        peer[0],
                    )
                    self.seen.append(seen)
                    if await self._misbehave(seen, writer):
                        return
                    status, headers, payload = (
                        self.respond(seen)
                        if self.respond
                        else (
                            200,
                            [("Content-Type", "text/plain")],
                            f"hello from {self.port}".encode(),
                        )
                    )
                    if not any(k.lower() == "content-length" for k, _ in headers):
                        headers = [*headers, ("Content-Length", str(len(payload)))]
                    out = conn.send(h11.Response(status_code=status, headers=headers)) or b""
                    if req.method != b"HEAD" and payload:
                        out += conn.send(h11.Data(data=payload)) or b""
                    out += conn.send(h11.EndOfMessage()) or b""
                    writer.write(out)
                    await writer.drain()
                    if conn.our_state is not h11.DONE:
                        return
                    conn.start_next_cycle()
                    req = None
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _misbehave(self, seen: Seen, writer: asyncio.StreamWriter) -> bool:
        """True when the connection is finished with (the request is not answered)."""
        if self.mode == "ok" or seen.header("user-agent") == HEALTH_AGENT:
            return False
        if self.mode == "silent":
            await asyncio.sleep(3600)
        elif self.mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif self.mode == "garbage":
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(3600)
        elif self.mode == "close":
            writer.close()
        elif self.mode == "short":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
            await writer.drain()
            await asyncio.sleep(3600)
        return True


def free_port() -> int:
    """A port nothing listens on (bound, then released: connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- client


@dataclass
class Reply:
    status: int
    reason: bytes
    headers: dict[str, str]  # lower-case names, last value wins
    body: bytes


class Client:
    """One keep-alive HTTP/1.1 connection to the ALB."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1", source: str | None = None) -> Client:
        r, w = await asyncio.open_connection(host, port, local_addr=(source, 0) if source else None)
        return cls(r, w)

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Reply:
        hdrs = [("Host", "shop.example.com"), *(headers or [])]
        if body:
            hdrs.append(("Content-Length", str(len(body))))
        out = self.conn.send(h11.Request(method=method, target=target, headers=hdrs)) or b""
        if body:
            out += self.conn.send(h11.Data(data=body)) or b""
        out += self.conn.send(h11.EndOfMessage()) or b""
        self.writer.write(out)
        status, reason, raw, parts = 0, b"", [], []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
                continue
            if isinstance(event, h11.Response):
                status, reason = event.status_code, event.reason
                raw = [(k.decode(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before the answer")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return Reply(status, reason, {k.lower(): v for k, v in raw}, b"".join(parts))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
