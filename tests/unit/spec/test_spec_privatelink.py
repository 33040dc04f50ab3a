"""NLB, endpoint service and interface endpoint sections: defaults, order, warnings.

The error cases live in tests/data/bad/nlb-*.yaml and vpce-*.yaml (one file per
rule, exact paths); here are the valid files and what they load as.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck as HealthCheck_
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperplane_emu import spec
from hyperplane_emu.spec.model import HealthCheck, Listener, Target

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"

ONE_VPC = """\
name: shop
region: us-east-1
accounts: {other: "999988887777"}
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
      c: {cidr: 10.0.3.0/24, az: us-east-1c}
    security_groups:
      vpce: {}
    hosts:
      app1: {subnet: a, serve: echo:8080}
      app2: {subnet: b, serve: echo:8080}
      app3: {subnet: c}
"""


def load(extra: str) -> spec.Topology:
    return spec.loads(ONE_VPC + extra)


def test_nlb_defaults_are_aws_defaults() -> None:
    topology = load(
        "    load_balancers:\n"
        "      nlb:\n"
        "        type: network\n"
        "        subnets: [a, b]\n"
        "        listeners: [{port: 80, target_group: web}, {port: 53, protocol: udp, "
        "target_group: dns}]\n"
        "        target_groups:\n"
        "          web: {port: 8080, targets: [app1, {host: app2, port: 9000}]}\n"
        "          dns: {protocol: udp, port: 53, targets: [app1]}\n"
    )
    assert topology.warnings == ()
    lb = topology.vpcs["customer"].load_balancers["nlb"]
    assert (lb.type, lb.scheme, lb.subnets, lb.cross_zone) == (
        "network",
        "internal",
        ("a", "b"),
        False,
    )
    assert lb.listeners == (
        Listener("tcp", 80, "web", 350),
        Listener("udp", 53, "dns", 120),  # AWS's fixed UDP idle timeout
    )
    web = lb.target_groups["web"]
    assert (web.protocol, web.port, web.target_type) == ("tcp", 8080, "instance")
    assert web.targets == (Target(host="app1"), Target(host="app2", port=9000))
    assert web.health_check == HealthCheck()
    assert (web.preserve_client_ip, web.proxy_protocol_v2) == (None, False)


def test_health_check_timeout_defaults_follow_protocol_and_interval() -> None:
    def check(text: str) -> HealthCheck:
        topology = load(
            "    load_balancers:\n"
            "      nlb:\n"
            "        type: network\n"
            "        subnets: [a]\n"
            "        listeners: [{port: 80, target_group: web}]\n"
            f"        target_groups: {{web: {{port: 80, health_check: {text}}}}}\n"
        )
        return topology.vpcs["customer"].load_balancers["nlb"].target_groups["web"].health_check

    assert check("{protocol: http}").timeout == 6
    assert check("{protocol: http}").path == "/"
    assert check("{interval: 5}").timeout == 5  # 10 s would exceed the interval
    assert check("{interval: 1}").timeout == 1  # the emulator allows 1 s intervals
    assert check("{port: traffic-port}").port is None
    assert check("{port: 8081, timeout: 30}") == HealthCheck(port=8081, timeout=30)
    assert check("{protocol: http, matcher: 200}").matcher == "200"
    assert check("{protocol: http, matcher: '200,202-204'}").matcher == "200,202-204"


def test_ip_targets_take_addresses_and_host_names() -> None:
    topology = load(
        "    load_balancers:\n"
        "      nlb:\n"
        "        type: network\n"
        "        subnets: [a, b]\n"
        "        listeners: [{port: 80, target_group: web}]\n"
        "        target_groups:\n"
        "          web:\n"
        "            port: 80\n"
        "            target_type: ip\n"
        "            targets: [10.0.1.20, {ip: 10.0.2.20, port: 81}, app1, {host: app2}]\n"
    )
    targets = topology.vpcs["customer"].load_balancers["nlb"].target_groups["web"].targets
    assert targets == (
        Target(ip="10.0.1.20"),
        Target(ip="10.0.2.20", port=81),
        Target(host="app1"),  # that host's private address, resolved by the plan
        Target(host="app2"),
    )


def test_warnings_for_traffic_that_can_never_arrive() -> None:
    result = spec.validate_text(
        ONE_VPC + "    load_balancers:\n"
        "      nlb:\n"
        "        type: network\n"
        "        subnets: [a]\n"
        "        listeners: [{port: 80, target_group: web}]\n"
        "        target_groups:\n"
        "          web: {port: 80, targets: [app1, app2]}\n"
        "          spare: {port: 80, target_type: ip, targets: [10.0.200.7]}\n"
    )
    assert result.ok, result.issues
    messages = [(w.path, w.message) for w in result.warnings]
    prefix = "vpcs.customer.load_balancers."
    assert [path for path, _ in messages] == [
        prefix + "nlb.target_groups.web.targets[1]",
        prefix + "nlb.target_groups.spare.targets[0]",
        prefix + "nlb.target_groups.spare",
    ]
    assert "us-east-1b" in messages[0][1] and "no traffic" in messages[0][1]
    assert "no subnet" in messages[1][1]
    assert "used by no listener" in messages[2][1]
    assert result.topology is not None
    assert list(result.topology.vpcs["customer"].load_balancers) == ["nlb"]


def test_endpoint_defaults() -> None:
    topology = load(
        "    endpoints:\n"
        "      api: {service: execute-api, subnets: [a, b, c]}\n"
        "      api-quiet: {service: execute-api, subnets: [a], security_groups: [], "
        "private_dns: false}\n"
    )
    endpoints = topology.vpcs["customer"].endpoints
    assert endpoints["api"].private_dns is True  # AWS's default for AWS services
    assert endpoints["api"].security_groups == ("default",)
    assert endpoints["api"].subnets == ("a", "b", "c")
    assert endpoints["api-quiet"].private_dns is False
    assert endpoints["api-quiet"].security_groups == ("default",)


def test_privatelink_good_file() -> None:
    topology = spec.load(GOOD / "privatelink.yaml")
    assert topology.warnings == ()
    consumer, provider = topology.vpcs["consumer"], topology.vpcs["provider"]
    assert consumer.cidr == provider.cidr == "10.0.0.0/16"
    assert topology.accounts[consumer.account] != topology.accounts[provider.account]
    service = provider.endpoint_services["orders-svc"]
    assert service.load_balancer in provider.load_balancers
    assert service.private_dns_name == "orders.example.com"
    endpoint = consumer.endpoints["orders"]
    assert (endpoint.service, endpoint.private_dns) == ("provider/orders-svc", True)
    assert provider.load_balancers["orders-nlb"].target_groups["orders"].health_check.path == (
        "/health"
    )


def test_sections_may_come_in_any_order() -> None:
    # Endpoint service written before its NLB, endpoint written in a VPC before the provider.
    text = """\
name: order
region: eu-west-1
vpcs:
  consumer:
    cidr: 10.0.0.0/16
    subnets: {a: {cidr: 10.0.1.0/24, az: eu-west-1a}}
    endpoints:
      ep: {service: provider/svc, subnets: [a]}
  provider:
    cidr: 10.1.0.0/16
    endpoint_services:
      svc: {load_balancer: nlb, acceptance_required: false}
    subnets: {a: {cidr: 10.1.1.0/24, az: eu-west-1a}}
    load_balancers:
      nlb: {type: network, subnets: [a]}
"""
    topology = spec.loads(text)
    assert topology.vpcs["consumer"].endpoints["ep"].private_dns is False
    svc = topology.vpcs["provider"].endpoint_services["svc"]
    assert (svc.load_balancer, svc.acceptance_required, svc.allowed_principals) == (
        "nlb",
        False,
        (),
    )


def test_allowed_principals_forms() -> None:
    base = spec.load(GOOD / "privatelink.yaml")
    text = (GOOD / "privatelink.yaml").read_text()
    consumer_id = base.accounts["customer"]
    for written in (
        '"*"',
        f'"arn:aws:iam::{consumer_id}:root"',
        f'"999988887777", "{consumer_id}"',
    ):
        changed = text.replace(f'["{consumer_id}"]', f"[{written}]")
        assert changed != text
        assert "orders" in spec.loads(changed).vpcs["consumer"].endpoints
    # The provider's own account needs no listing (the emulator's simplification).
    same_account = text.replace("    account: provider\n", "")
    same_account = same_account.replace(
        f'allowed_principals: ["{consumer_id}"]', "allowed_principals: []"
    )
    assert (
        spec.loads(same_account).vpcs["provider"].endpoint_services["orders-svc"].allowed_principals
        == ()
    )


# -- robustness: the sections never raise, whatever is planted where -----------------------

PLINK: dict[str, Any] = yaml.safe_load((GOOD / "privatelink.yaml").read_text())
EXAMPLES = int(os.environ.get("HE_FUZZ_EXAMPLES", "300"))
WORDS = st.sampled_from(
    [
        "network",
        "application",
        "udp",
        "tcp",
        "http",
        "ip",
        "instance",
        "traffic-port",
        "orders",
        "orders-nlb",
        "provider/orders-svc",
        "consumer/orders",
        "execute-api",
        "*",
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "a",
        "b",
        "echo1",
        "10.0.1.20",
        "200-399",
        "/health",
    ]
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=12), WORDS),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(WORDS, st.text(max_size=8)), children, max_size=4),
    ),
    max_leaves=20,
)


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


# Below `vpcs.<vpc>.<key>`: where the sections and the substrate they refer to live.
SECTION_PATHS = [p for p in _paths(PLINK) if len(p) > 3]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck_.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SECTION_PATHS), VALUES), min_size=1, max_size=3))
def test_planted_values_give_a_topology_or_spec_error(
    plants: list[tuple[tuple[object, ...], object]],
) -> None:
    doc = copy.deepcopy(PLINK)
    for path, value in plants:
        parent: Any = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        spec.loads(yaml.safe_dump(doc))
    except spec.SpecError as e:
        assert e.issues
