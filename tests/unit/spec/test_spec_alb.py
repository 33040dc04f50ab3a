"""ALBs and Cloud Map in the spec: valid forms, AWS defaults, shorthands, warnings, order.

The error cases live in tests/data/bad/alb-*.yaml and cloudmap-*.yaml (one file
per rule, exact paths); here are the valid forms and the warnings.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck as HypothesisHealthCheck
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperplane_emu import plan, spec
from hyperplane_emu.spec.model import (
    AlbAction,
    AlbConditions,
    AlbListener,
    AlbRule,
    CloudMapInstance,
    CloudMapNamespace,
    FixedResponse,
    HealthCheck,
    Target,
)

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"

VPC = """\
name: albs
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
      c: {cidr: 10.0.3.0/24, az: us-east-1c}
    security_groups:
      alb: {}
    hosts:
      app1: {subnet: a, serve: echo:8080}
      app2: {subnet: b, serve: echo:8080}
"""


def albs(text: str) -> str:
    return VPC + "    load_balancers:\n" + text


def load_alb(text: str, name: str = "web") -> spec.model.LoadBalancer:
    topology = spec.loads(albs(text))
    assert topology.warnings == ()
    return topology.vpcs["customer"].load_balancers[name]


def warnings_of(text: str) -> list[tuple[str, str]]:
    result = spec.validate_text(text)
    assert result.ok, result.issues
    return [(w.path, w.message) for w in result.warnings]


# -- ALBs --------------------------------------------------------------------------------


def test_alb_defaults_are_aws_defaults() -> None:
    lb = load_alb(
        "      web:\n"
        "        type: application\n"
        "        subnets: [a, b]\n"
        "        listeners: [{port: 80, target_group: tg}]\n"
        "        target_groups: {tg: {port: 8080, targets: [app1]}}\n"
    )
    assert lb.type == "application"
    assert lb.scheme == "internal"
    assert lb.security_groups == ("default",)  # the VPC's default group, as on AWS
    assert lb.idle_timeout == 60
    assert lb.cross_zone is True  # always on for ALBs
    assert lb.listeners == ()  # NLB listeners
    assert lb.alb_listeners == (AlbListener(80, AlbAction(forward="tg")),)
    tg = lb.target_groups["tg"]
    assert (tg.protocol, tg.port, tg.target_type) == ("http", 8080, "instance")
    assert tg.targets == (Target(host="app1"),)
    # ALB health-check defaults: HTTP on the traffic port, /, 30 s, 5 s, 5/2, "200".
    assert tg.health_check == HealthCheck("http", None, "/", 30, 5, 5, 2, "200")


def test_alb_without_listeners_or_groups_is_valid() -> None:
    lb = load_alb("      web: {type: application, subnets: [a, b, c]}\n")
    assert lb.alb_listeners == () and lb.target_groups == {}
    assert lb.subnets == ("a", "b", "c")


def test_listener_forms_and_rule_order() -> None:
    lb = load_alb(
        "      web:\n"
        "        type: application\n"
        "        scheme: internet-facing\n"
        "        subnets: [a, b]\n"
        "        security_groups: [alb, default]\n"
        "        idle_timeout: 4000\n"
        "        listeners:\n"
        "          - port: 8080\n"
        "            protocol: http\n"
        "            default_action: {fixed_response: {status: 503}}\n"
        "            rules:\n"
        "              - priority: 50000\n"
        "                conditions: {http_header: {X-Env: prod, User-Agent: ['*curl*']}}\n"
        "                action: {fixed_response: {status: 200, body: 42, "
        "content_type: application/json}}\n"
        "              - priority: 1\n"
        "                conditions: {path: /api/*, host: ['*.example.com'], "
        "http_method: [GET]}\n"
        "                target_group: api\n"
        "        target_groups:\n"
        "          api: {port: 8080, target_type: ip, targets: [10.0.1.20, app2]}\n"
    )
    assert lb.scheme == "internet-facing"
    assert lb.security_groups == ("alb", "default")
    assert lb.idle_timeout == 4000
    (listener,) = lb.alb_listeners
    assert listener.default_action == AlbAction(fixed_response=FixedResponse(503))
    assert [r.priority for r in listener.rules] == [1, 50000]  # evaluated lowest first
    assert listener.rules[0] == AlbRule(
        1,
        AlbConditions(path=("/api/*",), host=("*.example.com",), http_method=("GET",)),
        AlbAction(forward="api"),
    )
    assert listener.rules[1].conditions.http_header == {
        "X-Env": ("prod",),
        "User-Agent": ("*curl*",),
    }
    assert listener.rules[1].action.fixed_response == FixedResponse(200, "42", "application/json")


def test_health_check_timeout_defaults_within_the_interval() -> None:
    lb = load_alb(
        "      web:\n"
        "        type: application\n"
        "        subnets: [a, b]\n"
        "        listeners: [{port: 80, target_group: tg}]\n"
        "        target_groups:\n"
        "          tg:\n"
        "            port: 8080\n"
        "            targets: [app1]\n"
        "            health_check: {interval: 2, port: 9000, matcher: 200,"
        " unhealthy_threshold: 3}\n"
    )
    check = lb.target_groups["tg"].health_check
    assert (check.interval, check.timeout, check.port, check.matcher) == (2, 2, 9000, "200")
    assert check.unhealthy_threshold == 3 and check.healthy_threshold == 5


def test_alb_warnings() -> None:
    messages = warnings_of(
        albs(
            "      web:\n"
            "        type: application\n"
            "        subnets: [a, b]\n"
            "        listeners:\n"
            "          - port: 80\n"
            "            target_group: used\n"
            "            rules:\n"
            "              - {priority: 1, conditions: {path: [api/*]}, target_group: used}\n"
            "        target_groups:\n"
            "          used: {port: 8080, targets: [app1]}\n"
            "          spare: {port: 8080, target_type: ip, targets: [10.0.3.9]}\n"
        )
    )
    prefix = "vpcs.customer.load_balancers.web."
    assert [path for path, _ in messages] == [  # target groups are read first
        prefix + "target_groups.spare.targets[0]",
        prefix + "listeners[0].rules[0].conditions.path[0]",
        prefix + "target_groups.spare",
    ]
    assert "us-east-1c" in messages[0][1] and "ALB 'web'" in messages[0][1]
    assert "never matches" in messages[1][1]
    assert "used by no listener" in messages[2][1]


def test_alb_and_nlb_names_share_one_namespace_per_account() -> None:
    text = albs(
        "      web: {type: application, subnets: [a, b]}\n"
        "  other:\n"
        "    cidr: 10.9.0.0/16\n"
        "    subnets: {a: {cidr: 10.9.1.0/24, az: us-east-1a}}\n"
        "    load_balancers:\n"
        "      web: {type: network, subnets: [a]}\n"
    )
    result = spec.validate_text(text)
    assert [i.path for i in result.issues] == ["vpcs.other.load_balancers.web"]


def test_plan_gives_albs_nodes_with_their_security_groups() -> None:
    topology = spec.load(GOOD / "http-api.yaml")
    built = plan.build(topology)
    alb = built.load_balancers["customer/orders-alb"]
    assert alb.kind == "alb" and built.load_balancers["customer/stock-nlb"].kind == "nlb"
    nodes = [built.eni(e) for e in alb.enis]
    assert {n.kind for n in nodes} == {"alb"} and all(n.security_groups for n in nodes)
    assert alb.dns_name.startswith("internal-orders-alb-")


# -- Cloud Map ---------------------------------------------------------------------------


def test_cloud_map_forms_and_defaults() -> None:
    topology = spec.loads(
        VPC + "cloud_map:\n"
        "  namespaces:\n"
        "    shop.local: {type: dns_private, vpc: customer}\n"
        "    api: {type: http}\n"
        "  services:\n"
        "    orders:\n"
        "      namespace: shop.local\n"
        "      instances:\n"
        "        i-1: {host: app1, port: 8080, attributes: {stage: prod, v: 2}}\n"
        "        arn:x/y@z: {ip: 10.0.2.50, port: 80, health: unhealthy}\n"
        "    empty: {namespace: api, instances: {}}\n"
    )
    cloud_map = topology.cloud_map
    assert cloud_map.namespaces == {
        "shop.local": CloudMapNamespace("shop.local", "dns_private", "customer"),
        "api": CloudMapNamespace("api", "http", None),
    }
    orders = cloud_map.services["orders"]
    assert orders.namespace == "shop.local"
    assert orders.instances == {
        "i-1": CloudMapInstance("i-1", 8080, host="app1", attributes={"stage": "prod", "v": "2"}),
        "arn:x/y@z": CloudMapInstance("arn:x/y@z", 80, ip="10.0.2.50", health="unhealthy"),
    }
    assert cloud_map.services["empty"].instances == {}


def test_no_cloud_map_section_means_empty() -> None:
    assert spec.loads(VPC).cloud_map.namespaces == {}
    assert spec.loads(VPC + "cloud_map:\n").cloud_map.services == {}


def test_service_without_instances_warns() -> None:
    messages = warnings_of(
        VPC + "cloud_map:\n  namespaces: {n: {type: http}}\n  services: {s: {namespace: n}}\n"
    )
    assert messages == [
        (
            "cloud_map.services.s.instances",
            "service 's' has no instances: discovery returns nothing, every call fails",
        )
    ]


HTTP_API = """\
apis:
  shop:
    type: http
    vpc_links: {link: {vpc: customer, subnets: [a, b]}}
    stages: [$default]
    routes:
      "GET /pay": {integration: {vpc_link: link, uri: "URI"}}
"""
CLOUD_MAP = """\
cloud_map:
  namespaces: {ns: {type: http}}
  services:
    pay:
      namespace: ns
      instances:
        p1: {host: app1, port: 8080, attributes: {stage: prod}}
        p2: {host: app2, port: 8080, attributes: {stage: beta}, health: unhealthy}
"""


@pytest.mark.parametrize("apis_first", [False, True])
def test_routes_reach_cloud_map_whatever_the_file_order(apis_first: bool) -> None:
    api = HTTP_API.replace("URI", "cloud_map/ns/pay?stage=prod")
    text = VPC + (api + CLOUD_MAP if apis_first else CLOUD_MAP + api)
    topology = spec.loads(text)
    assert topology.warnings == ()
    assert topology.apis["shop"].routes[0].integration.uri == "cloud_map/ns/pay?stage=prod"


@pytest.mark.parametrize(
    "uri",
    ["cloud_map/ns/pay?stage=beta", "cloud_map/ns/pay?stage=test&zone=a"],
)
def test_route_whose_filter_leaves_no_healthy_instance_warns(uri: str) -> None:
    messages = warnings_of(VPC + CLOUD_MAP + HTTP_API.replace("URI", uri))
    assert [path for path, _ in messages] == ["apis.shop.routes.GET /pay.integration.uri"]
    assert "no healthy instance of ns/pay has these attributes" in messages[0][1]


def test_route_to_alb_listener_has_no_warning() -> None:
    text = albs(
        "      web:\n"
        "        type: application\n"
        "        subnets: [a, b]\n"
        "        listeners: [{port: 80, target_group: tg}, {port: 81, target_group: tg}]\n"
        "        target_groups: {tg: {port: 8080, targets: [app1]}}\n"
    ) + HTTP_API.replace("URI", "customer/web:81")
    assert spec.loads(text).warnings == ()


def test_good_file_has_every_backend_kind() -> None:
    topology = spec.load(GOOD / "http-api.yaml")
    assert topology.warnings == ()
    vpc = topology.vpcs["customer"]
    alb = vpc.load_balancers["orders-alb"]
    assert alb.type == "application" and vpc.load_balancers["stock-nlb"].type == "network"
    assert [t.host for t in alb.target_groups["orders"].targets] == ["web1", "web2"]
    assert len(topology.cloud_map.services["payments"].instances) == 2
    uris = [r.integration.uri for r in topology.apis["shop"].routes]
    assert "customer/orders-alb:80" in uris and "customer/stock-nlb:9000" in uris


# -- robustness: planted values never raise anything but SpecError ---------------------------

EXAMPLES = int(os.environ.get("HE_FUZZ_EXAMPLES", "300"))
GOOD_DOC: dict[str, Any] = yaml.safe_load((GOOD / "http-api.yaml").read_text())
WORDS = st.sampled_from(
    [
        "application",
        "network",
        "http",
        "https",
        "tcp",
        "ip",
        "instance",
        "orders",
        "admin",
        "web1",
        "a",
        "b",
        "alb",
        "/orders/*",
        "*.example.com",
        "GET",
        "X-Team",
        "dns_private",
        "http",
        "shop.internal",
        "payments",
        "customer",
        "10.1.2.77",
        "cloud_map/shop.internal/payments",
        "customer/orders-alb:80",
        "200-299",
        "healthy",
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


PLANT_PATHS = [
    p
    for p in _paths(GOOD_DOC)
    if (len(p) > 3 and p[:3] == ("vpcs", "customer", "load_balancers"))
    or (len(p) > 0 and p[0] == "cloud_map")
    or (len(p) > 3 and p[0] == "apis" and "routes" in p)
]


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HypothesisHealthCheck.too_slow]
)
@given(st.lists(st.tuples(st.sampled_from(PLANT_PATHS), VALUES), min_size=1, max_size=3))
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
        assert "customer" in topology.vpcs
