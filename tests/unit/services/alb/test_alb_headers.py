"""Forwarded headers, trace ids and hop-by-hop handling, sans-IO."""

from __future__ import annotations

import pytest

from hyperplane_emu.services.alb.headers import (
    forwarded_for,
    new_trace_part,
    response_headers,
    trace_id,
    upstream_headers,
)

Headers = list[tuple[bytes, bytes]]
NOW = 0x67891233


def fixed(n: int) -> str:
    return "ab" * n


def names(headers: Headers) -> list[bytes]:
    return [n.lower() for n, _ in headers]


def value(headers: Headers, name: bytes) -> bytes:
    (found,) = [v for n, v in headers if n.lower() == name]
    return found


def test_forwarded_for_created_or_appended() -> None:
    assert forwarded_for([], "10.0.1.5") == (b"10.0.1.5", 1)
    assert forwarded_for([(b"X-Forwarded-For", b"203.0.113.7")], "10.0.1.5") == (
        b"203.0.113.7, 10.0.1.5",
        2,
    )
    two_lines = [(b"x-forwarded-for", b"1.1.1.1"), (b"X-Forwarded-For", b" 2.2.2.2, 3.3.3.3 ")]
    assert forwarded_for(two_lines, "4.4.4.4") == (b"1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4", 4)


def test_trace_part_shape() -> None:
    assert new_trace_part(NOW, fixed) == "1-67891233-" + "ab" * 12
    assert new_trace_part(2**33 + 5, fixed).startswith("1-00000005-")


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, "Root=1-67891233-{r}"),
        (b"", "Root=1-67891233-{r}"),
        (b"Root=1-1-x", "Self=1-67891233-{r};Root=1-1-x"),
        (b"Root=1-1-x;CalledFrom=app", "Self=1-67891233-{r};Root=1-1-x;CalledFrom=app"),
        (b"Self=1-0-old;Root=1-1-x", "Self=1-67891233-{r};Root=1-1-x"),
        (b"CalledFrom=app", "Root=1-67891233-{r};CalledFrom=app"),
        (b"Self=1-0-old", "Root=1-67891233-{r}"),  # a Self without Root is dropped
    ],
)
def test_trace_id(existing: bytes | None, expected: str) -> None:
    assert trace_id(existing, NOW, fixed) == expected.format(r="ab" * 12).encode()


def test_upstream_headers_replace_ours_and_drop_hop_by_hop() -> None:
    client: Headers = [
        (b"Host", b"shop.example.com"),
        (b"Connection", b"keep-alive, X-Secret"),
        (b"X-Secret", b"hop only"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"h2c"),
        (b"TE", b"trailers"),
        (b"Expect", b"100-continue"),
        (b"X-Forwarded-Proto", b"https"),  # a client cannot claim its protocol
        (b"X-Forwarded-Port", b"1"),
        (b"X-Forwarded-For", b"203.0.113.7"),
        (b"Accept", b"*/*"),
    ]
    out, hops = upstream_headers(
        client, client_ip="10.0.1.5", listener_port=80, body_length=3, now=NOW, rand=fixed
    )
    assert out[:2] == [(b"Host", b"shop.example.com"), (b"Accept", b"*/*")]
    assert value(out, b"x-forwarded-for") == b"203.0.113.7, 10.0.1.5" and hops == 2
    assert value(out, b"x-forwarded-proto") == b"http"
    assert value(out, b"x-forwarded-port") == b"80"
    assert value(out, b"x-amzn-trace-id").startswith(b"Root=1-67891233-")
    assert value(out, b"content-length") == b"3"
    for gone in (b"connection", b"x-secret", b"keep-alive", b"transfer-encoding", b"upgrade"):
        assert gone not in names(out)
    assert b"te" not in names(out) and b"expect" not in names(out)


def test_upstream_content_length_only_when_the_request_had_a_body_frame() -> None:
    get, _ = upstream_headers(
        [(b"Host", b"h")], client_ip="1.2.3.4", listener_port=80, body_length=0
    )
    assert b"content-length" not in names(get)
    empty_post, _ = upstream_headers(
        [(b"Content-Length", b"0")], client_ip="1.2.3.4", listener_port=80, body_length=0
    )
    assert value(empty_post, b"content-length") == b"0"


def test_response_headers() -> None:
    target: Headers = [
        (b"Content-Type", b"text/plain"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close"),
        (b"Server", b"gunicorn"),
        (b"Content-Length", b"99"),
    ]
    out = response_headers(target, 5)
    assert out == [
        (b"Content-Type", b"text/plain"),
        (b"Server", b"gunicorn"),
        (b"Content-Length", b"5"),
    ]
    head = response_headers(target, None)  # HEAD: the target's length describes the GET
    assert value(head, b"content-length") == b"99"
