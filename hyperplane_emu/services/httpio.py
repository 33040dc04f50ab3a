"""HTTP/1.1 request reading shared by the emulator's proxies (API Gateway, ALB): h11 over
an asyncio stream, with a bound on the body and `100 Continue` answered."""

from __future__ import annotations

import asyncio

import h11

READ_SIZE = 65536


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
