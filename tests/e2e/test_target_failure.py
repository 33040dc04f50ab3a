"""A target failing its health checks, as AWS's NLB handles it: the client's
connection is reset (or kept, with the attribute off), the AZ leaves the NLB's
DNS answers, and a packet of an unknown connection gets a RST."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import time
from collections.abc import Callable

import pytest
from conftest import Topology, wait_for
from scapy.layers.inet import IP, TCP

pytestmark = pytest.mark.root

FAIL = """
name: NAME
region: us-east-1
accounts: {customer: "111122223333"}
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      app-a:
        ingress: [{port: 8080, source: 10.0.0.0/16}]
      app-b:
        ingress: [{port: 8080, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a}
      app1: {subnet: a, security_groups: [app-a], serve: echo:8080}
      app2: {subnet: b, security_groups: [app-b], serve: echo:8080}
    load_balancers:
      nlb:
        type: network
        subnets: [a, b]
        cross_zone: false
        listeners: [{port: 80, target_group: web}]
        target_groups:
          web:
            port: 8080
            targets: [app1, app2]
            unhealthy_connection_termination: TERM
            health_check: {protocol: tcp, interval: 2, timeout: 2,
                           healthy_threshold: 2, unhealthy_threshold: 2}
"""


def up(topology: Callable[[str], Topology], termination: bool = True) -> Topology:
    t = topology(FAIL.replace("TERM", str(termination).lower()))
    wait_for(lambda: states(t) == {"app1": "healthy", "app2": "healthy"}, timeout=20,
             what="both targets healthy")  # fmt: skip
    return t


def states(t: Topology) -> dict[str, str]:
    lbs = t.fabric("load_balancers")["load_balancers"]
    return {x["id"]: x["health"] for x in lbs[0]["target_groups"]["web"]}


def node(t: Topology, az: str) -> str:
    return next(e.ip for e in t.plan.enis if e.kind == "nlb" and e.az == az)


def fail_app1(t: Topology) -> None:
    """Health checks to app1 stop passing: its group admits nothing new (the
    open connection is tracked and would go on)."""
    sg = t.plan.vpcs["v"].security_groups["app-a"]
    closed = tuple(r for r in sg.rules if r.direction == "egress")
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(sg, rules=closed)))
    wait_for(lambda: states(t)["app1"] == "unhealthy", timeout=20, what="app1 unhealthy")


def open_conn(t: Topology) -> socket.socket:
    """A connection through the AZ-a node (cross-zone off: to app1), one echo done."""
    s: socket.socket = t.run_in(
        "client", lambda: socket.create_connection((node(t, "us-east-1a"), 80), 3)
    )
    s.settimeout(3)
    s.sendall(b"ping\n")
    assert s.recv(16) == b"ping\n"
    return s


def test_client_connection_is_reset_when_its_target_turns_unhealthy(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    s = open_conn(t)
    fail_app1(t)
    deadline = time.monotonic() + 10
    with s, pytest.raises(ConnectionResetError):  # noqa: PT012
        while time.monotonic() < deadline:
            s.sendall(b"more\n")  # AWS resets on the next packet of the connection
            s.recv(16)
            time.sleep(0.1)
    assert int(t.fabric("status")["counters"].get("nlb.connection-reset", 0)) == 1


def test_with_termination_off_the_connection_survives(topology: Callable[[str], Topology]) -> None:
    t = up(topology, termination=False)
    s = open_conn(t)
    fail_app1(t)
    with s:
        s.sendall(b"still\n")
        assert s.recv(16) == b"still\n"


def dig(t: Topology, host: str, name: str) -> set[str]:
    ns = t.plan.hosts[host].namespace
    r = subprocess.run(["ip", "netns", "exec", ns, "dig", "+short", name],
                       capture_output=True, text=True, timeout=10)  # fmt: skip
    return {ln for ln in r.stdout.split() if ln}


def test_an_az_without_a_healthy_target_leaves_the_dns_answers(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    name = t.plan.load_balancers[next(iter(t.plan.load_balancers))].dns_name
    both = {node(t, "us-east-1a"), node(t, "us-east-1b")}
    wait_for(lambda: dig(t, "client", name) == both, timeout=10, what="both nodes in DNS")
    fail_app1(t)
    wait_for(lambda: dig(t, "client", name) == {node(t, "us-east-1b")}, timeout=10,
             what="the AZ-a node out of DNS")  # fmt: skip
    withdrawn = json.loads((t.state.path / "dns-withdrawn.json").read_text())
    assert withdrawn == [node(t, "us-east-1a")]


def test_a_stray_ack_to_the_nlb_gets_a_rst(topology: Callable[[str], Topology]) -> None:
    t = topology(FAIL.replace("TERM", "true"))
    dst, me = node(t, "us-east-1a"), t.ip("client")

    def go() -> tuple[int, int] | None:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        with s:
            s.settimeout(0.5)
            seg = bytes(
                IP(src=me, dst=dst) / TCP(sport=45678, dport=80, flags="A", seq=1, ack=4242)
            )[20:]
            deadline = time.monotonic() + 5
            s.sendto(seg, (dst, 0))
            while time.monotonic() < deadline:
                try:
                    data = s.recv(2048)
                except TimeoutError:
                    s.sendto(seg, (dst, 0))
                    continue
                pkt = IP(data)
                if pkt.src == dst and TCP in pkt and pkt[TCP].dport == 45678:
                    return int(pkt[TCP].flags), int(pkt[TCP].seq)
        return None

    got = t.run_in("client", go)
    assert got is not None, "no answer from the NLB"
    flags, seq = got
    assert flags & 0x04 and seq == 4242
