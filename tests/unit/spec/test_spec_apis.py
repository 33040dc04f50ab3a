"""The top-level `apis` section: what valid files load as, defaults, shorthands, warnings.

The error cases live in tests/data/bad/api-*.yaml (one file per rule, exact
paths); here are the valid forms and the warnings.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperplane_emu import spec
from hyperplane_emu.spec.model import Integration, PolicyStatement, Route, Stage, VpcLink

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"

SUBSTRATE = """\
name: papi
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      link: {}
    hosts:
      echo1: {subnet: a, serve: echo:8080}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a, b]
        listeners: [{port: 80, target_group: orders}]
        target_groups: {orders: {port: 8080, targets: [echo1]}}
    endpoints:
      execute-api: {service: execute-api, subnets: [a, b]}
"""


def load(apis: str) -> spec.Topology:
    return spec.loads(SUBSTRATE + "apis:\n" + apis)


def warnings_of(apis: str) -> list[str]:
    result = spec.validate_text(SUBSTRATE + "apis:\n" + apis)
    assert result.ok, result.issues
    return [f"{w.path}: {w.message}" for w in result.warnings]


def test_good_file_loads_as_written() -> None:
    topology = spec.load(GOOD / "private-api.yaml")
    assert topology.warnings == ()
    orders = topology.apis["orders"]
    assert (orders.type, orders.endpoint, orders.account) == ("rest", "private", "customer")
    assert orders.policy == (PolicyStatement("Allow", source_vpce=("customer/execute-api",)),)
    assert orders.vpc_links == {"orders-link": VpcLink("orders-link", target="customer/orders-nlb")}
    assert orders.stages == {"prod": Stage("prod", {"vpcLinkId": "orders-link"})}
    assert [(r.method, r.path) for r in orders.routes] == [
        ("GET", "/orders"),
        ("GET", "/orders/{id}"),
    ]
    by_id = orders.routes[1].integration
    assert by_id == Integration(
        "HTTP_PROXY",
        "VPC_LINK",
        "${stageVariables.vpcLinkId}",
        "http://orders-nlb:80/orders/{id}",
        timeout_ms=2000,
    )
    assert orders.routes[0].integration.timeout_ms == 29000  # AWS's REST default
    status = topology.apis["status"]
    assert (status.endpoint, status.policy, status.vpc_links) == ("regional", None, {})
    assert status.routes == (
        Route("ANY", "/{proxy+}", Integration("MOCK", mock_status=200, mock_body='{"ok":true}')),
    )


def test_design_shorthands_vpc_link_and_short_policy() -> None:
    api = load(
        "  orders:\n"
        "    type: rest\n"
        "    endpoint: private\n"
        "    policy: {allow: {source_vpce: [customer/execute-api]}, "
        "deny: {source_vpc: vpc-0123456789abcdef0, resources: ['* /admin/*']}}\n"
        "    vpc_links: {orders-link: {target: customer/orders-nlb}}\n"
        "    stages: [prod]\n"
        '    routes: {"GET /orders": {integration: {vpc_link: orders-link, '
        'uri: "http://orders-nlb:80/orders"}}}\n'
    ).apis["orders"]
    assert api.policy == (
        PolicyStatement("Allow", source_vpce=("customer/execute-api",)),
        PolicyStatement("Deny", source_vpc=("vpc-0123456789abcdef0",), resources=("* /admin/*",)),
    )
    # vpc_link: X = HTTP_PROXY over VPC_LINK with connection_id X; type implied by the uri.
    assert api.routes[0].integration == Integration(
        "HTTP_PROXY", "VPC_LINK", "orders-link", "http://orders-nlb:80/orders"
    )
    assert api.stages == {"prod": Stage("prod")}


def test_policy_values_normalised() -> None:
    api = load(
        "  orders:\n"
        "    type: rest\n"
        "    policy:\n"
        "      - {effect: Allow, source_ip: [198.51.100.7, 203.0.113.0/24]}\n"
        "      - {effect: Deny, not_source_vpce: vpce-0123abcd, vpc_source_ip: 10.0.1.0/24}\n"
        "    stages: [prod]\n"
        '    routes: {"GET /": {integration: {type: MOCK}}}\n'
    ).apis["orders"]
    assert api.policy == (
        PolicyStatement("Allow", source_ip=("198.51.100.7/32", "203.0.113.0/24")),
        PolicyStatement("Deny", not_source_vpce=("vpce-0123abcd",), vpc_source_ip=("10.0.1.0/24",)),
    )


def test_http_api_defaults_and_targets() -> None:
    api = load(
        "  shop:\n"
        "    type: http\n"
        "    vpc_links: {shop-link: {vpc: customer, subnets: [a, b]}}\n"
        "    stages: {$default: null, beta: {variables: {port: 8080}}}\n"
        "    routes:\n"
        '      "GET /orders": {integration: {vpc_link: shop-link, uri: "customer/orders-nlb:80"}}\n'
        '      "$default": {integration: {uri: "https://example.com/"}}\n'
    ).apis["shop"]
    # No groups written: the VPC's default group, as AWS gives a link without groups.
    assert api.vpc_links["shop-link"] == VpcLink(
        "shop-link", vpc="customer", subnets=("a", "b"), security_groups=("default",)
    )
    assert api.stages["beta"].variables == {"port": "8080"}
    assert api.routes[0].integration.timeout_ms == 30000  # HTTP APIs: AWS's default 30 s
    assert api.routes[1] == Route(
        "ANY",
        "$default",
        Integration("HTTP_PROXY", uri="https://example.com/", timeout_ms=30000),
    )


def test_rest_timeout_may_be_raised_for_regional_and_private() -> None:
    api = load(
        "  orders:\n"
        "    type: rest\n"
        "    stages: [prod]\n"
        '    routes: {"POST /jobs": {integration: {uri: "http://h/jobs", timeout_ms: 300000}}}\n'
    ).apis["orders"]
    assert api.routes[0].integration.timeout_ms == 300000


def test_apis_may_come_before_vpcs_and_two_apis_may_share_an_nlb() -> None:
    apis = (
        "apis:\n"
        "  a: {type: rest, vpc_links: {l: {target: customer/orders-nlb}}, stages: [p],\n"
        '      routes: {"GET /": {integration: {vpc_link: l, uri: "http://h/"}}}}\n'
        "  b: {type: rest, vpc_links: {l: {target: customer/orders-nlb}}, stages: [p],\n"
        '      routes: {"GET /": {integration: {vpc_link: l, uri: "http://h/"}}}}\n'
    )
    head, vpcs = SUBSTRATE.split("vpcs:\n", 1)
    topology = spec.loads(head + apis + "vpcs:\n" + vpcs)
    assert list(topology.apis) == ["a", "b"]


def test_rest_resources_may_share_a_variable_and_http_routes_a_path() -> None:
    routes = (
        '      "GET /orders/{id}": {integration: {uri: "http://h/orders/{id}"}}\n'
        '      "DELETE /orders/{id}": {integration: {uri: "http://h/orders/{id}"}}\n'
        '      "GET /orders/{id}/items/{item}": {integration: {uri: "http://h/{id}/{item}"}}\n'
        '      "ANY /orders/{id}": {integration: {uri: "http://h/{id}"}}\n'
    )
    for kind in ("rest", "http"):
        api = load(f"  x:\n    type: {kind}\n    stages: [p]\n    routes:\n{routes}").apis["x"]
        assert len(api.routes) == 4


@pytest.mark.parametrize(
    ("apis", "expected"),
    [
        (
            "  orders: {type: rest, endpoint: private, stages: [p],\n"
            "    policy: {allow: {source_vpce: customer/execute-api}}}\n",
            ["apis.orders.routes: no routes: every call gets 403 Missing Authentication Token"],
        ),
        (
            "  orders: {type: rest, endpoint: private, stages: [p],\n"
            "    policy: [{effect: Deny, source_ip: 0.0.0.0/0}],\n"
            '    routes: {"GET /": {integration: {type: MOCK}}}}\n',
            [
                "apis.orders.policy: no statement allows: every call gets 403",
                "apis.orders.policy: source_ip (aws:SourceIp) never matches on a private API: "
                "the endpoint rewrites the source; use vpc_source_ip (aws:VpcSourceIp)",
            ],
        ),
        (
            "  orders: {type: rest, stages: [p], policy: {allow: {source_vpce: "
            "customer/execute-api}},\n"
            '    routes: {"GET /": {integration: {type: MOCK}}}}\n',
            [
                "apis.orders.policy: source_vpce never matches on a regional API: execute-api "
                "endpoints reach private APIs only"
            ],
        ),
        (
            "  shop: {type: http, stages: [$default], vpc_links: {l: {vpc: customer, "
            "subnets: [a]}}}\n",
            [
                "apis.shop.routes: no routes: every call gets 404 Not Found",
                "apis.shop.vpc_links.l: VPC link 'l' is used by no route",
            ],
        ),
    ],
)
def test_warnings(apis: str, expected: list[str]) -> None:
    assert warnings_of(apis) == expected


def test_private_api_without_a_policy_is_refused_with_aws_create_deployment_message() -> None:
    """Issue 16 item 5: AWS refuses CreateDeployment, so validate refuses the file."""
    result = spec.validate_text(
        SUBSTRATE + "apis:\n  orders: {type: rest, endpoint: private, stages: [p]}\n"
    )
    assert not result.ok
    (issue,) = result.issues
    assert issue.path == "apis.orders.policy" and issue.line is not None
    assert issue.message.startswith(
        "Private REST API doesn't have a resource policy attached to it"
    )


def test_private_api_without_execute_api_endpoint_warns() -> None:
    text = SUBSTRATE.replace(
        "    endpoints:\n      execute-api: {service: execute-api, subnets: [a, b]}\n", ""
    ) + (
        "apis:\n  orders: {type: rest, endpoint: private, stages: [p],\n"
        "    policy: {allow: {source_vpc: customer}},\n"
        '    routes: {"GET /": {integration: {type: MOCK}}}}\n'
    )
    result = spec.validate_text(text)
    assert result.ok
    assert [w.path for w in result.warnings] == ["apis.orders.endpoint"]
    assert "no VPC of this file has one" in result.warnings[0].message


def test_stage_variable_links_used_by_a_stage_count_as_used() -> None:
    apis = (
        "  orders:\n"
        "    type: rest\n"
        "    vpc_links: {blue: {target: customer/orders-nlb}}\n"
        "    stages: {prod: {variables: {link: blue}}}\n"
        '    routes: {"GET /": {integration: {connection_type: VPC_LINK, '
        'connection_id: "${stageVariables.link}", uri: "http://h/"}}}\n'
    )
    assert warnings_of(apis) == []


def test_empty_apis_section_is_valid() -> None:
    assert spec.loads(SUBSTRATE + "apis:\n").apis == {}
    assert spec.loads(SUBSTRATE).apis == {}


# -- fuzz: values planted anywhere in the good file's apis ---------------------------------

EXAMPLES = int(os.environ.get("HE_FUZZ_EXAMPLES", "300"))
GOOD_DOC = yaml.safe_load((GOOD / "private-api.yaml").read_text())
WORDS = st.sampled_from(
    [
        "rest",
        "http",
        "private",
        "regional",
        "edge",
        "Allow",
        "Deny",
        "customer/execute-api",
        "customer/orders-nlb",
        "customer",
        "orders-link",
        "${stageVariables.vpcLinkId}",
        "${stageVariables.x}",
        "HTTP_PROXY",
        "MOCK",
        "VPC_LINK",
        "INTERNET",
        "GET /orders/{id}",
        "$default",
        "ANY /{proxy+}",
        "http://h/{id}",
        "customer/orders-nlb:80",
        "cloud_map/a/b",
        "10.0.0.0/16",
        "prod",
        "a",
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


API_PATHS = [p for p in _paths(GOOD_DOC) if len(p) > 1 and p[0] == "apis"]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(API_PATHS), VALUES), min_size=1, max_size=3))
def test_planted_values_give_a_topology_or_spec_error(
    plants: list[tuple[tuple[object, ...], object]],
) -> None:
    doc = copy.deepcopy(GOOD_DOC)
    for path, value in plants:
        parent: Any = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        topology = spec.loads(yaml.safe_dump(doc))
    except spec.SpecError as e:
        assert e.issues
        assert len({(i.path, i.message) for i in e.issues}) == len(e.issues)
    else:
        assert set(topology.apis) <= {"orders", "status"} | {
            k for k in doc.get("apis") or {} if isinstance(k, str)
        }
