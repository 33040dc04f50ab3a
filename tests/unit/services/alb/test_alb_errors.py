"""The ALB's own answers: error pages and fixed responses."""

from __future__ import annotations

import pytest

from hyperplane_emu.services.alb.errors import error_page, fixed_response, reason_phrase


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    (value,) = [v for n, v in headers if n.lower() == name]
    return value


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (502, "502 Bad Gateway"),
        (503, "503 Service Temporarily Unavailable"),
        (504, "504 Gateway Time-out"),
        (400, "400 Bad Request"),
        (405, "405 Method Not Allowed"),
        (463, "463"),
    ],
)
def test_error_page_shape(status: int, line: str) -> None:
    page = error_page(status)
    assert page.status == status
    assert (
        page.body
        == (
            f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n"
            f"<center><h1>{line}</h1></center>\r\n</body>\r\n</html>\r\n"
        ).encode()
    )
    assert header(page.headers, b"server") == b"awselb/2.0"
    assert header(page.headers, b"content-type") == b"text/html"
    assert header(page.headers, b"content-length") == str(len(page.body)).encode()
    assert header(page.headers, b"connection") == b"keep-alive"
    assert header(page.headers, b"date").endswith(b"GMT")


def test_error_page_can_close() -> None:
    assert header(error_page(400, close=True).headers, b"connection") == b"close"


def test_fixed_response() -> None:
    answer = fixed_response(418, '{"tea":true}', "application/json")
    assert (answer.status, answer.reason, answer.body) == (418, b"I'm a Teapot", b'{"tea":true}')
    assert header(answer.headers, b"content-type") == b"application/json"
    assert header(answer.headers, b"content-length") == b"12"
    assert reason_phrase(599) == ""
