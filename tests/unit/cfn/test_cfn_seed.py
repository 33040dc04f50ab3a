"""The seed's two architectures as hand-written, SAM and CDK-synthesized templates:
translated, checked by spec and planned, and the same topology facts in every form."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hyperplane_emu import cfn, plan
from hyperplane_emu.cli.main import main

DATA = Path(__file__).resolve().parents[2] / "data" / "cfn"
PRIVATE_REST = [
    "private-rest-api.yaml",
    "sam-private-rest-api.yaml",
    "cdk/CdkPrivateRest.template.json",
]
HTTP_API = ["http-api-vpc-link.json", "cdk/CdkHttpApi.template.json"]


def loaded(name: str) -> cfn.Loaded:
    got = cfn.load(DATA / name)
    assert got.ok, [str(i) for i in got.issues]
    assert got.topology is not None
    return got


@pytest.mark.parametrize("name", PRIVATE_REST)
def test_private_rest_api_templates(name: str) -> None:
    got = loaded(name)
    t = got.translation.topology
    (vpc,) = t["vpcs"].values()
    (nlb,) = vpc["load_balancers"].values()
    assert nlb["type"] == "network" and nlb["scheme"] == "internal"
    (tg,) = nlb["target_groups"].values()
    assert tg["protocol"] == "tcp" and tg["port"] == 8080 and len(tg["targets"]) == 2
    assert nlb["listeners"][0]["port"] == 80
    (endpoint,) = vpc["endpoints"].values()
    assert endpoint["service"] == "execute-api" and endpoint["private_dns"] is True
    (api,) = t["apis"].values()
    assert api["type"] == "rest" and api["endpoint"] == "private"
    assert "prod" in api["stages"]
    (link,) = api["vpc_links"].values()
    assert link["target"].endswith("/" + next(iter(vpc["load_balancers"])))
    assert {"GET /orders", "GET /orders/{id}"} <= set(api["routes"])
    endpoint_key = f"{next(iter(t['vpcs']))}/{next(iter(vpc['endpoints']))}"
    assert api["policy"][0]["source_vpce"] == [endpoint_key]
    serving = [h for h in vpc["hosts"].values() if h.get("serve") == ["echo:8080"]]
    assert len(serving) == 2
    p = plan.build(got.topology)
    (plan_api,) = p.apis.values()
    out = cfn.outputs_for(got.translation, p)
    (url,) = (v for k, v in out.items() if k.startswith("InvokeUrl"))
    assert url.startswith(f"https://{plan_api.id}.execute-api.us-east-1.amazonaws.com/prod")


@pytest.mark.parametrize("name", HTTP_API)
def test_http_api_templates(name: str) -> None:
    got = loaded(name)
    t = got.translation.topology
    ((vname, vpc),) = t["vpcs"].items()
    kinds = sorted(lb["type"] for lb in vpc["load_balancers"].values())
    assert kinds == ["application", "network"]
    (api,) = t["apis"].values()
    assert api["type"] == "http" and "$default" in api["stages"]
    (link,) = api["vpc_links"].values()
    assert link["vpc"] == vname and len(link["subnets"]) == 2
    uris = sorted(r["integration"]["uri"] for r in api["routes"].values())
    assert uris[0] == "cloud_map/internal/payments"
    assert re.fullmatch(rf"{vname}/orders-alb:80", uris[1])
    assert re.fullmatch(rf"{vname}/stock-nlb:9000", uris[2])
    (svc,) = t["cloud_map"]["services"].values()
    assert len(svc["instances"]) == 2
    p = plan.build(got.topology)
    (v2,) = p.vpc_links_v2.values()
    assert {tgt.kind for tgt in v2.targets} == {"alb", "nlb", "instance"}
    (plan_api,) = p.apis.values()
    out = cfn.outputs_for(got.translation, p)
    assert out["ApiUrl"] == f"https://{plan_api.hostname}"


@pytest.mark.parametrize("name", PRIVATE_REST + HTTP_API)
def test_translation_is_fast_and_deterministic(name: str) -> None:
    t0 = time.perf_counter()
    first = loaded(name)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0  # the SAM transform is the slow one (~0.7 s)
    second = loaded(name)
    assert first.translation.topology == second.translation.topology
    assert plan.to_json(plan.build(first.topology)) == plan.to_json(plan.build(second.topology))


@pytest.mark.parametrize("name", PRIVATE_REST + HTTP_API)
def test_cli_validate_accepts_templates(name: str) -> None:
    result = CliRunner().invoke(main, ["validate", str(DATA / name)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(": ok")


def test_cli_validate_parameters_and_strict() -> None:
    path = str(DATA / "private-rest-api.yaml")
    result = CliRunner().invoke(main, ["validate", "--json", "--parameter", "StageName=beta", path])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["validate", "--parameter", "StageName", path])
    assert result.exit_code == 2 and "expected Key=Value" in result.output
    result = CliRunner().invoke(main, ["validate", "--strict", path])
    assert result.exit_code == 2
    assert "Resources.LogRole (line 222): --strict: AWS::IAM::Role" in result.output


def test_cdk_fixtures_come_from_the_committed_app() -> None:
    """The fixtures are what scripts/regen-cdk-fixtures writes: regenerate both together."""
    version = (DATA / "cdk" / "VERSION").read_text()
    assert version.startswith("aws-cdk-lib 2.")
    app = (DATA / "cdk-src" / "app.js").read_text()
    for stack in ("CdkPrivateRest", "CdkHttpApi"):
        assert f"'{stack}'" in app
        assert (DATA / "cdk" / f"{stack}.template.json").exists()


def test_cli_apply_of_a_template_applies_its_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """`apply template.yaml` translates as `up` does and applies the plan it builds;
    the runtime part (diff, live changes) is apply's own, tested with topology files."""
    from hyperplane_emu.runtime import apply as apply_mod

    seen: list[tuple[str, Any]] = []

    def fake_apply(name: str, source: Any) -> apply_mod.ApplyReport:
        seen.append((name, source))
        return apply_mod.ApplyReport(apis=["orders-api"])

    monkeypatch.setattr("hyperplane_emu.cli.main.os.geteuid", lambda: 0)
    monkeypatch.setattr(apply_mod, "apply", fake_apply)
    path = str(DATA / "private-rest-api.yaml")
    result = CliRunner().invoke(main, ["apply", "--parameter", "StageName=beta", path])
    assert result.exit_code == 0, result.output
    ((name, p),) = seen
    assert name == "private-rest-api" and isinstance(p, plan.Plan)
    assert p == plan.build(cfn.load_checked(path, {"StageName": "beta"}).topology)
    assert "private-rest-api: API Gateway: configuration reloaded" in result.stdout
    assert "skipped Resources.LogRole" in result.stderr


def test_cli_apply_of_a_bad_template_exits_2_before_the_runtime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hyperplane_emu.runtime import apply as apply_mod

    monkeypatch.setattr("hyperplane_emu.cli.main.os.geteuid", lambda: 0)
    monkeypatch.setattr(apply_mod, "apply", lambda *a: pytest.fail("must not run"))
    path = str(DATA / "private-rest-api.yaml")
    result = CliRunner().invoke(main, ["apply", "--parameter", "StageName=a b", path])
    assert result.exit_code == 2
    assert "Parameters.StageName" in result.output and "AllowedPattern" in result.output
    result = CliRunner().invoke(main, ["apply", "--strict", path])
    assert result.exit_code == 2 and "--strict: AWS::IAM::Role" in result.output


def test_cli_apply_rewords_a_runtime_refusal_to_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hyperplane_emu.runtime import apply as apply_mod
    from hyperplane_emu.spec.errors import SpecError, SpecIssue

    def refuse(name: str, source: Any) -> apply_mod.ApplyReport:
        nlb = next(iter(source.load_balancers.values()))
        raise SpecError([SpecIssue(f"vpcs.{nlb.vpc}.load_balancers.{nlb.name}.security_groups",
                                   "created without security groups")], "<plan>")  # fmt: skip

    monkeypatch.setattr("hyperplane_emu.cli.main.os.geteuid", lambda: 0)
    monkeypatch.setattr(apply_mod, "apply", refuse)
    result = CliRunner().invoke(main, ["apply", str(DATA / "private-rest-api.yaml")])
    assert result.exit_code == 2
    assert re.search(r"Resources\.OrdersNlb[^\n]*created without security groups", result.output)


def test_cli_validate_json_carries_warnings_and_the_skip_report(tmp_path: Path) -> None:
    path = tmp_path / "acl.yaml"
    path.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\n'
        "Resources:\n"
        "  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
        "  Acl: {Type: AWS::EC2::NetworkAcl, Properties: {VpcId: !Ref Vpc}}\n"
        "  Role: {Type: AWS::IAM::Role, Properties: {}}\n"
    )
    result = CliRunner().invoke(main, ["validate", "--json", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ok"] and out["skipped"] == [
        "Resources.Role (AWS::IAM::Role): IAM is not emulated (no identities: requests are "
        "unsigned)"
    ]
    # Network ACLs are emulated on packets now: the template's ACL earns no warning.
    assert not any("network ACLs" in w for w in out["warnings"]), out["warnings"]


def test_cli_diagram_draws_a_template() -> None:
    result = CliRunner().invoke(
        main, ["diagram", str(DATA / "http-api-vpc-link.json"), "--format", "dot"]
    )
    assert result.exit_code == 0, result.output
    assert "orders-alb" in result.stdout and "stock-nlb" in result.stdout
    bad = CliRunner().invoke(main, ["diagram", str(DATA / "bad" / "cycle.yaml"), "-o", "-"])
    assert bad.exit_code == 2 and "circular dependency" in bad.output


def test_host_names_map_logical_ids_to_hosts() -> None:
    got = loaded("cdk/CdkPrivateRest.template.json")
    hosts = cfn.host_names(got.translation)
    assert set(hosts.values()) == {"client", "app1", "app2"}
    assert all(lid.startswith(("Client", "App1", "App2")) for lid in hosts)


def test_rest_api_with_both_vpc_link_generations_plans() -> None:
    got = loaded("rest-vpc-links-v1-v2.yaml")
    p = plan.build(got.topology)
    (api,) = p.apis.values()
    assert len(api.vpc_links) == 1 and len(p.vpc_links_v2) == 1
    out = cfn.outputs_for(got.translation, p)
    assert out["V2Url"] == f"https://{api.hostname}/prod/v2/orders"
