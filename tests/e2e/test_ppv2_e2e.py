"""Proxy protocol v2 end to end: a real client through a real NLB (and through
PrivateLink) to targets that parse the header, or that do not."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable

import pytest
from conftest import Topology, wait_for

from hyperplane_emu.fabric import ppv2

pytestmark = pytest.mark.root

PPV2 = """
name: NAME
region: us-east-1
accounts: {customer: "111122223333", provider: "444455556666"}
vpcs:
  consumer:
    cidr: 10.1.0.0/16
    subnets:
      a: {cidr: 10.1.1.0/24, az: us-east-1a}
    security_groups:
      vpce:
        ingress: [{port: 80, source: 10.1.0.0/16}]
    hosts:
      client: {subnet: a}
    endpoints:
      orders: {service: provider/orders-svc, subnets: [a], security_groups: [vpce]}
  provider:
    cidr: 10.0.0.0/16
    account: provider
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      app:
        ingress: [{port: 8080, source: 10.0.0.0/16}, {port: 9000, source: 10.0.0.0/16}]
    hosts:
      pclient: {subnet: a}
      echo1: {subnet: a, security_groups: [app], serve: echo:8080}
      raw: {subnet: a, security_groups: [app]}
    load_balancers:
      nlb:
        type: network
        subnets: [a]
        listeners: [{port: 80, target_group: pp}, {port: 81, target_group: bare}]
        target_groups:
          pp:
            port: 8080
            targets: [echo1]
            preserve_client_ip: false
            proxy_protocol_v2: true
            health_check: {protocol: http, path: /health, interval: 2, timeout: 2,
                           healthy_threshold: 2, unhealthy_threshold: 2}
          bare:
            port: 9000
            targets: [raw]
            preserve_client_ip: false
            proxy_protocol_v2: true
            health_check: {protocol: tcp, interval: 2, timeout: 2,
                           healthy_threshold: 2, unhealthy_threshold: 2}
    endpoint_services:
      orders-svc:
        load_balancer: nlb
        acceptance_required: false
        allowed_principals: ["111122223333"]
"""


def node_ip(t: Topology) -> str:
    return next(e.ip for e in t.plan.enis if e.kind == "nlb")


def stream_through(
    t: Topology, host: str, ip: str, port: int, body: bytes
) -> tuple[str, bytes, str]:
    """Send `body` on one connection, read everything back: (the PROXY-V2 line, the
    echoed bytes, the client's own address)."""

    def go() -> tuple[str, bytes, str]:
        with socket.create_connection((ip, port), timeout=10) as s:
            me = "{}:{}".format(*s.getsockname())
            sender = threading.Thread(target=lambda: (s.sendall(body), s.shutdown(socket.SHUT_WR)))
            sender.start()
            chunks = []
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                chunks.append(b)
            sender.join()
        data = b"".join(chunks)
        line, _, rest = data.partition(b"\n")
        return line.decode(), rest, me

    return t.run_in(host, go)  # type: ignore[no-any-return]


@pytest.fixture
def pp(topology: Callable[[str], Topology]) -> Topology:
    return topology(PPV2)


def test_echo_target_reports_the_header_and_a_megabyte_survives_both_ways(pp: Topology) -> None:
    t = pp
    body = os.urandom(1 << 20)
    line, echoed, me = stream_through(t, "pclient", node_ip(t), 80, body)
    assert line.startswith("PROXY-V2 ")
    seen = json.loads(line.split(" ", 1)[1])
    assert seen["command"] == "PROXY"
    assert seen["source"] == me and seen["destination"] == f"{node_ip(t)}:80"
    assert "vpce_id" not in seen
    assert len(echoed) == len(body) and echoed == body  # sequence shifting is exact
    # The echo target parses the LOCAL header of the HTTP health checks: healthy.
    wait_for(lambda: echo1_health(t) == "healthy", timeout=20, what="echo1 healthy")


def echo1_health(t: Topology) -> str:
    lbs = t.fabric("load_balancers")["load_balancers"]
    return str(next(x["health"] for x in lbs[0]["target_groups"]["pp"] if x["id"] == "echo1"))


def test_http_over_privatelink_carries_the_consumer_and_the_vpce_id(pp: Topology) -> None:
    t = pp
    vpce = next(e for e in t.plan.enis if e.kind == "vpce")
    ep = t.plan.endpoints["consumer/orders"]
    raw = t.http_get("client", vpce.ip, 80, "/orders")
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    proxy = body["proxy_protocol"]
    assert proxy["source"].startswith(t.ip("client") + ":")
    assert proxy["destination"] == f"{vpce.ip}:80"
    assert proxy["vpce_id"] == ep.id
    assert body["saw_source"].split(":")[0] == node_ip(t)  # the NLB, as AWS has it


def test_a_target_that_does_not_speak_ppv2_reads_the_header_as_bytes(pp: Topology) -> None:
    """A raw TCP server on the target: the first bytes are the signature; health
    checks arrive with the LOCAL command."""
    t = pp
    srv = t.run_in("raw", lambda: socket.create_server(("0.0.0.0", 9000)))
    srv.settimeout(15)
    got: dict[str, bytes] = {}

    def serve() -> None:
        while not ("client" in got and "local" in got):
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"hello" not in data and len(data) < 4096:
                    try:
                        b = conn.recv(4096)
                    except OSError:
                        break
                    if not b:
                        break
                    data += b
                kind = "client" if b"hello" in data else "local"
                got.setdefault(kind, data)
                if kind == "client":
                    conn.sendall(b"bye")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:

        def client() -> bytes:
            with socket.create_connection((node_ip(t), 81), timeout=5) as s:
                s.sendall(b"hello")
                return s.recv(16)

        assert t.run_in("pclient", client) == b"bye"
        wait_for(lambda: "local" in got, timeout=15, what="a health check on the raw target")
    finally:
        srv.close()
        th.join(5)
    first = got["client"]
    assert first.startswith(b"\r\n\r\n\x00\r\nQUIT\n")
    h = ppv2.parse(first)
    assert h.command == "PROXY" and h.dst == node_ip(t) and h.dport == 81
    assert h.src == t.ip("pclient") and first[h.length :] == b"hello"
    assert ppv2.parse(got["local"]).command == "LOCAL"


def test_trace_shows_the_header_insertion(pp: Topology) -> None:
    t = pp
    t.fabric("trace_start", addresses=[t.ip("pclient")])
    try:
        stream_through(t, "pclient", node_ip(t), 80, b"x")
    finally:
        hops = t.fabric("trace_stop")["hops"]
    details = [h["detail"] for h in hops if h["step"] == "proxy-protocol"]
    assert details == ["proxy protocol v2 header inserted (28 bytes)"]
