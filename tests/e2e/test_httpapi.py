"""The seed's HTTP figure: HTTP API -> one VPC link (Hyperplane ENIs, VPC-to-VPC NAT)
-> an ALB, an NLB and a Cloud Map service, over real TCP."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Topology, wait_for

pytestmark = pytest.mark.root

TOPOLOGY = """
name: NAME
region: eu-west-1
vpcs:
  customer:
    cidr: CIDR.0.0/16
    subnets:
      a: {cidr: CIDR.1.0/24, az: eu-west-1a}
      b: {cidr: CIDR.2.0/24, az: eu-west-1b}
    security_groups:
      link: {description: VPC link ENIs}
      alb:
        ingress: [{port: 80, source: sg/link}]
      web:
        ingress: [{port: 8080, source: sg/alb}]
      pay:
        ingress: [{port: 8080, source: sg/link}]
      stock:
        ingress: [{port: 9000, source: sg/link}]
    hosts:
      web1: {subnet: a, security_groups: [web], serve: echo:8080}
      web2: {subnet: b, security_groups: [web], serve: echo:8080}
      pay1: {subnet: a, security_groups: [pay], serve: echo:8080}
      pay2: {subnet: b, security_groups: [pay], serve: echo:8080}
      pay3: {subnet: b, security_groups: [pay], serve: echo:8080}
      stock1: {subnet: a, security_groups: [stock], serve: echo:9000}
    load_balancers:
      web-alb:
        type: application
        subnets: [a, b]
        security_groups: [alb]
        listeners:
          - port: 80
            default_action: {fixed_response: {status: 404, body: nothing here}}
            rules:
              - {priority: 10, conditions: {path: ["/web/*"]}, action: {forward: web}}
        target_groups:
          web:
            port: 8080
            targets: [web1, web2]
            health_check: {path: /, interval: 2, timeout: 2, healthy_threshold: 2,
                           unhealthy_threshold: 2}
      stock-nlb:
        type: network
        subnets: [a, b]
        listeners: [{port: 9000, target_group: stock}]
        target_groups:
          stock: {port: 9000, targets: [stock1]}
cloud_map:
  namespaces:
    shop.internal: {type: http}
  services:
    payments:
      namespace: shop.internal
      instances:
        pay1: {host: pay1, port: 8080}
        pay2: {host: pay2, port: 8080}
        pay3: {host: pay3, port: 8080, health: unhealthy}
apis:
  shop:
    type: http
    vpc_links:
      shop-link: {vpc: customer, subnets: [a, b], security_groups: [link]}
    stages: [$default]
    routes:
      "ANY /web/{proxy+}":
        integration: {vpc_link: shop-link, uri: "customer/web-alb:80", timeout_ms: 3000}
      "GET /stock":
        integration: {vpc_link: shop-link, uri: "customer/stock-nlb:9000", timeout_ms: 3000}
      "ANY /pay":
        integration: {vpc_link: shop-link, uri: "cloud_map/shop.internal/payments",
                      timeout_ms: 3000}
      "GET /v2/{proxy+}":
        integration: {vpc_link: shop-link, uri: "cloud_map/shop.internal/payments",
                      request_parameters: {"overwrite:path": "$request.path.proxy"}}
"""


def up(topology: Callable[[str], Topology], cidr: str = "10.1") -> Topology:
    return topology(TOPOLOGY.replace("CIDR", cidr))


def call(t: Topology, path: str, *extra: str) -> tuple[int, Any]:
    api = next(iter(t.plan.apis.values()))
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts["internet"].namespace, "curl", "-s", "-m", "8",
         "-w", "\\n%{http_code}", *extra, f"https://{api.hostname}{path}"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    return int(code or 0), parsed


def ips(t: Topology, kind: str, owner: str | None = None) -> set[str]:
    return {e.ip for e in t.plan.enis if e.kind == kind and (owner is None or e.owner == owner)}


def source(body: Any) -> str:
    return str(body["saw_source"]).split(":")[0]


def test_one_link_reaches_an_alb_an_nlb_and_cloud_map(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    link_ips = ips(t, "vpclink")
    status, body = call(t, "/web/x")
    assert status == 200 and body["host"] in ("web1", "web2")
    assert source(body) in ips(t, "alb")  # targets behind an ALB see the ALB
    assert body["headers"]["x-forwarded-for"].split(",")[-1].strip() in link_ips
    status, body = call(t, "/stock")
    # Instance targets keep the client address through the NLB: the link ENI's.
    assert status == 200 and body["host"] == "stock1" and source(body) in link_ips
    status, body = call(t, "/pay")
    assert status == 200 and body["host"] in ("pay1", "pay2") and source(body) in link_ips
    assert "198.51.100.10" in body["headers"].get("forwarded", "")


def test_a_spoofed_x_forwarded_for_reaches_targets_only_inside_forwarded(
    topology: Callable[[str], Topology],
) -> None:
    """Issue 16 item 3: HTTP APIs translate a client's X-Forwarded-* into Forwarded and
    append the egress (Developer Guide, "Amazon API Gateway important notes")."""
    t = up(topology)
    spoof = ("-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Forwarded-Proto: http")
    status, body = call(t, "/pay", *spoof)  # Cloud Map: the echo target sees the link ENI
    assert status == 200, body
    headers = body["headers"]
    assert "x-forwarded-for" not in headers and "x-forwarded-proto" not in headers
    host = next(iter(t.plan.apis.values())).hostname
    assert (
        headers["forwarded"] == f"for=6.6.6.6;proto=http, for=198.51.100.10;host={host};proto=https"
    )
    # Behind an ALB the target's X-Forwarded-For is the ALB's own: the link ENI, never
    # the client's claim.
    status, body = call(t, "/web/x", *spoof)
    assert status == 200, body
    xff = body["headers"]["x-forwarded-for"]
    assert "6.6.6.6" not in xff and xff.split(",")[-1].strip() in ips(t, "vpclink")
    assert body["headers"]["forwarded"].startswith("for=6.6.6.6;proto=http, ")


def test_cloud_map_spreads_over_healthy_instances_only(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    seen: dict[str, int] = {}
    for _ in range(200):
        status, body = call(t, "/pay")
        assert status == 200
        seen[body["host"]] = seen.get(body["host"], 0) + 1
    assert set(seen) == {"pay1", "pay2"}, seen


def test_alb_rules_and_no_route(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    assert call(t, "/nowhere") == (404, {"message": "Not Found"})
    seen: set[str] = set()

    def both() -> bool:
        seen.add(call(t, "/web/a")[1]["host"])  # round robin over healthy targets
        return seen == {"web1", "web2"}

    wait_for(both, timeout=20, what="both ALB targets")


def test_removing_the_sg_reference_to_the_link_blocks_new_requests(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    # Before any request: API Gateway keeps integration connections alive, and a
    # tracked flow survives a rule's removal (as on AWS); new connections do not.
    pay = t.plan.vpcs["customer"].security_groups["pay"]
    closed = tuple(r for r in pay.rules if r.direction == "egress")
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(pay, rules=closed)))
    status, body = call(t, "/pay")
    assert (status, body) == (503, {"message": "Service Unavailable"})
    assert call(t, "/stock")[0] == 200  # the link itself still works


def test_alb_without_healthy_targets_answers_503(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    web = t.plan.vpcs["customer"].security_groups["web"]
    closed = tuple(r for r in web.rules if r.direction == "egress")
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(web, rules=closed)))
    wait_for(lambda: call(t, "/web/x")[0] == 503, timeout=20, what="ALB 503")


def test_api_gateway_vpc_may_overlap_the_customer_vpc(topology: Callable[[str], Topology]) -> None:
    t = up(topology, cidr="10.255")
    assert t.plan.vpcs["customer"].cidr == t.plan.vpcs["apigateway"].cidr
    status, body = call(t, "/pay")
    assert status == 200 and source(body) in ips(t, "vpclink")


def test_overwrite_path_maps_the_backend_path(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    status, body = call(t, "/v2/orders/17")
    assert status == 200 and body["path"].rstrip("/").endswith("orders/17")
    assert not body["path"].startswith("/v2")


def test_apply_changes_cloud_map_health_live_and_refuses_structural_changes(
    topology: Callable[[str], Topology], tmp_path: Any
) -> None:
    import sys

    t = up(topology)
    assert {call(t, "/pay")[1]["host"] for _ in range(12)} == {"pay1", "pay2"}
    text = TOPOLOGY.replace("CIDR", "10.1").replace("NAME", t.plan.name)
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        text.replace(
            "pay2: {host: pay2, port: 8080}", "pay2: {host: pay2, port: 8080, health: unhealthy}"
        )
    )
    cli = [sys.executable, "-m", "hyperplane_emu.cli.main", "apply"]
    r = subprocess.run([*cli, str(edited)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Cloud Map" in r.stdout
    wait_for(lambda: all(call(t, "/pay")[1]["host"] == "pay1" for _ in range(10)), timeout=10,
             what="pay2 out of discovery")  # fmt: skip
    grown = tmp_path / "grown.yaml"
    grown.write_text(text.replace("      stock1:", "      extra: {subnet: a}\n      stock1:"))
    r = subprocess.run([*cli, str(grown)], capture_output=True, text=True)
    assert r.returncode == 1 and "need `down` then `up`" in r.stderr and "hosts" in r.stderr
