"""Network ACLs on real TCP (VPC User Guide, "Network ACL rules",
https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html): lowest rule number
first, first match wins, stateless (the ephemeral-port trap), judged at the subnet
boundary; rule changes by `apply` act at once, on live connections too."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Topology, wait_for

pytestmark = pytest.mark.root

TOPOLOGY = """
name: NAME
region: us-east-1
accounts: {customer: "111122223333"}
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      app:
        ingress:
          - {port: 8080, source: 10.0.0.0/16}
          - {port: 9090, source: 10.0.0.0/16}
    hosts:
      client: {subnet: b}
      neighbour: {subnet: a}
      web: {subnet: a, security_groups: [app], serve: [echo:8080, echo:9090]}
    network_acls:
      web:
        subnets: [a]
        inbound:
          - {rule: 90, action: deny, protocol: tcp, port: 9090, cidr: 10.0.2.0/24}
          - {rule: 100, action: allow, protocol: tcp, port: 8080-9090, cidr: 10.0.0.0/16}
        outbound:
          - {rule: 100, action: allow, protocol: tcp, port: 8080, cidr: 10.0.0.0/16}
RETURN"""
RETURN_RULE = (
    "          - {rule: 110, action: allow, protocol: tcp, port: 1024-65535, cidr: 10.0.0.0/16}\n"
)


def text(return_rule: bool) -> str:
    return TOPOLOGY.replace("RETURN", RETURN_RULE if return_rule else "")


def apply(t: Topology, tmp_path: Path, return_rule: bool) -> list[str]:
    path = tmp_path / f"{t.plan.name}-applied.yaml"
    path.write_text(text(return_rule).replace("NAME", t.plan.name))
    return list(t.apply(path).lines())


def acl_id(t: Topology) -> str:
    return t.plan.vpcs["customer"].network_acls["web"].id


def test_ephemeral_port_trap_then_the_return_rule_applied_live(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    t = topology(text(return_rule=False))
    client, web = t.ip("client"), t.ip("web")
    t.fabric("trace_start", addresses=[client])
    # The SYN enters (inbound rule 100); the SYN-ACK leaves subnet a for the client's
    # ephemeral port, which outbound rule 100 (port 8080 only) does not allow.
    assert t.connect("client", web, 8080, timeout=1.5) == "timeout"
    hops = t.fabric("trace_stop")["hops"]
    denied = [h for h in hops if h["step"] == "nacl-outbound" and h["action"] == "REJECT"]
    assert denied and denied[0]["where"] == t.eni("web"), hops
    assert f"{acl_id(t)} rule *" in denied[0]["detail"]
    assert t.dropped("nacl-outbound") >= 1
    # REJECT on the web server's ENI: its reply, from port 8080 to the client.
    rejected = [
        r for r in t.flow_logs()
        if r[2] == t.eni("web") and r[3] == web and r[4] == client and r[5] == "8080"
        and r[12] == "REJECT"
    ]  # fmt: skip
    assert rejected, t.flow_logs()
    # A neighbour in the same subnet is not judged by the ACL at all.
    assert t.connect("neighbour", web, 9090) == "connected"

    assert any("network ACL" in line for line in apply(t, tmp_path, return_rule=True))
    assert t.connect("client", web, 8080) == "connected"
    body = t.http_get("client", web, 8080, "/x")
    assert b"200" in body.split(b"\r\n", 1)[0]


def test_a_lower_numbered_deny_wins_over_an_allow(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(text(return_rule=True))
    client, web = t.ip("client"), t.ip("web")
    assert t.connect("client", web, 8080) == "connected"
    t.fabric("trace_start", addresses=[client])
    before = t.dropped("nacl-inbound")
    # Rule 100 allows 8080-9090, but rule 90 (deny 9090 from subnet b) comes first.
    assert t.connect("client", web, 9090, timeout=1.5) == "timeout"
    hops = t.fabric("trace_stop")["hops"]
    inbound = [h for h in hops if h["step"] == "nacl-inbound"]
    assert inbound and inbound[0]["action"] == "REJECT", hops
    assert inbound[0]["detail"].startswith(f"{acl_id(t)} rule 90"), inbound
    assert t.dropped("nacl-inbound") > before
    assert t.rejected(t.eni("web"), client, 9090)


def test_removing_the_return_rule_live_cuts_an_open_connection(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    t = topology(text(return_rule=True))
    web = t.ip("web")
    sock: socket.socket = t.run_in("client", lambda: socket.create_connection((web, 8080), 3))
    try:
        sock.settimeout(3)
        sock.sendall(b"hello")  # not HTTP: the echo server echoes the stream
        assert sock.recv(65536) == b"hello"
        lines = apply(t, tmp_path, return_rule=False)
        assert any("1 flows ended" in line for line in lines), lines
        # Unlike a security group change, the ACL applies to the live connection:
        # the server's answer never comes back.
        sock.settimeout(1.5)
        sock.sendall(b"again")
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        wait_for(lambda: t.dropped("nacl-outbound") >= 1, what="the reply denied")
    finally:
        sock.close()
