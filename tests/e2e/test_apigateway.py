"""The seed's figure end to end: private REST API -> VPC link -> NLB -> echo, over real TLS."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Topology, wait_for

from hyperplane_emu.runtime import processes

pytestmark = pytest.mark.root

TOPOLOGY = """
name: NAME
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      client: {}
      vpce:
        ingress: [{port: 443, source: sg/client}]
      app:
        ingress: [{port: 8080, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a, security_groups: [client], private_ip: 10.0.1.5}
      neighbour: {subnet: a, security_groups: [client], private_ip: 10.0.1.20}
      echo1: {subnet: a, security_groups: [app], serve: echo:8080}
      echo2: {subnet: b, security_groups: [app], serve: echo:8080}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a, b]
        listeners: [{port: 80, target_group: orders}]
        target_groups:
          orders:
            port: 8080
            targets: [echo1, echo2]
            health_check: {interval: 2, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2}
    endpoints:
      execute-api: {service: execute-api, subnets: [a, b], security_groups: [vpce],
                    private_dns: true}
apis:
  orders:
    type: rest
    endpoint: private
    policy: POLICY
    vpc_endpoint_ids: [customer/execute-api]
    vpc_links:
      orders-link: {target: customer/orders-nlb}
    stages:
      prod: {variables: {vpcLinkId: orders-link}}
    routes:
      "GET /orders":
        integration: {type: HTTP_PROXY, connection_type: VPC_LINK, connection_id: orders-link,
                      uri: "http://orders-nlb:80/orders", timeout_ms: 2000}
      "GET /orders/{id}":
        integration: {type: HTTP_PROXY, connection_type: VPC_LINK,
                      connection_id: "${stageVariables.vpcLinkId}",
                      uri: "http://orders-nlb:80/orders/{id}", timeout_ms: 2000}
  status:
    type: rest
    stages: [v1]
    routes:
      "ANY /{proxy+}": {integration: {type: MOCK, mock_status: 200, mock_body: '{"ok":true}'}}
"""
ALLOW_OURS = "[{effect: Allow, source_vpce: [customer/execute-api]}]"


def up(topology: Callable[[str], Topology], policy: str = ALLOW_OURS) -> Topology:
    return topology(TOPOLOGY.replace("POLICY", policy))


def curl(
    t: Topology, url: str, *extra: str, max_time: float = 8, host: str = "client"
) -> tuple[int, dict[str, str], Any]:
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts[host].namespace, "curl", "-s", "-i",
         "-m", str(max_time), *extra, url],
        capture_output=True, text=True, timeout=max_time + 5,
    )  # fmt: skip
    assert r.returncode == 0, f"curl {url}: exit {r.returncode} {r.stderr}"
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    return status, headers, parsed


def api(t: Topology, name: str) -> Any:
    return next(a for a in t.plan.apis.values() if a.name == name)


def test_private_api_by_private_dns_reaches_the_target_from_the_nlb_address(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    orders = api(t, "orders")
    status, headers, body = curl(t, f"https://{orders.hostname}/prod/orders/42")
    assert status == 200, body
    assert "x-amzn-requestid" in headers
    nlb_ips = {e.ip for e in t.plan.enis if e.kind == "nlb"}
    assert body["saw_source"].split(":")[0] in nlb_ips
    assert body["path"] == "/orders/42"
    ep = t.plan.endpoints["customer/execute-api"]
    assert body["headers"]["x-amzn-vpce-id"] == ep.id
    # API Gateway learns the caller's private address from the fabric, not from headers.
    assert body["headers"]["x-forwarded-for"] == t.ip("client")
    # Two PrivateLink connections: client -> execute-api endpoint, API Gateway -> VPC link.
    records = t.flow_logs()
    enis_with_traffic = {r[2] for r in records if r[12] == "ACCEPT"}
    link_ep = t.plan.endpoints[next(iter(orders.vpc_links.values())).endpoint]
    target = next(e for e in t.plan.enis if e.owner == body["host"])
    assert set(ep.enis) & enis_with_traffic, "customer's execute-api endpoint ENI"
    assert set(link_ep.enis) & enis_with_traffic, "the VPC link's endpoint in API Gateway's VPC"
    assert nlb_ips & {t.plan.eni(e).ip for e in enis_with_traffic}, "an NLB ENI"
    assert target.id in enis_with_traffic


def test_all_three_invoke_forms(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    orders = api(t, "orders")
    ep = t.plan.endpoints["customer/execute-api"]
    forms = [
        (f"https://{orders.hostname}/prod/orders", ()),
        (f"https://{orders.id}-{ep.id}.execute-api.us-east-1.amazonaws.com/prod/orders", ()),
        (f"https://{ep.dns_names[0]}/prod/orders", ("-H", f"x-apigw-api-id: {orders.id}")),
        (f"https://{ep.dns_names[0]}/prod/orders", ("-H", f"Host: {orders.hostname}")),
    ]
    for url, extra in forms:
        status, _, body = curl(t, url, *extra)
        assert status == 200 and body["path"] == "/orders", (url, body)
    # issue 16: the endpoint-specific name exists only for associated endpoints
    # (vpc_endpoint_ids); forcing another endpoint's name gets 403 Forbidden.
    other = f"{orders.id}-vpce-0fff000000000000f.execute-api.us-east-1.amazonaws.com"
    status, headers, body = curl(
        t, f"https://{orders.hostname}/prod/orders", "-H", f"Host: {other}"
    )
    assert (status, body) == (403, {"message": "Forbidden"})


def test_a_regional_api_called_through_the_endpoint_is_forbidden(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    status, headers, body = curl(t, f"https://{api(t, 'status').hostname}/v1/anything")
    assert (status, body) == (403, {"message": "Forbidden"})
    assert headers["x-amzn-errortype"] == "ForbiddenException"


def test_unknown_resource_is_missing_authentication_token(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    status, headers, body = curl(t, f"https://{api(t, 'orders').hostname}/prod/nothing")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    # issue 16: no such stage, the bare / included, is Forbidden (public captures).
    for path in ("/", "/beta/orders"):
        status, headers, body = curl(t, f"https://{api(t, 'orders').hostname}{path}")
        assert (status, body) == (403, {"message": "Forbidden"}), path
        assert headers["x-amzn-errortype"] == "ForbiddenException"


def test_policy_for_another_endpoint_denies_with_the_aws_body(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology, "[{effect: Allow, source_vpce: [vpce-0123456789abcdef0]}]")
    orders = api(t, "orders")
    status, _, body = curl(t, f"https://{orders.hostname}/prod/orders")
    assert status == 403
    message = body.get("Message") or body.get("message")
    # AWS masks all but the last four digits of the account in this message.
    masked = orders.arn_prefix.replace(orders.account_id, "********" + orders.account_id[-4:])
    assert message == (
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        f"{masked}/prod/GET/orders"
    )


def test_explicit_deny_wins_over_allow(topology: Callable[[str], Topology]) -> None:
    t = up(
        topology,
        "[{effect: Allow, source_vpce: [customer/execute-api]},"
        " {effect: Deny, source_vpc: [customer]}]",
    )
    status, _, body = curl(t, f"https://{api(t, 'orders').hostname}/prod/orders")
    assert status == 403
    assert (body.get("Message") or body.get("message")).endswith("with an explicit deny")


def test_vpc_source_ip_allow_list_admits_one_host_and_refuses_its_neighbour(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    """issue 16: aws:VpcSourceIp is the caller's private address through the endpoint."""
    policy = "[{effect: Allow, source_vpce: [customer/execute-api], vpc_source_ip: [10.0.1.0/28]}]"
    t = up(topology, policy)
    orders = api(t, "orders")
    url = f"https://{orders.hostname}/prod/orders"
    assert (t.ip("client"), t.ip("neighbour")) == ("10.0.1.5", "10.0.1.20")
    status, _, body = curl(t, url)
    assert status == 200 and body["path"] == "/orders", body
    status, headers, body = curl(t, url, host="neighbour")
    assert status == 403 and headers["x-amzn-errortype"] == "AccessDeniedException"
    masked = orders.arn_prefix.replace(orders.account_id, "********" + orders.account_id[-4:])
    assert body == {
        "Message": "User: anonymous is not authorized to perform: execute-api:Invoke on "
        f"resource: {masked}/prod/GET/orders"
    }
    # `apply` widens the range: the data plane rereads plan.json and admits the neighbour.
    import sys

    wider = tmp_path / "wider.yaml"
    wider.write_text(
        TOPOLOGY.replace("NAME", t.plan.name).replace("POLICY", policy.replace("/28", "/27"))
    )
    cli = [sys.executable, "-m", "hyperplane_emu.cli.main", "apply", str(wider)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0 and "API Gateway" in r.stdout, r.stderr
    wait_for(lambda: curl(t, url, host="neighbour")[0] == 200, timeout=10, what="reload")


def test_backend_sg_blocking_the_nlb_gives_504_after_the_integration_timeout(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    app = t.plan.vpcs["customer"].security_groups["app"]
    closed = tuple(r for r in app.rules if r.direction == "egress")
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(app, rules=closed)))
    status, headers, body = curl(t, f"https://{api(t, 'orders').hostname}/prod/orders")
    assert (status, body) == (504, {"message": "Endpoint request timed out"})


def test_stopped_backends_give_the_aws_shaped_500(topology: Callable[[str], Topology]) -> None:
    t = up(topology)
    for name, pid in t.state.read_pids().items():
        if name.startswith("echo-"):
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda pid=pid: not processes.alive(pid), what=f"{name} to stop")
    status, headers, body = curl(t, f"https://{api(t, 'orders').hostname}/prod/orders")
    assert (status, body) == (500, {"message": "Internal server error"})
    assert headers["x-amzn-errortype"] == "InternalServerErrorException"


def internet_curl(t: Topology, url: str) -> tuple[int, Any]:
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts["internet"].namespace, "curl", "-s", "-m", "8",
         "-w", "\\n%{http_code}", url],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body)


def test_from_the_internet_the_regional_api_answers_and_the_private_one_does_not(
    topology: Callable[[str], Topology],
) -> None:
    t = up(topology)
    assert t.plan.hosts["internet"].namespace.endswith("-internet")
    assert internet_curl(t, f"https://{api(t, 'status').hostname}/v1/hello") == (200, {"ok": True})
    assert internet_curl(t, f"https://{api(t, 'orders').hostname}/prod/orders") == (
        403,
        {"message": "Forbidden"},
    )


def test_plain_http_is_refused_on_the_regional_front_and_the_endpoint(
    topology: Callable[[str], Topology],
) -> None:
    """issue 16: execute-api is HTTPS only; port 80 is refused (RST), as public reports show
    for regional endpoints, and through the endpoint as well (the security group admits
    80 here, so the refusal is API Gateway's, not the group's)."""
    t = topology(
        TOPOLOGY.replace("POLICY", ALLOW_OURS).replace(
            "ingress: [{port: 443, source: sg/client}]",
            "ingress: [{port: 443, source: sg/client}, {port: 80, source: sg/client}]",
        )
    )
    status_api = api(t, "status")
    r = subprocess.run(
        ["ip", "netns", "exec", t.plan.hosts["internet"].namespace, "curl", "-s", "-m", "8",
         f"http://{status_api.hostname}/v1/hello"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    assert r.returncode == 7, (r.returncode, r.stdout)  # curl: failed to connect
    agw = t.plan.api_gateway
    assert agw is not None
    assert t.connect("internet", agw.public_ip, 80) == "refused"
    assert t.connect("internet", agw.public_ip, 443) == "connected"
    ep = t.plan.endpoints["customer/execute-api"]
    ep_ip = t.plan.eni(ep.enis[0]).ip
    assert t.connect("client", ep_ip, 80) == "refused"
    assert t.connect("client", ep_ip, 443) == "connected"


def test_trace_shows_both_privatelink_connections_and_the_nlb_translation_in_order(
    topology: Callable[[str], Topology],
) -> None:
    import sys

    t = up(topology)
    orders = api(t, "orders")
    r = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.cli.main", "trace", t.plan.name, "client",
         f"https://{orders.hostname}/prod/orders", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith("HTTP 200")
    hops = json.loads(r.stdout)
    schema = json.loads(
        (Path(__file__).parents[2] / "hyperplane_emu" / "schemas" / "trace.schema.json").read_text()
    )
    jsonschema.validate(hops, schema)
    steps = [(h["step"], h["detail"]) for h in hops]
    processes = [h.get("process", "") for h in hops if h["step"] == "deliver"]
    assert any("hyperplane_emu.services.apigateway" in x for x in processes), processes
    assert any("hyperplane_emu.services.echo" in x for x in processes), processes
    pl = [i for i, (step, _) in enumerate(steps) if step == "privatelink"]
    assert len(pl) == 2, steps
    execute_api, vpc_link = steps[pl[0]][1], steps[pl[1]][1]
    assert "-> execute-api" in execute_api
    assert "-> vpce-svc-" in vpc_link
    nlb_ips = {e.ip for e in t.plan.enis if e.kind == "nlb"}
    nat_after_link = [d for s, d in steps[pl[1] :] if s == "nat"]
    assert nat_after_link and any(f"-> {ip}:" in nat_after_link[0] for ip in nlb_ips)


def test_with_private_dns_off_a_regional_api_is_reached_over_the_internet(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(
        TOPOLOGY.replace("POLICY", ALLOW_OURS).replace(
            "security_groups: [vpce],\n                    private_dns: true",
            "security_groups: [vpce],\n                    private_dns: false",
        )
    )
    assert not t.plan.endpoints["customer/execute-api"].private_dns
    status, _, body = curl(t, f"https://{api(t, 'status').hostname}/v1/hello")
    assert (status, body) == (200, {"ok": True})
    igw = next(e for e in t.plan.enis if e.kind == "igw" and e.owner == "customer")
    records = t.flow_logs()
    assert any(r[2] == igw.id and r[3] == igw.ip and r[12] == "ACCEPT" for r in records)
    ep = t.plan.endpoints["customer/execute-api"]
    assert not any(r[2] in ep.enis for r in records), "the endpoint was not used"


def test_on_premises_reaches_the_private_api_by_the_endpoint_specific_name_only(
    topology: Callable[[str], Topology],
) -> None:
    text = TOPOLOGY.replace("POLICY", ALLOW_OURS).replace(
        "ingress: [{port: 443, source: sg/client}]",
        "ingress: [{port: 443, source: sg/client}, {port: 443, source: 172.16.0.0/16}]",
    )
    text += "on_premises:\n  cidr: 172.16.0.0/16\n  connected_to: [customer]\n  hosts: [laptop]\n"
    t = topology(text)
    orders = api(t, "orders")
    ep = t.plan.endpoints["customer/execute-api"]

    def from_laptop(url: str) -> tuple[int, Any]:
        r = subprocess.run(
            ["ip", "netns", "exec", t.plan.hosts["laptop"].namespace, "curl", "-s", "-m", "8",
             "-w", "\\n%{http_code}", url],
            capture_output=True, text=True, timeout=15,
        )  # fmt: skip
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), json.loads(body) if body else None

    status, body = from_laptop(
        f"https://{orders.id}-{ep.id}.execute-api.us-east-1.amazonaws.com/prod/orders"
    )
    assert status == 200 and body["path"] == "/orders"
    assert body["headers"]["x-forwarded-for"].startswith("172.16.")
    # The default name resolves publicly (no private DNS on premises): the public
    # front answers 403, as AWS documents for Direct Connect clients.
    assert from_laptop(f"https://{orders.hostname}/prod/orders") == (403, {"message": "Forbidden"})
