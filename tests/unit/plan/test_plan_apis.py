"""What the plan gives the data planes (API Gateway, ALB, resolvers): typed, resolved."""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu import plan, spec
from hyperplane_emu.plan.model import PlanCloudMapInstance

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"


def test_cloud_map_instances_by_ip_and_by_host_reach_the_plan_and_the_link_targets() -> None:
    p = plan.build(spec.loads((GOOD / "http-api.yaml").read_text()))
    payments = p.cloud_map.services["payments"]
    assert payments.instances["pay2"] == PlanCloudMapInstance(
        "10.1.2.77", 8080, {"stage": "canary"}, "healthy"
    )
    pay1 = next(e for e in p.enis if e.owner == "pay1")
    assert payments.instances["pay1"].ip == pay1.ip
    assert p.cloud_map.namespaces["shop.internal"].vpc == "customer"
    # The integration names the service with a filter; its targets are every instance,
    # the data plane applies `?stage=prod` per request (DiscoverInstances' QueryParameters).
    (api,) = p.apis.values()
    pay = next(r for r in api.routes if r.path == "/pay")
    (link,) = p.vpc_links_v2.values()
    assert pay.integration.connection_id == link.id
    targets = pay.integration.targets
    assert {t.kind for t in targets} == {"instance"} and {t.address for t in targets} == {
        link.front_ip
    }
    assert {t.host for t in targets} <= {"pay1", "pay2"}


def test_alb_listeners_are_typed_and_rules_sorted_by_priority() -> None:
    p = plan.build(spec.loads((GOOD / "http-api.yaml").read_text()))
    alb = next(lb for lb in p.load_balancers.values() if lb.kind == "alb")
    for listener in alb.alb_listeners:
        priorities = [r.priority for r in listener.rules]
        assert priorities == sorted(priorities)
        actions = [listener.default_action, *(r.action for r in listener.rules)]
        assert all((a.forward is None) != (a.fixed_response is None) for a in actions)
    assert plan.from_json(plan.to_json(p)) == p
