"""One endpoint service per NLB: AWS's error for a second one, REST APIs sharing a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperplane_emu import spec
from hyperplane_emu.spec.privatelink import AWS_ONE_SERVICE

BAD = Path(__file__).resolve().parents[2] / "data" / "bad"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("api-link-twice", "apis.orders.vpc_links.second.target"),
        ("api-link-fronted", "apis.orders.vpc_links.orders-link.target"),
        ("vpce-svc-lb-twice", "vpcs.provider.endpoint_services.svc2.load_balancer"),
    ],
)
def test_second_service_on_an_nlb_is_refused_with_aws_wording(name: str, path: str) -> None:
    result = spec.validate(BAD / f"{name}.yaml")
    (issue,) = result.issues
    assert issue.path == path and issue.line is not None
    assert AWS_ONE_SERVICE in issue.message


SHARED = """
name: shared
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    hosts:
      echo1: {subnet: a, serve: echo:8080}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a]
        listeners: [{port: 80, target_group: orders}]
        target_groups: {orders: {port: 8080, targets: [echo1]}}
apis:
  one:
    type: rest
    vpc_links: {link: {target: customer/orders-nlb}}
    stages: [prod]
    routes:
      "GET /a": {integration: {vpc_link: link, uri: "http://orders-nlb/a"}}
      "GET /b": {integration: {vpc_link: link, uri: "http://orders-nlb/b"}}
  two:
    type: rest
    vpc_links: {link: {target: customer/orders-nlb}}
    stages: [prod]
    routes:
      "GET /c": {integration: {vpc_link: link, uri: "http://orders-nlb/c"}}
"""


def test_rest_apis_may_share_one_vpc_link() -> None:
    t = spec.loads(SHARED)
    assert {a.vpc_links["link"].target for a in t.apis.values()} == {"customer/orders-nlb"}
