"""The echo backend on loopback, as a real process (no root needed)."""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hyperplane_emu.services.echo import format_addr, looks_like_http

DEADLINE = 10.0


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int


def _read_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
    """One stdout line, polling with a deadline (never a blind sleep)."""
    assert proc.stdout is not None
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"no line from echo within {DEADLINE}s; got {buf!r}")
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                raise EOFError(f"echo exited: rc={proc.wait()}; got {buf!r}")
            buf += chunk
    return buf.decode()


def _start(*extra: str) -> Running:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperplane_emu.services.echo", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = _read_line(proc, time.monotonic() + DEADLINE)
    assert line.startswith("echo listening on "), line
    return Running(proc, int(line.rsplit(":", 1)[1]))


def _stop(run: Running) -> int:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
    try:
        return run.proc.wait(timeout=DEADLINE)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


@pytest.fixture
def tcp_echo() -> Iterator[Running]:
    run = _start("--name", "app1", "--bind", "127.0.0.1")
    yield run
    _stop(run)


def test_http_request_gets_what_the_server_saw(tcp_echo: Running) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tcp_echo.port, timeout=DEADLINE)
    conn.request("GET", "/orders?id=7", headers={"X-Trace": "abc"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    client_ip, client_port = conn.sock.getsockname()
    conn.close()
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/json"
    assert body["host"] == "app1"
    assert body["saw_source"] == f"{client_ip}:{client_port}"
    assert body["local"] == f"127.0.0.1:{tcp_echo.port}"
    assert body["method"] == "GET"
    assert body["path"] == "/orders?id=7"
    assert body["headers"]["x-trace"] == "abc"
    assert body["headers"]["host"] == f"127.0.0.1:{tcp_echo.port}"


def test_keep_alive_answers_several_requests_with_a_body(tcp_echo: Running) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tcp_echo.port, timeout=DEADLINE)
    conn.request("POST", "/a", body=b"x" * 100_000)
    first = json.loads(conn.getresponse().read())
    conn.request("HEAD", "/b")
    head = conn.getresponse()
    assert head.read() == b""
    conn.request("PUT", "/c")
    third = json.loads(conn.getresponse().read())
    conn.close()
    assert (first["method"], first["path"]) == ("POST", "/a")
    assert head.status == 200
    assert (third["method"], third["path"]) == ("PUT", "/c")
    assert first["saw_source"] == third["saw_source"]  # the same connection


def test_bad_http_gets_400(tcp_echo: Running) -> None:
    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        s.sendall(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
        reply = _recv_all(s)
    assert reply.startswith(b"HTTP/1.1 400 "), reply


def _recv_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_other_tcp_bytes_are_echoed(tcp_echo: Running) -> None:
    payload = bytes(range(256)) * 1000
    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        assert _recv_all(s) == payload


def test_udp_datagrams_are_echoed() -> None:
    run = _start("--udp", "--bind", "127.0.0.1")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(DEADLINE)
            for payload in (b"ping", b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 1400):
                s.sendto(payload, ("127.0.0.1", run.port))
                data, addr = s.recvfrom(65536)
                assert (data, addr) == (payload, ("127.0.0.1", run.port))
    finally:
        assert _stop(run) == 0


def test_sigterm_exits_cleanly_with_a_connection_open(tcp_echo: Running) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tcp_echo.port, timeout=DEADLINE)
    conn.request("GET", "/")
    conn.getresponse().read()  # the keep-alive connection stays open
    rc = _stop(tcp_echo)
    conn.close()
    assert rc == 0
    assert tcp_echo.proc.stderr is not None
    assert tcp_echo.proc.stderr.read() == b""


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hyperplane_emu.services.echo",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
            ],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


@pytest.mark.parametrize(
    ("first", "http"),
    [
        (b"GET / HTTP/1.1\r\n", True),
        (b"OPTIONS * HTTP/1.1\r\n", True),
        (b"hello", False),
        (b"GET", False),
        (b"\x16\x03\x01\x02\x00", False),  # a TLS ClientHello
    ],
)
def test_looks_like_http(first: bytes, http: bool) -> None:
    assert looks_like_http(first) is http


def test_format_addr() -> None:
    assert format_addr(("10.0.1.4", 40112)) == "10.0.1.4:40112"
    assert format_addr(("::1", 80, 0, 0)) == "[::1]:80"


# -- proxy protocol v2 --------------------------------------------------------------


def test_proxy_protocol_v2_header_is_parsed_and_reported_over_http(tcp_echo: Running) -> None:
    from hyperplane_emu.fabric import ppv2

    header = ppv2.build("10.0.2.7", 40112, "10.0.1.50", 80, vpce_id="vpce-0123456789abcdef0")
    request = b"GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        # The header in its own segment, as a fabric inserting it may send it.
        s.sendall(header[:10])
        s.sendall(header[10:] + request)
        reply = _recv_all(s)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), reply
    seen = json.loads(body)
    assert seen["path"] == "/pp"
    assert seen["proxy_protocol"] == {
        "command": "PROXY",
        "source": "10.0.2.7:40112",
        "destination": "10.0.1.50:80",
        "vpce_id": "vpce-0123456789abcdef0",
        "length": len(header),
        "tlvs": [{"type": 0xEA, "value": (b"\x01vpce-0123456789abcdef0").hex()}],
    }


def test_proxy_protocol_v2_on_a_raw_stream_gets_a_report_line(tcp_echo: Running) -> None:
    from hyperplane_emu.fabric import ppv2

    header = ppv2.build("10.0.2.7", 1234, "10.0.1.50", 9000)
    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        s.sendall(header + b"\x00\x01payload")
        s.shutdown(socket.SHUT_WR)
        reply = _recv_all(s)
    line, _, rest = reply.partition(b"\n")
    assert line.startswith(b"PROXY-V2 ")
    assert json.loads(line[len(b"PROXY-V2 ") :])["source"] == "10.0.2.7:1234"
    assert rest == b"\x00\x01payload"


def test_health_check_local_header_then_close_is_fine(tcp_echo: Running) -> None:
    from hyperplane_emu.fabric import ppv2

    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        s.sendall(ppv2.build_local())
        s.shutdown(socket.SHUT_WR)
        assert _recv_all(s) == b""
    # And the server still answers afterwards.
    conn = http.client.HTTPConnection("127.0.0.1", tcp_echo.port, timeout=DEADLINE)
    conn.request("GET", "/after")
    assert json.loads(conn.getresponse().read())["path"] == "/after"
    conn.close()


def test_broken_header_is_reported_and_echoed_as_data(tcp_echo: Running) -> None:
    from hyperplane_emu.fabric import ppv2

    raw = ppv2.SIGNATURE + bytes([0x11, 0x11, 0, 0]) + b"tail"
    with socket.create_connection(("127.0.0.1", tcp_echo.port), timeout=DEADLINE) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        reply = _recv_all(s)
    line, _, rest = reply.partition(b"\n")
    assert b"version 1" in line and line.startswith(b"PROXY-V2 ")
    assert rest == raw
