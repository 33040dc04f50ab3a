"""`apply`'s decision, from two plans alone: what changes live, what is refused and named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.runtime.apply import PlanChanges, diff

BASE = (Path(__file__).parents[2] / "data" / "good" / "http-api.yaml").read_text()


def _plan(tmp_path: Path, text: str) -> plan.Plan:
    path = tmp_path / f"v{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text)
    return plan.build(spec.load(path))


def _changed(tmp_path: Path, old: str, new: str, count: int = 1) -> PlanChanges:
    assert BASE.count(old) == count, f"{old!r} is not in the base file {count} time(s)"
    return diff(_plan(tmp_path, BASE), _plan(tmp_path, BASE.replace(old, new)))


def test_the_same_file_changes_nothing(tmp_path: Path) -> None:
    c = diff(_plan(tmp_path, BASE), _plan(tmp_path, BASE))
    assert c == PlanChanges(refused=(), security_groups=(), apis=False, cloud_map=False)
    assert c.live


def test_a_security_group_rule_is_live_and_names_only_that_group(tmp_path: Path) -> None:
    c = _changed(
        tmp_path, "- {port: 9000, source: 10.1.0.0/16}", "- {port: 9001, source: 10.1.0.0/16}"
    )
    assert c.live and not c.apis and not c.cloud_map
    assert [(vpc, g.name) for vpc, g in c.security_groups] == [("customer", "stock")]
    ((_, group),) = c.security_groups
    assert [(r.from_port, r.to_port) for r in group.rules if r.direction == "ingress"] == [
        (9001, 9001)
    ]


def test_an_api_route_is_live(tmp_path: Path) -> None:
    c = _changed(tmp_path, '"GET /stock/{item}"', '"GET /stock/{sku}"')
    assert c.live and c.apis and not c.security_groups and not c.cloud_map


def test_cloud_map_attributes_and_health_are_live(tmp_path: Path) -> None:
    c = _changed(tmp_path, "attributes: {stage: canary}, health: healthy",
                 "attributes: {stage: canary, v: 3}, health: unhealthy")  # fmt: skip
    assert c.live and c.cloud_map and not c.security_groups and not c.apis
    c = _changed(tmp_path, "attributes: {stage: prod, version: 2}",
                 "attributes: {stage: prod, version: 3}")  # fmt: skip
    assert c.live and c.cloud_map


def test_an_attribute_change_that_changes_which_instances_an_integration_reaches_is_refused(
    tmp_path: Path,
) -> None:
    # `?stage=prod` selects pay1; pay2 turning prod would need a new front port on the VPC
    # link, which the running fabric cannot be given: refused, naming the link's targets.
    c = _changed(tmp_path, "attributes: {stage: canary}", "attributes: {stage: prod}")
    assert not c.live and c.cloud_map
    assert {p.split(".", 2)[2].split(".")[0] for p in c.refused} == {"by_uri", "targets"}
    assert all(p.startswith("vpc_links_v2.") for p in c.refused)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("a: {cidr: 10.1.1.0/24, az: eu-west-1a}", "a: {cidr: 10.1.3.0/24, az: eu-west-1a}",
         "vpcs.customer.subnets.a"),
        ("web2: {subnet: b,", "web2: {subnet: a,", "hosts.web2"),
        ("idle_timeout: 30", "idle_timeout: 31", "load_balancers"),
    ],
)  # fmt: skip
def test_what_moves_addresses_or_ids_is_refused_by_path(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    c = _changed(tmp_path, old, new)
    assert not c.live
    assert any(p.startswith(named) for p in c.refused), c.refused
    assert c.refusal().startswith("these changes need `down` then `up`")
    assert c.refused == tuple(sorted(c.refused))  # stable order, what the message shows


def test_a_new_security_group_is_refused_even_with_live_changes_alongside(
    tmp_path: Path,
) -> None:
    new_group = "\n      extra:\n        ingress: [{port: 1, source: 10.1.0.0/16}]\n      stock:\n"
    c = _changed(tmp_path, "\n      stock:\n", new_group)
    assert not c.live
    assert any("security_groups.extra" in p for p in c.refused), c.refused


def test_the_refusal_names_six_paths_and_counts_the_rest() -> None:
    c = PlanChanges(refused=tuple(f"p{i}" for i in range(9)), security_groups=(), apis=False,
                    cloud_map=False)  # fmt: skip
    assert c.refusal().endswith("p0, p1, p2, p3, p4, p5 and 3 more")
    six = PlanChanges(refused=tuple(f"p{i}" for i in range(6)), security_groups=(), apis=False,
                      cloud_map=False)  # fmt: skip
    assert six.refusal().endswith("p4, p5")


def test_network_acl_rules_are_live_and_their_subnets_are_structure(tmp_path: Path) -> None:
    acl = (
        "    network_acls:\n      web:\n        subnets: [a]\n"
        "        inbound: [{rule: 100, action: allow, protocol: tcp, port: PORT, "
        "cidr: 0.0.0.0/0}]\n"
    )
    text = BASE.replace("    security_groups:\n", acl + "    security_groups:\n", 1)
    old = _plan(tmp_path, text.replace("PORT", "80"))
    c = diff(old, _plan(tmp_path, text.replace("PORT", "443")))
    assert c.live and not c.security_groups
    assert [(vpc, a.name) for vpc, a in c.network_acls] == [(next(iter(old.vpcs)), "web")]
    moved = text.replace("PORT", "80").replace(
        "subnets: [a]\n        inbound", "subnets: [b]\n        inbound"
    )
    assert not diff(old, _plan(tmp_path, moved)).live
