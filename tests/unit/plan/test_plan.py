"""Plan: determinism, reserved addresses, AWS-shaped ids, kernel name limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.plan import model, names

GOOD = Path(__file__).parents[2] / "data" / "good"


def _hosts(p: plan.Plan) -> list[model.PlanEni]:
    return [e for e in p.enis if e.kind == "host"]


def _load(text: str) -> plan.Plan:
    return plan.build(spec.loads(text, "test.yaml"))


def _topology(hosts: str, subnet: str = "10.0.1.0/24", region: str = "us-east-1") -> str:
    return f"""
name: t
region: {region}
accounts: {{customer: "111122223333"}}
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets: {{a: {{cidr: {subnet}, az: {region}a}}}}
    hosts:
{hosts}
"""


@pytest.mark.parametrize("name", sorted(p.name for p in GOOD.glob("*.yaml")))
def test_same_file_gives_byte_identical_plan(name: str) -> None:
    t = spec.load(GOOD / name)
    assert plan.to_json(plan.build(t)) == plan.to_json(plan.build(spec.load(GOOD / name)))


def test_plan_is_identical_across_processes_with_different_hash_seeds() -> None:
    code = (
        "from hyperplane_emu import spec, plan;"
        f"print(plan.to_json(plan.build(spec.load({str(GOOD / 'shop.yaml')!r}))))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1


@pytest.mark.parametrize("name", sorted(p.name for p in GOOD.glob("*.yaml")))
def test_json_round_trip(name: str) -> None:
    p = plan.build(spec.load(GOOD / name))
    text = plan.to_json(p)
    assert plan.from_json(text) == p
    assert plan.to_json(plan.from_json(text)) == text


def test_from_json_refuses_other_versions_and_garbage() -> None:
    with pytest.raises(plan.PlanFormatError, match="version 99"):
        plan.from_json('{"version": 99}')
    with pytest.raises(plan.PlanFormatError, match="not JSON"):
        plan.from_json("{")


def test_automatic_addresses_skip_the_four_reserved_at_the_start() -> None:
    p = _load(_topology("      h1: {subnet: a}\n      h2: {subnet: a}"))
    assert [e.ip for e in _hosts(p)] == ["10.0.1.4", "10.0.1.5"]


def test_a_slash_28_holds_eleven_hosts_and_never_the_broadcast() -> None:
    hosts = "\n".join(f"      h{i}: {{subnet: a}}" for i in range(11))
    p = _load(_topology(hosts, subnet="10.0.1.0/28"))
    ips = [IPv4Address(e.ip) for e in _hosts(p)]
    assert ips[0] == IPv4Address("10.0.1.4")
    assert ips[-1] == IPv4Address("10.0.1.14")
    assert IPv4Address("10.0.1.15") not in ips


def test_a_full_subnet_is_a_plan_error_naming_the_host() -> None:
    hosts = "\n".join(f"      h{i}: {{subnet: a}}" for i in range(12))
    with pytest.raises(plan.PlanError) as err:
        _load(_topology(hosts, subnet="10.0.1.0/28"))
    assert [i.path for i in err.value.issues] == ["vpcs.customer.hosts.h11.subnet"]
    assert "11 ENIs" in err.value.issues[0].message


def test_pinned_addresses_are_skipped_by_automatic_ones() -> None:
    p = _load(_topology("      h1: {subnet: a}\n      h2: {subnet: a, private_ip: 10.0.1.4}"))
    by_owner = {e.owner: e.ip for e in _hosts(p)}
    assert by_owner == {"h1": "10.0.1.5", "h2": "10.0.1.4"}


def test_appending_a_host_moves_nobody() -> None:
    a = _load(_topology("      h1: {subnet: a}\n      h2: {subnet: a}"))
    b = _load(_topology("      h1: {subnet: a}\n      h2: {subnet: a}\n      h3: {subnet: a}"))
    assert _hosts(a) == _hosts(b)[:2]


def test_ids_are_aws_shaped_and_distinct() -> None:
    p = plan.build(spec.load(GOOD / "two-accounts.yaml"))
    seen: list[str] = []
    for v in p.vpcs.values():
        assert re.fullmatch(r"vpc-[0-9a-f]{17}", v.id)
        seen.append(v.id)
        for s in v.subnets.values():
            assert re.fullmatch(r"subnet-[0-9a-f]{17}", s.id)
            seen.append(s.id)
        for g in v.security_groups.values():
            assert re.fullmatch(r"sg-[0-9a-f]{17}", g.id)
            seen.append(g.id)
            for r in g.rules:
                assert re.fullmatch(r"sgr-[0-9a-f]{17}", r.rule_id)
                seen.append(r.rule_id)
    for e in p.enis:
        assert re.fullmatch(r"eni-[0-9a-f]{17}", e.id)
        seen.append(e.id)
    assert len(seen) == len(set(seen))


def test_ids_differ_between_topologies_with_the_same_objects() -> None:
    a = _load(_topology("      h1: {subnet: a}"))
    b = plan.build(spec.loads(_topology("      h1: {subnet: a}").replace("name: t", "name: u")))
    assert a.enis[0].id != b.enis[0].id
    assert a.vpcs["customer"].id != b.vpcs["customer"].id


def test_macs_are_locally_administered_unicast_and_distinct() -> None:
    p = plan.build(spec.load(GOOD / "eni-100.yaml"))
    macs = [m for e in p.enis for m in (e.mac, e.fabric_mac)]
    assert len(macs) == len(set(macs)) == 2 * len(p.enis)
    for m in macs:
        first = int(m.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01, m


def test_interface_names_fit_the_kernel_limit_and_are_unique() -> None:
    long = "h" + "x" * 30
    hosts = f"      {long}a: {{subnet: a}}\n      {long}b: {{subnet: a}}\n      c: {{subnet: a}}"
    p = _load(_topology(hosts))
    fab = [e.fabric_ifname for e in _hosts(p)]
    assert all(len(n) <= names.IFNAMSIZ and n.startswith("he-") for n in fab)
    assert len(set(fab)) == 3
    assert fab[2] == "he-c"
    assert {e.ifname for e in _hosts(p)} == {"eth0"}


def test_hundred_enis_all_fit() -> None:
    p = plan.build(spec.load(GOOD / "eni-100.yaml"))
    assert len(p.enis) >= 100
    assert [e.port for e in p.enis] == list(range(len(p.enis)))
    assert len({e.fabric_ifname for e in p.enis}) == len(p.enis)
    assert all(len(e.fabric_ifname) <= 15 for e in p.enis)


def test_namespaces_carry_the_topology_prefix() -> None:
    p = _load(_topology("      h1: {subnet: a}"))
    assert p.prefix == "he-t-"
    assert p.fabric_namespace == "he-t-fabric"
    assert p.hosts["h1"].namespace == "he-t-h1" == p.enis[0].namespace


def test_gateway_resolver_and_hostname() -> None:
    p = _load(_topology("      h1: {subnet: a}"))
    h = p.hosts["h1"]
    assert h.gateway == "10.0.1.1"
    assert p.vpcs["customer"].dns_ip == "10.0.0.2"
    assert h.resolv_conf.startswith("nameserver 10.0.0.2\nsearch ec2.internal\n")
    assert h.hostname == "ip-10-0-1-4.ec2.internal"
    q = _load(_topology("      h1: {subnet: a}", region="eu-west-1"))
    assert q.hosts["h1"].hostname == "ip-10-0-1-4.eu-west-1.compute.internal"
    assert "search eu-west-1.compute.internal" in q.hosts["h1"].resolv_conf


def test_security_group_rules_become_numbers_and_group_ids() -> None:
    p = plan.build(spec.load(GOOD / "shop.yaml"))
    groups = p.vpcs["customer"].security_groups
    app = groups["app"]
    ingress = [r for r in app.rules if r.direction == "ingress"]
    assert (ingress[0].protocol, ingress[0].from_port, ingress[0].to_port) == (6, 8080, 8080)
    assert ingress[0].cidr == "10.0.0.0/16" and ingress[0].group_id is None
    assert (ingress[1].protocol, ingress[1].from_port, ingress[1].to_port) == (17, 5000, 5010)
    assert ingress[1].group_id == app.id and ingress[1].cidr is None
    assert (ingress[2].protocol, ingress[2].from_port) == (1, -1)
    app1 = next(e for e in p.enis if e.owner == "app1")
    assert app1.security_groups == (app.id,)
    client = next(e for e in p.enis if e.owner == "client")
    assert client.security_groups == (groups["default"].id,)


def test_overlapping_vpcs_get_separate_routes_and_ids() -> None:
    p = plan.build(spec.load(GOOD / "two-accounts.yaml"))
    for v in p.vpcs.values():
        assert v.routes[0].target == "local" and v.routes[0].destination == v.cidr
        assert IPv4Network(v.cidr)
    assert len({v.account_id for v in p.vpcs.values()}) >= 1
