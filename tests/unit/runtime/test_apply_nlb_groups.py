"""`apply` refuses adding security groups to an NLB created without them (AWS rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.runtime import apply as apply_mod
from hyperplane_emu.spec import SpecError

BASE = """\
name: nlbsg
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      nlb: {}
    hosts:
      app1: {subnet: a, serve: echo:8080}
    load_balancers:
      orders:
        type: network
        subnets: [a]
GROUPS
        listeners: [{port: 80, target_group: web}]
        target_groups: {web: {port: 8080, targets: [app1]}}
"""
WITHOUT = BASE.replace("GROUPS\n", "")
WITH = BASE.replace("GROUPS", "        security_groups: [nlb]")


def build(text: str) -> plan.Plan:
    return plan.build(spec.loads(text))


def test_plan_carries_nlb_groups_on_its_enis_and_the_attribute() -> None:
    p = build(
        WITH.replace(
            "        listeners",
            '        enforce_security_group_inbound_rules_on_private_link_traffic: "off"\n'
            "        listeners",
        )
    )
    lb = p.load_balancers["customer/orders"]
    sg = p.vpcs["customer"].security_groups["nlb"].id
    assert lb.security_groups == (sg,)
    assert lb.enforce_sg_inbound_on_privatelink is False
    assert all(p.eni(e).security_groups == (sg,) for e in lb.enis)
    # Without groups: none at all (not the VPC's default), the attribute on by default.
    lb = build(WITHOUT).load_balancers["customer/orders"]
    assert lb.security_groups == () and lb.enforce_sg_inbound_on_privatelink is True
    assert (
        build(WITH.replace("[nlb]", "[]")).load_balancers["customer/orders"].security_groups == ()
    )


def test_adding_groups_is_refused_naming_the_nlb_and_line() -> None:
    issues = apply_mod.nlb_groups_added(build(WITHOUT), build(WITH), WITH)
    assert len(issues) == 1
    issue = issues[0]
    assert issue.path == "vpcs.customer.load_balancers.orders.security_groups"
    assert "'orders'" in issue.message and "created without security groups" in issue.message
    assert issue.line == WITH.splitlines().index("        security_groups: [nlb]") + 1


@pytest.mark.parametrize(("old", "new"), [(WITH, WITH), (WITHOUT, WITHOUT), (WITH, WITHOUT)])
def test_other_cases_are_not_this_refusal(old: str, new: str) -> None:
    assert apply_mod.nlb_groups_added(build(old), build(new), new) == []


def test_apply_raises_spec_error_before_touching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(WITH)
    touched: list[str] = []
    monkeypatch.setattr(apply_mod, "read_plan", lambda name: (None, build(WITHOUT)))
    monkeypatch.setattr(apply_mod, "fabric_request", lambda *a, **k: touched.append("fabric"))
    with pytest.raises(SpecError) as info:
        apply_mod.apply("nlbsg", f)
    assert [i.path for i in info.value.issues] == [
        "vpcs.customer.load_balancers.orders.security_groups"
    ]
    assert touched == []
