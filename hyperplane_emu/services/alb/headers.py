"""Headers between client, ALB and target (sans-IO).

ALB behaviour (ALB guide "HTTP headers and Application Load Balancers",
"Request tracing"):
- `X-Forwarded-For`: created with the client address, or the client address
  appended (`, `) to what the request carried; more than 30 addresses in it
  make the ALB answer 463;
- `X-Forwarded-Proto` (http here) and `X-Forwarded-Port` (the listener port)
  are set, replacing what the client sent;
- `X-Amzn-Trace-Id`: absent or without `Root` -> `Root=1-<epoch hex>-<24 hex>`
  (other fields kept); with `Root` -> a `Self=1-…` field is inserted first, or
  updated when there is one;
- the `Host` header goes to the target unchanged; hop-by-hop headers
  (`httpio.HOP_BY_HOP` and what Connection names) stay on their own hop, as in
  any HTTP/1.1 proxy: each side gets its own framing and keep-alive.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence

from hyperplane_emu.services.httpio import hop_by_hop

Headers = list[tuple[bytes, bytes]]

REPLACED = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-port", b"x-amzn-trace-id"}
)
MAX_FORWARDED = 30  # more addresses in X-Forwarded-For: HTTP 463
SERVER = b"awselb/2.0"


def _joined(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    values = [v.strip() for n, v in headers if n.lower() == name]
    return b", ".join(values) if values else None


def forwarded_for(headers: Sequence[tuple[bytes, bytes]], client_ip: str) -> tuple[bytes, int]:
    """The X-Forwarded-For to send, and how many addresses it holds."""
    existing = _joined(headers, b"x-forwarded-for")
    value = (existing + b", " if existing else b"") + client_ip.encode()
    return value, len([p for p in value.split(b",") if p.strip()])


def new_trace_part(now: float, rand: Callable[[int], str] = secrets.token_hex) -> str:
    """`1-<8 hex digits of epoch seconds>-<24 hex digits>`."""
    return f"1-{int(now) & 0xFFFFFFFF:08x}-{rand(12)}"


def trace_id(
    existing: bytes | None, now: float, rand: Callable[[int], str] = secrets.token_hex
) -> bytes:
    """The X-Amzn-Trace-Id the target receives (see the module docstring)."""
    fields = [
        f.strip() for f in (existing.decode("latin-1").split(";") if existing else []) if f.strip()
    ]
    names = [f.partition("=")[0] for f in fields]
    if "Root" not in names:
        others = [f for f, n in zip(fields, names, strict=True) if n != "Self"]
        return ";".join([f"Root={new_trace_part(now, rand)}", *others]).encode()
    own = f"Self={new_trace_part(now, rand)}"
    if "Self" in names:
        fields[names.index("Self")] = own
        return ";".join(fields).encode()
    return ";".join([own, *fields]).encode()


def upstream_headers(
    headers: Sequence[tuple[bytes, bytes]],
    *,
    client_ip: str,
    listener_port: int,
    body_length: int,
    now: float | None = None,
    rand: Callable[[int], str] = secrets.token_hex,
) -> tuple[Headers, int]:
    """Request headers for the target, and the X-Forwarded-For address count."""
    # Expect is answered by the ALB itself (it reads the whole body first).
    drop = hop_by_hop(headers) | REPLACED | {b"content-length", b"expect"}
    out: Headers = [(n, v) for n, v in headers if n.lower() not in drop]
    xff, hops = forwarded_for(headers, client_ip)
    trace = trace_id(
        _joined(headers, b"x-amzn-trace-id"), time.time() if now is None else now, rand
    )
    out += [
        (b"X-Forwarded-For", xff),
        (b"X-Forwarded-Proto", b"http"),
        (b"X-Forwarded-Port", str(listener_port).encode()),
        (b"X-Amzn-Trace-Id", trace),
    ]
    if body_length or any(
        n.lower() in (b"content-length", b"transfer-encoding") for n, _ in headers
    ):
        out.append((b"Content-Length", str(body_length).encode()))
    return out, hops


def response_headers(headers: Sequence[tuple[bytes, bytes]], body_length: int | None) -> Headers:
    """The target's response headers for the client, without hop-by-hop ones and
    with the length of the body relayed; `body_length` None keeps the target's
    Content-Length (answers to HEAD, 204 and 304 describe a body not sent)."""
    drop = hop_by_hop(headers)
    if body_length is not None:
        drop |= {b"content-length"}
    out: Headers = [(n, v) for n, v in headers if n.lower() not in drop]
    if body_length is not None:
        out.append((b"Content-Length", str(body_length).encode()))
    return out
