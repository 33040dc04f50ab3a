"""Valid files: defaults AWS applies, normalisation, warnings, limits and the API shape."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from yaml.nodes import Node

from hyperplane_emu import spec
from hyperplane_emu.spec import SgRule, SpecError, SpecIssue, Topology, Vpc
from hyperplane_emu.spec import sections as spec_sections
from hyperplane_emu.spec.nodes import Ctx
from hyperplane_emu.spec.yamltree import MAX_BYTES

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"
ALL_EGRESS = SgRule("egress", "all", 0, 65535, "0.0.0.0/0")

BASE = """\
name: shop
region: us-east-1
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    hosts:
      client: {subnet: a}
"""


def issues_of(text: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as info:
        spec.loads(text)
    return info.value.issues


@pytest.mark.parametrize("path", sorted(GOOD.glob("*.yaml")), ids=lambda p: p.stem)
def test_good_files_load(path: Path) -> None:
    topology = spec.load(path)
    assert topology.source == str(path)
    assert spec.validate(path).ok


# -- defaults ----------------------------------------------------------------------


def test_default_group_is_created_as_aws_does() -> None:
    vpc = spec.loads(BASE).vpcs["customer"]
    default = vpc.security_groups["default"]
    assert default.ingress == (SgRule("ingress", "all", 0, 65535, "sg/default"),)
    assert default.egress == (ALL_EGRESS,)
    assert list(vpc.security_groups) == ["default"]


def test_host_without_groups_gets_default_and_source_dest_check() -> None:
    host = spec.loads(BASE).vpcs["customer"].hosts["client"]
    assert host.security_groups == ("default",)
    assert host.source_dest_check is True
    assert host.private_ip is None
    assert host.serve == ()


def test_empty_group_list_means_default() -> None:
    text = BASE.replace("{subnet: a}", "{subnet: a, security_groups: []}")
    assert spec.loads(text).vpcs["customer"].hosts["client"].security_groups == ("default",)


def test_group_without_egress_gets_aws_default_egress_and_empty_egress_stays_empty() -> None:
    text = BASE.replace(
        "    hosts:",
        "    security_groups:\n"
        "      open: {ingress: [{port: 80, source: 10.0.0.0/16}]}\n"
        "      closed: {egress: []}\n"
        "    hosts:",
    )
    groups = spec.loads(text).vpcs["customer"].security_groups
    assert groups["open"].egress == (ALL_EGRESS,)
    assert groups["closed"].egress == ()
    assert groups["closed"].ingress == ()
    assert set(groups) == {"open", "closed", "default"}


def test_redefined_default_group_is_taken_as_written() -> None:
    vpc = spec.load(GOOD / "two-accounts.yaml").vpcs["consumer"]
    default = vpc.security_groups["default"]
    assert (default.description, default.ingress, default.egress) == ("locked down", (), ())


def test_default_account_and_settings() -> None:
    topology = spec.loads(BASE)
    assert topology.accounts == {"customer": "111122223333"}
    assert topology.vpcs["customer"].account == "customer"
    assert topology.settings == spec.Settings(conntrack_max=65536, flow_log_interval=10, mtu=9001)
    assert topology.warnings == ()


def test_customer_account_added_beside_others() -> None:
    text = BASE.replace("vpcs:", 'accounts: {provider: "444455556666"}\nvpcs:')
    assert spec.loads(text).accounts == {
        "provider": "444455556666",
        "customer": "111122223333",
    }


def test_settings_are_read() -> None:
    text = BASE + "settings: {conntrack_max: 10, flow_log_interval: 600, mtu: 1500}\n"
    assert spec.loads(text).settings == spec.Settings(10, 600, 1500)


# -- normalisation -------------------------------------------------------------------


def test_rules_are_normalised() -> None:
    groups = spec.load(GOOD / "shop.yaml").vpcs["customer"].security_groups
    assert groups["app"].ingress == (
        SgRule("ingress", "tcp", 8080, 8080, "10.0.0.0/16"),
        SgRule("ingress", "udp", 5000, 5010, "sg/app"),
        SgRule("ingress", "icmp", 0, 65535, "10.0.0.0/16"),
    )
    assert groups["vpce"].ingress[0].description == "HTTPS from the VPC"
    assert groups["app"].ingress[1].peer_group == "app"


def test_port_written_as_string_is_a_single_port() -> None:
    text = BASE.replace(
        "    hosts:",
        "    security_groups:\n      g: {ingress: [{port: '22', source: 10.0.0.0/8}]}\n    hosts:",
    )
    rule = spec.loads(text).vpcs["customer"].security_groups["g"].ingress[0]
    assert (rule.from_port, rule.to_port) == (22, 22)


def test_serve_string_and_list_and_fixed_address() -> None:
    hosts = spec.load(GOOD / "shop.yaml").vpcs["customer"].hosts
    assert hosts["app1"].serve == (spec.Serve("echo", 8080),)
    assert hosts["app2"].serve == (spec.Serve("echo", 8080), spec.Serve("echo", 9090))
    assert hosts["app1"].private_ip == "10.0.1.10"


def test_file_order_is_kept() -> None:
    vpc = spec.load(GOOD / "eni-100.yaml").vpcs["big"]
    assert list(vpc.subnets) == ["a", "b", "c", "d"]
    assert list(vpc.hosts)[:3] == ["a-h00", "a-h01", "a-h02"]


def test_hundred_eni_file() -> None:
    start = time.perf_counter()
    topology = spec.load(GOOD / "eni-100.yaml")
    elapsed = time.perf_counter() - start
    hosts = topology.vpcs["big"].hosts
    assert len(hosts) == 100
    assert {h.subnet for h in hosts.values()} == {"a", "b", "c", "d"}
    assert len({h.private_ip for h in hosts.values()}) == 100
    print(f"eni-100.yaml loaded in {elapsed * 1000:.1f} ms")  # a figure, not an assertion


def test_utf8_bom_and_bytes_are_accepted() -> None:
    assert spec.loads(b"\xef\xbb\xbf" + BASE.encode()).name == "shop"


def test_an_anchor_without_alias_is_fine() -> None:
    text = BASE.replace("a: {cidr", "a: &sub {cidr")
    assert spec.loads(text).vpcs["customer"].subnets["a"].cidr == "10.0.1.0/24"


def test_topology_is_frozen() -> None:
    topology = spec.loads(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        topology.name = "other"  # type: ignore[misc]


# -- warnings and the section registry -------------------------------------------------


def test_reserved_sections_warn_with_path_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # No section is reserved today (NLBs, ALBs, endpoints, APIs and Cloud Map are
    # emulated): reserve one of each kind.
    future = spec_sections.reserved_vpc_parser("nat_gateways")
    monkeypatch.setitem(spec_sections.VPC_SECTIONS, "nat_gateways", future)
    later = spec_sections.reserved_topology_parser("waf")
    monkeypatch.setitem(spec_sections.TOPOLOGY_SECTIONS, "waf", later)
    text = BASE + "    nat_gateways: {x: 1}\nwaf: [whatever]\n"
    result = spec.validate_text(text)
    assert result.ok
    assert [str(w) for w in result.warnings] == [
        "vpcs.customer.nat_gateways (line 10): section 'nat_gateways' is not emulated yet, ignored",
        "waf (line 11): section 'waf' is not emulated yet, ignored",
    ]
    assert result.topology is not None
    assert result.topology.warnings == tuple(str(w) for w in result.warnings)


def test_registered_vpc_section_replaces_the_reserved_one(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    def parse_endpoints(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
        seen.append((path, vpc.name))
        items = ctx.sequence(node, path)
        if items is not None and len(items) > 1:
            ctx.error(path, node, "one endpoint at most in this test")
        return dataclasses.replace(vpc, cidr="10.0.0.0/16")

    monkeypatch.setitem(spec_sections.VPC_SECTIONS, "endpoints", parse_endpoints)
    assert spec.loads(BASE + "    endpoints: [a]\n").warnings == ()
    assert seen == [("vpcs.customer.endpoints", "customer")]
    issues = issues_of(BASE + "    endpoints: [a, b]\n")
    assert [(i.path, i.message) for i in issues] == [
        ("vpcs.customer.endpoints", "one endpoint at most in this test")
    ]


def test_registered_topology_section(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse_apis(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
        # A real parser would fill a new field; here it proves it sees the built VPCs.
        assert "customer" in topology.vpcs
        return dataclasses.replace(topology, warnings=("parsed apis",))

    monkeypatch.setitem(spec_sections.TOPOLOGY_SECTIONS, "apis", parse_apis)
    assert spec.loads(BASE + "apis: {}\n").name == "shop"


# -- messages --------------------------------------------------------------------------


def test_issue_str_has_path_line_and_message() -> None:
    text = BASE.replace("a: {cidr: 10.0.1.0/24", "a: {cidr: 10.0.9.0/24").replace(
        "10.0.0.0/16", "10.0.0.0/21"
    )
    [issue] = issues_of(text)
    assert (
        str(issue) == "vpcs.customer.subnets.a.cidr (line 7): 10.0.9.0/24 is not inside 10.0.0.0/21"
    )


def test_spec_error_lists_every_issue_in_file_order() -> None:
    text = "name: Bad\nregion: moon\n" + BASE.split("\n", 2)[2].replace("az: us-east-1a", "az: x")
    with pytest.raises(SpecError) as info:
        spec.loads(text, source="t.yaml")
    error = info.value
    assert [i.line for i in error.issues] == sorted(i.line or 0 for i in error.issues)
    assert {i.path for i in error.issues} == {"name", "region", "vpcs.customer.subnets.a.az"}
    rendered = str(error)
    assert rendered.startswith("t.yaml: 3 errors\n")
    assert all(str(i) in rendered for i in error.issues)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("cidr: 10.0.0.0/16", "cidr: 10.0.0.9/16", "did you mean 10.0.0.0/16?"),
        ("    hosts:", "    hots:", "did you mean 'hosts'?"),
        ("{subnet: a}", "{subnet: aa}", "no subnet 'aa' in VPC 'customer'"),
        ("region: us-east-1", "region: 5", "got an integer 5"),
    ],
)
def test_messages_help(old: str, new: str, fragment: str) -> None:
    messages = [i.message for i in issues_of(BASE.replace(old, new))]
    assert any(fragment in m for m in messages), messages


def test_account_id_number_suggests_quotes_keeping_leading_zeros() -> None:
    # YAML 1.1 reads 011122223333 as an octal integer: the message shows it as written.
    [issue] = issues_of(BASE.replace("vpcs:", "accounts: {customer: 011122223333}\nvpcs:"))
    assert issue.path == "accounts.customer"
    assert '"011122223333"' in issue.message


# -- limits and file errors ----------------------------------------------------------------


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(BASE.encode() + b"#" * MAX_BYTES + b"\n")
    [issue] = spec.validate(big).issues
    assert issue.path == "(file)"
    assert str(MAX_BYTES) in issue.message


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        spec.load(tmp_path / "nope.yaml")
    [issue] = info.value.issues
    assert issue.path == "(file)"
    assert "No such file" in issue.message


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 20):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    start = time.perf_counter()
    issues = issues_of("\n".join(levels) + "\n")
    assert time.perf_counter() - start < 5  # 10**20 nodes if it were expanded
    assert len(issues) == 19 * 10
    assert all("alias" in i.message for i in issues)
