"""A topology's own flow log, in a custom format, on real TCP through an NLB (VPC User
Guide, "Flow log records", https://docs.aws.amazon.com/vpc/latest/userguide/
flow-log-records.html, and "Flow log record examples": tcp-flags is the OR of FIN 1,
SYN 2, RST 4, SYN-ACK 18 over the interval; NODATA for an interface that saw nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import Topology, wait_for

pytestmark = pytest.mark.root

FORMAT = (
    "${version} ${vpc-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${pkt-srcaddr} ${pkt-dstaddr} ${tcp-flags} ${flow-direction} ${packets} ${bytes} "
    "${action} ${log-status}"
)
FIELDS = [f[2:-1] for f in FORMAT.split()]

TOPOLOGY = f"""
name: NAME
region: us-east-1
vpcs:
  shop:
    cidr: 10.0.0.0/16
    subnets:
      a: {{cidr: 10.0.1.0/24, az: us-east-1a}}
    security_groups:
      app:
        ingress: [{{port: 8080, source: 10.0.0.0/16}}]
    hosts:
      client: {{subnet: a}}
      app1: {{subnet: a, security_groups: [app], serve: echo:8080}}
      idle: {{subnet: a}}
    load_balancers:
      web:
        type: network
        subnets: [a]
        listeners: [{{port: 80, target_group: app}}]
        target_groups:
          app:
            port: 8080
            targets: [app1]
            preserve_client_ip: false
            health_check: {{protocol: tcp, interval: 2, timeout: 2,
                           healthy_threshold: 2, unhealthy_threshold: 2}}
    flow_logs:
      - name: detail
        resource: vpc
        format: "{FORMAT}"
        max_aggregation_interval: 60
"""


def records(t: Topology, eni: str) -> list[dict[str, str]]:
    path = t.state.flow_logs / f"{eni}.log"
    if not path.exists():
        return []
    return [dict(zip(FIELDS, ln.split(), strict=True)) for ln in path.read_text().splitlines()]


def test_custom_format_through_an_nlb_shows_packet_addresses_and_ored_flags(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(TOPOLOGY)
    lb = t.plan.load_balancers["shop/web"]
    node_ip = next(e.ip for e in t.plan.enis if e.id == lb.enis[0])
    client, app1 = t.ip("client"), t.ip("app1")

    def healthy() -> bool:
        mine = next(x for x in t.fabric("load_balancers")["load_balancers"] if x["key"] == lb.key)
        return all(x["health"] == "healthy" for x in mine["target_groups"]["app"])

    wait_for(healthy, timeout=20, what="target healthy")
    body = t.http_get("client", node_ip, 80, "/x")
    assert b" 200 " in body.split(b"\r\n", 1)[0]

    def closed() -> bool:
        flows = t.fabric("conntrack")["flows"]
        mine = [f for f in flows if f["flow"].startswith(f"{client}:")]
        return bool(mine) and all(f["state"] == "CLOSED" for f in mine)

    # One flush after both FINs, so that the interval holds the whole connection.
    wait_for(closed, what="the connection closed both ways")
    t.fabric("flush_flow_logs")
    on_target = records(t, t.eni("app1"))
    # Without client IP preservation every packet app1 receives comes from the NLB
    # node: AWS's pkt-srcaddr is the packet's own source, so it names the node too
    # (the client is on the node's own records). No record on app1 names the client.
    assert on_target and all(client not in (r["pkt-srcaddr"], r["pkt-dstaddr"]) for r in on_target)
    assert all(
        r["pkt-srcaddr"] == r["srcaddr"] and r["pkt-dstaddr"] == r["dstaddr"] for r in on_target
    )
    # The client's request is the one to 8080 that carries bytes beyond the TCP
    # headers: the node's TCP health checks open and close without a payload.
    to_app = [r for r in on_target if r["dstport"] == "8080" and r["srcaddr"] == node_ip]
    assert to_app, on_target
    biggest = max(to_app, key=lambda r: int(r["bytes"]))
    request = [biggest]
    reply = [r for r in on_target if r["srcport"] == "8080" and r["dstport"] == biggest["srcport"]]
    assert len(request) == 1 and len(reply) == 1, on_target
    assert request[0]["pkt-dstaddr"] == app1 and reply[0]["pkt-srcaddr"] == app1
    # SYN|FIN = 3 one way, SYN-ACK|FIN = 19 the other (AWS's own examples).
    assert request[0]["tcp-flags"] == "3", request
    assert reply[0]["tcp-flags"] == "19", reply
    assert request[0]["flow-direction"] == "ingress" and reply[0]["flow-direction"] == "egress"
    assert request[0]["version"] == "5" and request[0]["vpc-id"] == t.plan.vpcs["shop"].id
    # flow-direction is a v5 field: the record says version 5.
    # The client's own record: no translation on its side.
    mine = [r for r in records(t, t.eni("client")) if r["dstaddr"] == node_ip]
    assert mine and mine[0]["pkt-srcaddr"] == client
    # An interface of the logged VPC that saw nothing gets NODATA, "-" for the traffic.
    idle = records(t, t.eni("idle"))
    assert any(r["log-status"] == "NODATA" and r["srcaddr"] == "-" for r in idle), idle
    # `flow-logs --format` prints any other custom format from what was written.
    cli = [sys.executable, "-m", "hyperplane_emu.cli.main", "flow-logs", t.plan.name]
    fmt = "${interface-id} ${pkt-srcaddr} ${tcp-flags}"
    out = subprocess.run(
        [*cli, "--eni", "app1", "--json", "--format", fmt],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    shown = [json.loads(ln) for ln in out.splitlines() if ln]
    assert {"interface-id": t.eni("app1"), "pkt-srcaddr": node_ip, "tcp-flags": "3"} in shown
