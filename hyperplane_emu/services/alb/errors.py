"""Responses the ALB writes itself: error pages and fixed responses.

Error pages have the shape public captures of ALBs show (the ALB guide lists
the causes, not the bytes): `Server: awselb/2.0`, `Content-Type: text/html`,
and a small HTML page whose title and heading are the status line:

    <html>
    <head><title>502 Bad Gateway</title></head>
    <body>
    <center><h1>502 Bad Gateway</h1></center>
    </body>
    </html>

(lines end with CRLF). Reason phrases are the ALB's: 503 is "Service
Temporarily Unavailable" and 504 "Gateway Time-out", not the RFC's.
When the ALB answers (502, 503, 504, 4xx) and why (ALB guide "Troubleshoot"):
- 400: a malformed request; 405: TRACE; 463: more than 30 addresses in
  X-Forwarded-For;
- 502: the target refused the connection (RST) or was unreachable, closed or
  reset it with a request outstanding, or sent a malformed response;
- 503: the target group has no registered target (in an enabled AZ);
- 504: no connection to the target within the connect timeout (10 s), or no
  response data within the idle timeout.
"""

from __future__ import annotations

import email.utils
import http
from dataclasses import dataclass

from hyperplane_emu.services.alb.headers import SERVER, Headers

REASONS = {
    400: "Bad Request",
    405: "Method Not Allowed",
    408: "Request Time-out",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    463: "",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass(frozen=True)
class Answer:
    """A response the ALB produces itself."""

    status: int
    reason: bytes
    headers: Headers
    body: bytes


def reason_phrase(status: int) -> str:
    """The ALB's phrase where it has its own, else the standard one."""
    if status in REASONS:
        return REASONS[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def date_header() -> tuple[bytes, bytes]:
    return (b"Date", email.utils.formatdate(usegmt=True).encode())


def error_page(status: int, close: bool = False) -> Answer:
    reason = reason_phrase(status)
    line = f"{status} {reason}".strip()
    body = (
        f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n"
        f"<center><h1>{line}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    headers: Headers = [
        (b"Server", SERVER),
        date_header(),
        (b"Content-Type", b"text/html"),
        (b"Content-Length", str(len(body)).encode()),
        (b"Connection", b"close" if close else b"keep-alive"),
    ]
    return Answer(status, reason.encode(), headers, body)


def fixed_response(status: int, body: str, content_type: str) -> Answer:
    data = body.encode()
    headers: Headers = [
        (b"Server", SERVER),
        date_header(),
        (b"Content-Type", content_type.encode()),
        (b"Content-Length", str(len(data)).encode()),
        (b"Connection", b"keep-alive"),
    ]
    return Answer(status, reason_phrase(status).encode(), headers, data)
