"""CLI verbs that need no root: validate, --help, and the one-line root refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperplane_emu.cli.main import main

DATA = Path(__file__).parents[2] / "data"


def test_validate_ok_prints_ok_and_exits_zero() -> None:
    r = CliRunner().invoke(main, ["validate", str(DATA / "good" / "shop.yaml")])
    assert r.exit_code == 0
    assert r.output.strip().endswith("shop.yaml: ok")


def test_validate_lists_every_issue_with_its_path() -> None:
    bad = DATA / "bad" / "combo-five.yaml"
    r = CliRunner().invoke(main, ["validate", "--json", str(bad)])
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    expected = [
        ln.split(":", 1)[1].strip()
        for ln in bad.read_text().splitlines()
        if ln.startswith("# expect:")
    ]
    assert sorted(i["path"] for i in out["issues"]) == sorted(expected)


def test_validate_reports_plan_errors_too(tmp_path: Path) -> None:
    hosts = "\n".join(f"      h{i}: {{subnet: a}}" for i in range(12))
    f = tmp_path / "full.yaml"
    f.write_text(
        "name: full\nregion: us-east-1\nvpcs:\n  v:\n    cidr: 10.0.0.0/16\n"
        "    subnets: {a: {cidr: 10.0.1.0/28, az: us-east-1a}}\n    hosts:\n" + hosts + "\n"
    )
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 2
    assert "vpcs.v.hosts.h11.subnet" in r.output


def test_validate_plan_shows_ids() -> None:
    r = CliRunner().invoke(main, ["validate", "--plan", str(DATA / "good" / "minimal.yaml")])
    assert r.exit_code == 0 and '"fabric_namespace": "he-tiny-fabric"' in r.output


@pytest.mark.parametrize("verb", ["up", "down", "status", "exec", "capture", "flow-logs", "clean"])
def test_every_verb_has_help(verb: str) -> None:
    r = CliRunner().invoke(main, [verb, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output
