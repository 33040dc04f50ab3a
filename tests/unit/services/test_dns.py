"""The VPC resolver on loopback, as a real process on two addresses (no root needed).

127.0.0.2 stands in for 169.254.169.253: any 127/8 address is local on Linux,
so the server can bind both without touching the machine's configuration.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from hyperplane_emu.plan.dns import Zone, zone_to_json
from hyperplane_emu.services.dns import Resolver, answer

DEADLINE = 10.0
ADDRS = ("127.0.0.1", "127.0.0.2")
API = "execute-api.us-east-1.amazonaws.com"

ZONE = Zone(
    a={
        "ip-10-0-1-10.ec2.internal": ("10.0.1.10",),
        "svc-0123456789abcdef.elb.us-east-1.amazonaws.com": ("10.0.1.50", "10.0.2.50"),
    },
    wildcards={API: ("10.0.1.70", "10.0.2.70")},
    ptr={"10.0.1.10": "ip-10-0-1-10.ec2.internal"},
)


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    zone: Path
    ready: Path
    err: bytes = b""  # stderr read so far (see _stderr_has)


def _read_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
    assert proc.stdout is not None
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"no line from dns within {DEADLINE}s; got {buf!r}")
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                err = proc.stderr.read() if proc.stderr else b""
                raise EOFError(f"dns exited: rc={proc.wait()}; got {buf!r}; stderr {err!r}")
            buf += chunk
    return buf.decode()


def _start(tmp: Path, zone: Zone = ZONE, *extra: str) -> Running:
    zone_file = tmp / "zone.json"
    zone_file.write_text(zone_to_json(zone))
    ready = tmp / "ready"
    argv = [sys.executable, "-m", "hyperplane_emu.services.dns", "--zone", str(zone_file)]
    for a in ADDRS:
        argv += ["--listen", a]
    argv += ["--port", "0", "--ready-file", str(ready), "--name", "he-dns-testvpc-long", *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = _read_line(proc, time.monotonic() + DEADLINE)
    assert line.startswith("dns listening on "), line
    ports = {int(part.rsplit(":", 1)[1]) for part in line.split()[3:]}
    assert len(ports) == 1, line
    return Running(proc, ports.pop(), zone_file, ready)


def _stop(run: Running) -> int:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
    try:
        return run.proc.wait(timeout=DEADLINE)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = _start(tmp_path_factory.mktemp("dns"))
    yield run
    assert _stop(run) == 0


@pytest.fixture
def fresh_dns(tmp_path: Path) -> Iterator[Running]:
    run = _start(tmp_path)
    yield run
    _stop(run)


def _ask(
    run: Running, name: str, qtype: str = "A", addr: str = "127.0.0.1", tcp: bool = False
) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    reply = DNSRecord.parse(q.send(addr, run.port, tcp=tcp, timeout=DEADLINE))
    assert reply.header.id == q.header.id
    return reply


def _a(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("addr", ADDRS)
def test_known_name_answers_on_every_address(dns: Running, addr: str, tcp: bool) -> None:
    reply = _ask(dns, "svc-0123456789abcdef.elb.us-east-1.amazonaws.com", addr=addr, tcp=tcp)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.ra == 1
    assert _a(reply) == ["10.0.1.50", "10.0.2.50"]
    assert {rr.ttl for rr in reply.rr} == {60}


@pytest.mark.parametrize("addr", ADDRS)
def test_udp_reply_comes_from_the_queried_address(dns: Running, addr: str) -> None:
    # glibc drops a reply whose source is not the server it asked.
    q = DNSRecord.question("ip-10-0-1-10.ec2.internal")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(DEADLINE)
        s.sendto(q.pack(), (addr, dns.port))
        data, source = s.recvfrom(4096)
    assert source == (addr, dns.port)
    assert _a(DNSRecord.parse(data)) == ["10.0.1.10"]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unknown_name_is_nxdomain_and_never_forwarded(dns: Running, tcp: bool) -> None:
    for name in ("example.com", "ip-10-0-9-9.ec2.internal", API):
        reply = _ask(dns, name, tcp=tcp)
        assert reply.header.rcode == RCODE.NXDOMAIN, name
        assert reply.rr == []


def test_known_name_other_types_are_nodata(dns: Running) -> None:
    for qtype in ("AAAA", "TXT", "MX"):
        reply = _ask(dns, "ip-10-0-1-10.ec2.internal", qtype)
        assert reply.header.rcode == RCODE.NOERROR, qtype
        assert reply.rr == []
    assert _a(_ask(dns, "ip-10-0-1-10.ec2.internal", "ANY")) == ["10.0.1.10"]


def test_wildcard_answers_any_api_hostname(dns: Running) -> None:
    reply = _ask(dns, "a1b2c3d4e5." + API, addr="127.0.0.2")
    assert _a(reply) == ["10.0.1.70", "10.0.2.70"]
    assert str(reply.rr[0].rname) == "a1b2c3d4e5." + API + "."


def test_answer_keeps_the_question_spelling(dns: Running) -> None:
    # Resolvers using 0x20 case randomisation compare the answer name as sent.
    reply = _ask(dns, "IP-10-0-1-10.Ec2.Internal")
    assert _a(reply) == ["10.0.1.10"]
    assert str(reply.rr[0].rname) == "IP-10-0-1-10.Ec2.Internal."


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_ptr(dns: Running, tcp: bool) -> None:
    reply = _ask(dns, "10.1.0.10.in-addr.arpa", "PTR", tcp=tcp)
    assert [str(rr.rdata) for rr in reply.rr] == ["ip-10-0-1-10.ec2.internal."]
    assert _ask(dns, "11.1.0.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN


def test_several_queries_on_one_tcp_connection(dns: Running) -> None:
    with socket.create_connection(("127.0.0.2", dns.port), timeout=DEADLINE) as s:
        for name in ("ip-10-0-1-10.ec2.internal", "x." + API, "nope.example"):
            wire = DNSRecord.question(name).pack()
            s.sendall(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", _recv_exact(s, 2))
            reply = DNSRecord.parse(_recv_exact(s, length))
            assert str(reply.q.qname) == name + "."


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "server closed the connection"
        buf += chunk
    return buf


def test_garbage_with_a_header_gets_formerr(dns: Running) -> None:
    bogus = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05abc"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(DEADLINE)
        s.sendto(bogus, ("127.0.0.1", dns.port))
        data, _ = s.recvfrom(4096)
    ident, flags = struct.unpack("!HH", data[:4])
    assert ident == 0x1234
    assert flags & 0x8000 and flags & 0xF == RCODE.FORMERR


def test_process_name_and_ready_file(dns: Running) -> None:
    comm = Path(f"/proc/{dns.proc.pid}/comm").read_text().strip()
    assert comm == "he-dns-testvpc-"  # cut to 15 characters
    assert dns.ready.read_text() == f"{dns.port}\n"


def test_sustains_well_over_1000_queries_per_second(dns: Running) -> None:
    """Pipelined UDP (32 in flight): the rate must clear 1000 q/s with a wide margin."""
    total, window = 3000, 32
    wires = [DNSRecord.question(f"q{i}." + API).pack() for i in range(total)]
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(DEADLINE)
        start = time.monotonic()
        sent = 0
        while sent < min(window, total):
            s.sendto(wires[sent], ("127.0.0.1", dns.port))
            sent += 1
        while answered < total:
            s.recvfrom(4096)
            answered += 1
            if sent < total:
                s.sendto(wires[sent], ("127.0.0.1", dns.port))
                sent += 1
        elapsed = time.monotonic() - start
    rate = total / elapsed
    print(f"dns: {rate:.0f} queries/s over UDP")
    assert rate > 1000


def test_sighup_reloads_the_zone(fresh_dns: Running) -> None:
    assert _ask(fresh_dns, "new.example").header.rcode == RCODE.NXDOMAIN
    fresh_dns.zone.write_text(zone_to_json(Zone(a={"new.example": ("10.9.9.9",)})))
    fresh_dns.proc.send_signal(signal.SIGHUP)
    _poll(lambda: _a(_ask(fresh_dns, "new.example")) == ["10.9.9.9"])
    assert _ask(fresh_dns, "ip-10-0-1-10.ec2.internal").header.rcode == RCODE.NXDOMAIN
    # A broken file on reload keeps the zone that works.
    fresh_dns.zone.write_text("{not json")
    fresh_dns.proc.send_signal(signal.SIGHUP)
    _poll(lambda: fresh_dns.proc.poll() is not None or _stderr_has(fresh_dns, "reload failed"))
    assert _a(_ask(fresh_dns, "new.example")) == ["10.9.9.9"]
    assert _stop(fresh_dns) == 0


def _stderr_has(run: Running, text: str) -> bool:
    assert run.proc.stderr is not None
    os.set_blocking(run.proc.stderr.fileno(), False)
    run.err += run.proc.stderr.read() or b""
    return text.encode() in run.err


def _poll(cond: object, deadline: float = DEADLINE) -> None:
    assert callable(cond)
    end = time.monotonic() + deadline
    while not cond():
        assert time.monotonic() < end, "condition not met before the deadline"
        time.sleep(0.01)


def test_sigterm_exits_zero_with_open_tcp_client(fresh_dns: Running) -> None:
    assert fresh_dns.ready.exists()
    with socket.create_connection(("127.0.0.1", fresh_dns.port), timeout=DEADLINE):
        assert _stop(fresh_dns) == 0
    assert not fresh_dns.ready.exists()


def test_bad_zone_or_address_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    base = [sys.executable, "-m", "hyperplane_emu.services.dns", "--port", "0"]
    r = subprocess.run(
        [*base, "--zone", str(bad), "--listen", "127.0.0.1"], capture_output=True, timeout=DEADLINE
    )
    assert r.returncode == 2 and b"cannot read zone" in r.stderr
    good = tmp_path / "zone.json"
    good.write_text(zone_to_json(ZONE))
    # 192.0.2.1 (TEST-NET-1) is on no interface: bind must fail, loudly.
    r = subprocess.run(
        [*base, "--zone", str(good), "--listen", "192.0.2.1"], capture_output=True, timeout=DEADLINE
    )
    assert r.returncode == 2 and b"cannot listen" in r.stderr


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig not installed (scripts/setup adds it)")
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_accepts_the_answers(dns: Running, transport: str) -> None:
    """A real resolver client: dig also rejects replies from an unexpected source."""
    base = ["dig", "-p", str(dns.port), "+time=5", "+tries=1", transport]

    def dig(*args: str) -> str:
        r = subprocess.run([*base, *args], capture_output=True, timeout=DEADLINE, text=True)
        assert r.returncode == 0, r
        return r.stdout

    assert dig("@127.0.0.2", "+short", "abc." + API).split() == ["10.0.1.70", "10.0.2.70"]
    full = dig("@127.0.0.1", "nope.example")
    assert "status: NXDOMAIN" in full and " ra" in full, full
    assert dig("@127.0.0.2", "+short", "-x", "10.0.1.10").split() == ["ip-10-0-1-10.ec2.internal."]


# The answer logic in-process: cases awkward to provoke over the wire.


def _resolver(tmp_path: Path, zone: Zone) -> Resolver:
    path = tmp_path / "zone.json"
    path.write_text(zone_to_json(zone))
    return Resolver(path)


def test_big_udp_answer_is_truncated_unless_edns_allows_it(tmp_path: Path) -> None:
    many = tuple(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(60))
    res = _resolver(tmp_path, Zone(a={"big.example": many}))
    q = DNSRecord.question("big.example")
    udp = DNSRecord.parse(res.handle(q.pack(), "test", "udp") or b"")
    assert udp.header.tc == 1 and udp.rr == []
    tcp = DNSRecord.parse(res.handle(q.pack(), "test", "tcp") or b"")
    assert tcp.header.tc == 0 and len(tcp.rr) == 60
    q.add_ar(EDNS0(udp_len=4096))
    edns = DNSRecord.parse(res.handle(q.pack(), "test", "udp") or b"")
    assert edns.header.tc == 0 and len(edns.rr) == 60


def test_responses_are_never_answered(tmp_path: Path) -> None:
    res = _resolver(tmp_path, ZONE)
    reply = DNSRecord.question("ip-10-0-1-10.ec2.internal").reply()
    assert res.handle(reply.pack(), "test", "udp") is None
    assert res.handle(b"\x00\x01", "test", "udp") is None  # no header to answer


def test_non_query_opcode_is_notimp() -> None:
    q = DNSRecord.question("ip-10-0-1-10.ec2.internal")
    q.header.opcode = 4  # NOTIFY
    assert answer(ZONE, q).header.rcode == RCODE.NOTIMP
