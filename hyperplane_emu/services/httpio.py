"""HTTP/1.1 pieces shared by the emulator's proxies (API Gateway, ALB): the listener, request
reading
(h11 over an asyncio stream, a bound on the body, `100 Continue` answered) and the
hop-by-hop header rules."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import h11

READ_SIZE = 65536


HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
"""Fields that belong to one connection, never forwarded by a proxy (RFC 9110 §7.6.1 and
RFC 2616 §13.5.1's list); each side of a proxy has its own framing and keep-alive."""


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The field names a `Connection` header lists (lower case): hop-by-hop as well."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens)


def hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """HOP_BY_HOP plus what this message's Connection header names."""
    return HOP_BY_HOP | connection_tokens(headers)


class TooLarge(Exception):
    """The request body went over the server's bound (the caller answers 413)."""


async def read_request(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    max_body: int,
) -> tuple[h11.Request | None, bytes]:
    """The next request and its body, or (None, b"") once the client is gone."""
    request: h11.Request | None = None
    parts: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                writer.write(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_body:
                raise TooLarge()
            parts.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return request, b"".join(parts)
        else:  # ConnectionClosed, or PAUSED after a protocol switch we never accept
            return None, b""


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def listen(
    ip: str,
    port: int,
    handle: Handler,
    tls: ssl.SSLContext | None = None,
    handshake_timeout: float = 10.0,
) -> tuple[asyncio.Server, int]:
    """A listening socket on ip:port (0: the kernel picks; the real port is returned);
    `handle(reader, writer, port)` runs per connection."""
    family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    bound = int(sock.getsockname()[1])

    async def client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await handle(r, w, bound)

    server = await asyncio.start_server(
        client,
        sock=sock,
        ssl=tls,
        ssl_handshake_timeout=handshake_timeout if tls else None,
        limit=READ_SIZE * 4,
    )
    return server, bound
