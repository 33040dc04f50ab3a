"""The Amazon DNS server of one VPC (the "Route 53 Resolver" at base+2).

    python -m hyperplane_emu.services.dns --zone FILE --listen 10.0.0.2 \\
        --listen 169.254.169.253 [--port 53] [--name he-dns-<vpc>] [--ready-file PATH]

Serves the zone file written by `hyperplane_emu.plan.dns.zone_to_json` over UDP
and TCP. Each `--listen` address gets its own sockets rather than one wildcard
socket: a UDP reply then leaves from the address the query was sent to, which
glibc's stub resolver insists on (it drops answers from any other address).

Answers: a known name gets its A records (TTL 60) for A and ANY queries and
NOERROR with no answer for any other type (AAAA included: the emulated VPCs
are IPv4-only); a reverse name of a known address gets its PTR; anything else
is NXDOMAIN. Nothing is ever forwarded: the emulator has no internet, and a
name the plan does not know should fail fast rather than leak to the host's
resolver. Replies carry RA (as AWS's do) and not AA.

`--port 0` lets the kernel pick a port for the first address and reuses it
for all the others (tests). Once every socket is bound, one line
`dns listening on 10.0.0.2:53 169.254.169.253:53` goes to stdout and, with
`--ready-file`, that file appears (written atomically) holding the port.
SIGHUP re-reads the zone file (a bad file is logged and the old zone kept);
`--withdrawn FILE` names a JSON list of addresses the NLB health checker takes
out of answers (a load balancer node whose AZ has no healthy target: AWS
removes that subnet's address from the NLB's DNS name); the file is re-read
when it changes, and a name whose every address is withdrawn keeps them all
(AWS fails open when every AZ is unhealthy);
SIGTERM and SIGINT close everything, remove the ready file and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from dnslib import OPCODE, PTR, QTYPE, RCODE, RR, A, DNSError, DNSRecord

from hyperplane_emu.plan.dns import Zone, ZoneFormatError, zone_from_json
from hyperplane_emu.proctitle import set_process_name

log = logging.getLogger("hyperplane_emu.dns")

TTL = 60
_UDP_PLAIN_LIMIT = 512  # RFC 1035 §4.2.1, unless the query's EDNS OPT allows more
_TCP_IDLE = 10.0  # seconds a TCP client may stay silent between queries
_CLOSE_GRACE = 2.0
_PORT_ATTEMPTS = 20  # --port 0 only
_CLASS_IN, _CLASS_ANY = 1, 255  # dnslib's CLASS table has no name for ANY


def answer(zone: Zone, request: DNSRecord, withdrawn: frozenset[str] = frozenset()) -> DNSRecord:
    """The reply to one parsed query (pure: no I/O)."""
    reply = request.reply(ra=1, aa=0)
    header = request.header
    if header.opcode != OPCODE.QUERY:
        reply.header.rcode = RCODE.NOTIMP
        return reply
    if len(request.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
        return reply
    q = request.q
    if q.qclass not in (_CLASS_IN, _CLASS_ANY):
        reply.header.rcode = RCODE.REFUSED
        return reply
    qname = str(q.qname)
    target = zone.lookup_ptr(qname)
    if target is not None:
        if q.qtype in (QTYPE.PTR, QTYPE.ANY):
            reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL))
        return reply
    ips = zone.lookup(qname)
    if ips is not None and withdrawn:
        ips = tuple(ip for ip in ips if ip not in withdrawn) or ips  # all out: fail open
    if ips is None:
        reply.header.rcode = RCODE.NXDOMAIN
    elif q.qtype in (QTYPE.A, QTYPE.ANY):
        for ip in ips:
            # The question's own spelling: resolvers compare names as sent (0x20).
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
    return reply


def _formerr(data: bytes) -> bytes | None:
    """FORMERR for an unparsable query, if it has a header to echo (else drop it)."""
    if len(data) < 12:
        return None
    ident, flags = struct.unpack("!HH", data[:4])
    if flags & 0x8000:
        return None  # a response: never answer those (no loops)
    opcode_bits = flags & 0x7800
    return struct.pack("!HHHHHH", ident, 0x8000 | opcode_bits | 0x0080 | RCODE.FORMERR, 0, 0, 0, 0)


def _udp_limit(request: DNSRecord) -> int:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(_UDP_PLAIN_LIMIT, int(rr.rclass))
    return _UDP_PLAIN_LIMIT


class Resolver:
    """Answers wire-format queries from the current zone; `reload` swaps the zone."""

    def __init__(self, zone_path: Path, withdrawn_path: Path | None = None) -> None:
        self.zone_path = zone_path
        self.zone = self._read()
        self.queries = 0
        self.withdrawn_path = withdrawn_path
        self.withdrawn: frozenset[str] = frozenset()
        self._withdrawn_stamp: tuple[int, int] | None = None

    def refresh_withdrawn(self) -> None:
        """Re-read the withdrawn addresses if their file changed (one stat per query)."""
        if self.withdrawn_path is None:
            return
        try:
            st = self.withdrawn_path.stat()
        except OSError:
            self.withdrawn, self._withdrawn_stamp = frozenset(), None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._withdrawn_stamp:
            return
        try:
            ips = json.loads(self.withdrawn_path.read_text())
            self.withdrawn = frozenset(str(ip) for ip in ips)
        except (OSError, ValueError, TypeError) as e:
            log.error("cannot read %s, keeping the last list: %s", self.withdrawn_path, e)
            return
        self._withdrawn_stamp = stamp

    def _read(self) -> Zone:
        return zone_from_json(self.zone_path.read_text())

    def reload(self) -> bool:
        try:
            zone = self._read()
        except (OSError, ZoneFormatError) as e:
            log.error("zone reload failed, keeping the old zone: %s", e)
            return False
        self.zone = zone
        log.info(
            "zone reloaded: %d names, %d wildcards, %d PTR",
            len(zone.a),
            len(zone.wildcards),
            len(zone.ptr),
        )
        return True

    def handle(self, data: bytes, peer: str, transport: str) -> bytes | None:
        """Wire reply to wire query, or None to stay silent."""
        self.queries += 1
        try:
            request = DNSRecord.parse(data)
        except (DNSError, ValueError, IndexError, struct.error):
            return _formerr(data)
        if request.header.qr:
            return None
        self.refresh_withdrawn()
        try:
            reply = answer(self.zone, request, self.withdrawn)
            wire = reply.pack()
        except Exception:
            # One odd query must not take the VPC's resolver down.
            log.exception("cannot answer %s", request.q)
            reply = request.reply(ra=1, aa=0)
            reply.header.rcode = RCODE.SERVFAIL
            wire = reply.pack()
        if transport == "udp" and len(wire) > _udp_limit(request):
            # RFC 1035 §4.2.1 / RFC 7766: set TC so the client retries over TCP.
            truncated = request.reply(ra=1, aa=0)
            truncated.header.tc = 1
            truncated.header.rcode = reply.header.rcode
            wire = truncated.pack()
        if log.isEnabledFor(logging.DEBUG):
            q = request.q
            log.debug(
                "%s %s %s %s -> %s %d",
                transport,
                peer,
                QTYPE.get(q.qtype),
                q.qname,
                RCODE.get(reply.header.rcode),
                len(reply.rr),
            )
        return wire


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's UDP transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.resolver.handle(data, f"{addr[0]}:{addr[1]}", "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that left: nothing to do.
        log.debug("udp error: %s", exc)


class DnsServer:
    """UDP and TCP listeners on every address, one set of sockets per address."""

    def __init__(self, resolver: Resolver, addresses: Sequence[str], port: int) -> None:
        self.resolver = resolver
        self.addresses = list(addresses)
        self.port = port
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Bind everything; return the port (the kernel's choice when asked for 0)."""
        if self.port != 0:
            await self._bind_all(self.port)
            return self.port
        # The port the kernel picks for the first UDP socket may be taken for
        # TCP or on another address (some client's ephemeral port): try again.
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self.port = await self._bind_all(0)
                return self.port
            except OSError as e:
                if e.errno != errno.EADDRINUSE or attempt == _PORT_ATTEMPTS - 1:
                    raise
                await self._unbind_all()
        raise AssertionError("unreachable")

    async def _bind_all(self, port: int) -> int:
        loop = asyncio.get_running_loop()
        for addr in self.addresses:
            udp = _bound(socket.SOCK_DGRAM, addr, port)
            port = udp.getsockname()[1]
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self.resolver), sock=udp
            )
            self._udp.append(transport)
            tcp = _bound(socket.SOCK_STREAM, addr, port)
            self._tcp.append(await asyncio.start_server(self._tcp_client, sock=tcp))
        return port

    async def _unbind_all(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
            await s.wait_closed()
        self._udp.clear()
        self._tcp.clear()

    async def close(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
        # Idle clients would hold wait_closed: close their sockets and let
        # their handlers see EOF and finish before returning.
        for w in list(self._writers):
            w.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for s in self._tcp:
            await s.wait_closed()

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        peer_s = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        try:
            while True:
                # RFC 7766 §6.2.1: each message is prefixed by its 2-byte length.
                prefix = await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE)
                (length,) = struct.unpack("!H", prefix)
                data = await asyncio.wait_for(reader.readexactly(length), _TCP_IDLE)
                reply = self.resolver.handle(data, peer_s, "tcp")
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # client finished, went away or idled out
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


def _bound(kind: socket.SocketKind, addr: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _write_ready(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)  # atomic: a watcher never sees a half-written file


async def serve(args: argparse.Namespace) -> int:
    try:
        resolver = Resolver(Path(args.zone), Path(args.withdrawn) if args.withdrawn else None)
    except (OSError, ZoneFormatError) as e:
        print(f"dns: cannot read zone {args.zone}: {e}", file=sys.stderr)
        return 2
    server = DnsServer(resolver, args.listen, args.port)
    try:
        port = await server.start()
    except OSError as e:
        print(f"dns: cannot listen: {e}", file=sys.stderr)
        await server.close()
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, resolver.reload)
    # The ready file first: whoever reads the line may look for the file next.
    if args.ready_file:
        _write_ready(Path(args.ready_file), port)
    print("dns listening on " + " ".join(f"{a}:{port}" for a in args.listen), flush=True)
    await stop.wait()
    await server.close()
    if args.ready_file:
        # A stale ready file would tell the next start we are up before we are.
        Path(args.ready_file).unlink(missing_ok=True)
    log.info("dns stopped after %d queries", resolver.queries)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hyperplane_emu.services.dns", description=__doc__.split("\n")[0]
    )
    p.add_argument("--zone", required=True, help="zone file (plan.dns.zone_to_json)")
    p.add_argument("--listen", action="append", required=True, help="address to serve on (repeat)")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--name", default="he-dns", help="process name (first 15 characters)")
    p.add_argument("--ready-file", help="written once every socket is bound")
    p.add_argument("--withdrawn", help="JSON list of addresses taken out of answers")
    p.add_argument("--log-level", default="INFO", help="DEBUG logs one line per query")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s dns %(levelname)s %(message)s"
    )
    set_process_name(args.name)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
