"""The built-in echo backend: tells a client what the target saw.

    python -m hyperplane_emu.services.echo --port 8080 [--udp] [--name app1] [--bind ADDR] \\
        [--tls-cert PEM --tls-key PEM]

TCP: when the first bytes of a connection look like an HTTP/1.x request line,
every request on the connection is answered `200 OK` with a JSON body

    {"host": "app1", "saw_source": "10.0.1.4:40112", "local": "10.0.1.10:8080",
     "method": "GET", "path": "/orders", "headers": {"host": "...", ...}}

so that tests and the demo can show what source address reached the target
after the fabric's rewrites (NLB, PrivateLink, VPC link NAT). Any other stream
is echoed back byte for byte until the client closes. UDP: each datagram is
sent back unchanged to its sender.

A connection that starts with a proxy protocol v2 header (an NLB target group
with `proxy_protocol_v2: true`) has it parsed and removed first; HTTP answers
then carry `"proxy_protocol": {"command": "PROXY", "source": "10.0.2.7:40112",
"destination": "10.0.1.50:80", "vpce_id": "vpce-…", "length": 28}`, and a
non-HTTP stream gets one line `PROXY-V2 <that JSON>` before its echo. A header
that starts with the signature but does not parse is reported as
`{"error": "…"}` and its bytes are echoed as data.

`--tls-cert/--tls-key`: the TCP listener speaks TLS (HTTP/1.1), presenting that
certificate, so API Gateway's backend verification (chain, name, expiry) can be
shown on real handshakes; the JSON is the same. A PPv2 header is read only on
plain listeners (an NLB sends it before the TLS handshake, not emulated here).

`--name` defaults to the hostname, but namespaces share the machine's UTS
namespace, so the runtime passes the emulated host's name. Once listening,
one line `echo listening on tcp 0.0.0.0:8080` goes to stdout (the real port
when `--port 0`), so a parent can wait for readiness without sleeping.
SIGTERM and SIGINT close the listener and open connections, then exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import socket
import ssl
import sys
from collections.abc import Sequence
from typing import Any, cast

import h11

from hyperplane_emu.fabric import ppv2
from hyperplane_emu.proctitle import set_process_name

# A request line starts with a method token and a space (RFC 9112 §3). Real
# clients send the request line in one write, so the first read decides.
_HTTP_START = re.compile(rb"^[A-Z]{3,16} \S")
_READ_SIZE = 65536
_MAX_HEADERS = 64 * 1024
_CLOSE_GRACE = 2.0  # seconds for open connections to wind down on SIGTERM


def looks_like_http(first: bytes) -> bool:
    return _HTTP_START.match(first) is not None


def format_addr(addr: Any) -> str:
    """`ip:port` for IPv4, `[ip]:port` for IPv6, as a peer name from asyncio."""
    if not isinstance(addr, tuple) or len(addr) < 2:
        return str(addr)
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def read_proxy_header(
    first: bytes, reader: asyncio.StreamReader
) -> tuple[dict[str, Any] | None, bytes]:
    """Split a PPv2 header off the start of a stream: (what it said, the bytes after it).
    Nothing is consumed when the stream does not start with the signature."""
    data = first
    while data and ppv2.starts_like(data) and ppv2.needed(data) == 0:
        more = await reader.read(_READ_SIZE)
        if not more:
            break
        data += more
    if not data.startswith(ppv2.SIGNATURE):
        return None, data
    total = ppv2.needed(data)
    if total == 0:  # the stream ended inside the fixed part
        return {"error": "truncated proxy protocol v2 header"}, data
    if len(data) < total:
        try:
            data += await reader.readexactly(total - len(data))
        except asyncio.IncompleteReadError as e:
            return {"error": "truncated proxy protocol v2 header"}, data + e.partial
    try:
        header = ppv2.parse(data[:total])
    except ppv2.Ppv2Error as e:
        return {"error": str(e)}, data
    return header.as_dict(), data[total:]


def describe_request(name: str, peer: Any, local: Any, request: h11.Request) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for key, value in request.headers:
        k, v = key.decode("latin-1"), value.decode("latin-1")
        # Repeated fields combine as RFC 9110 §5.3 allows for list-valued ones.
        headers[k] = f"{headers[k]}, {v}" if k in headers else v
    return {
        "host": name,
        "saw_source": format_addr(peer),
        "local": format_addr(local),
        "method": request.method.decode("ascii", "replace"),
        "path": request.target.decode("latin-1"),
        "headers": headers,
    }


class EchoServer:
    """One listener (TCP or UDP) and the connections it accepted."""

    def __init__(
        self,
        name: str,
        bind: str,
        port: int,
        udp: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.bind = bind
        self.port = port
        self.udp = udp
        self.tls = tls  # serve HTTPS (TCP only): what a TLS backend presents to API Gateway
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> tuple[str, int]:
        """Listen; return the bound (address, port)."""
        if self.udp:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                _UdpEcho, local_addr=(self.bind, self.port)
            )
            self._udp = transport
            sockname = transport.get_extra_info("sockname")
        else:
            self._server = await asyncio.start_server(
                self._handle, self.bind, self.port, reuse_address=True, limit=_MAX_HEADERS,
                ssl=self.tls, ssl_handshake_timeout=10.0 if self.tls else None,
            )  # fmt: skip
            sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
            # Open keep-alive connections would otherwise hold wait_closed (3.12+),
            # and handlers still pending when asyncio.run ends get cancelled, which
            # asyncio's stream callback reports as an error: close their sockets and
            # let them finish normally (they see EOF) before returning.
            for writer in list(self._writers):
                writer.close()
            if self._tasks:
                _, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        try:
            first = await reader.read(_READ_SIZE)
            if not first:
                return
            proxy, first = await read_proxy_header(first, reader)
            if proxy is not None and not first:
                first = await reader.read(_READ_SIZE)
                if not first:
                    return  # a health check: header, then close
            if looks_like_http(first):
                await self._serve_http(first, reader, writer, proxy)
            else:
                if proxy is not None:
                    line = f"PROXY-V2 {json.dumps(proxy, sort_keys=True)}\n"
                    writer.write(line.encode())
                await self._echo_stream(first, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to answer
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _echo_stream(
        self, data: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while data:
            writer.write(data)
            await writer.drain()
            data = await reader.read(_READ_SIZE)
        if writer.can_write_eof():
            writer.write_eof()

    async def _serve_http(
        self,
        data: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        proxy: dict[str, Any] | None = None,
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADERS)
        conn.receive_data(data)
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        request: h11.Request | None = None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                await self._send_error(conn, writer, e.error_status_hint, str(e))
                return
            if event is h11.NEED_DATA:
                chunk = await reader.read(_READ_SIZE)
                conn.receive_data(chunk)  # b"" tells h11 the peer closed
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                body = describe_request(self.name, peer, local, request)
                if proxy is not None:
                    body["proxy_protocol"] = proxy
                await self._respond(conn, writer, 200, body, head=request.method == b"HEAD")
                request = None
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            # h11.Data: the request body is read and dropped; only headers matter.

    async def _respond(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        body: dict[str, Any],
        head: bool = False,
    ) -> None:
        payload = (json.dumps(body, sort_keys=True) + "\n").encode()
        headers = [
            ("content-type", "application/json"),
            ("content-length", str(len(payload))),
            ("server", "hyperplane-emu-echo"),
        ]
        out = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        if not head:
            out += conn.send(h11.Data(data=payload)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        writer.write(out)
        await writer.drain()

    async def _send_error(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, why: str
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        with contextlib.suppress(h11.LocalProtocolError):
            await self._respond(conn, writer, status, {"host": self.name, "error": why})


class _UdpEcho(asyncio.DatagramProtocol):
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: the selector loop's datagram transport does
        # not derive from asyncio.DatagramTransport on every Python version.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m hyperplane_emu.services.echo",
        description="Echo backend: HTTP requests get a JSON view of what the server saw; "
        "other TCP streams and UDP datagrams are echoed back.",
    )
    p.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    p.add_argument("--udp", action="store_true", help="echo UDP datagrams instead of TCP")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--name", default=socket.gethostname(), help="host name to report")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM, chain first)")
    p.add_argument("--tls-key", help="its private key (PEM)")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port} is not a port number (0-65535)")
    if bool(args.tls_cert) != bool(args.tls_key) or (args.tls_cert and args.udp):
        p.error("--tls-cert and --tls-key go together, and with TCP only")
    return args


def server_tls(cert: str, key: str) -> ssl.SSLContext:
    """A TLS server context for the echo backend (HTTP/1.1 only, TLS 1.2+)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(args: argparse.Namespace) -> None:
    tls = server_tls(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = EchoServer(args.name, args.bind, args.port, udp=args.udp, tls=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host, port = await server.start()
    kind = "udp" if args.udp else "tls" if tls else "tcp"
    print(f"echo listening on {kind} {host}:{port}", flush=True)
    await stop.wait()
    await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_process_name(f"he-echo-{args.port}")
    try:
        asyncio.run(serve(args))
    except OSError as e:
        print(f"echo: cannot listen on {args.bind}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
