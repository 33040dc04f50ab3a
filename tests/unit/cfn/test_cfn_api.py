"""The Python API takes templates as the CLI does (told by content), without root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import hyperplane_emu
from hyperplane_emu import api, cfn
from hyperplane_emu.spec.errors import SpecError

DATA = Path(__file__).resolve().parents[2] / "data" / "cfn"
REST = DATA / "private-rest-api.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "private-rest-api.yaml"


def test_load_of_a_template_is_the_plan_the_cli_builds() -> None:
    p = hyperplane_emu.load(REST)
    checked = cfn.load_checked(REST)
    assert p.name == checked.topology.name == "private-rest-api"
    assert set(p.hosts) >= set(cfn.host_names(checked.translation).values())
    assert [a.name for a in p.apis.values()] == ["orders-api"]


def test_parameters_reach_the_template() -> None:
    (api_,) = hyperplane_emu.load(REST, parameters={"StageName": "beta"}).apis.values()
    assert list(api_.stages) == ["beta"]
    (default,) = hyperplane_emu.load(REST).apis.values()
    assert list(default.stages) == ["prod"]


def test_a_bad_parameter_names_the_template_path() -> None:
    with pytest.raises(SpecError, match=r"Parameters\.StageName .*AllowedPattern"):
        hyperplane_emu.load(REST, parameters={"StageName": "no spaces"})
    with pytest.raises(SpecError, match="declares no parameter 'Nope'"):
        hyperplane_emu.load(REST, parameters={"Nope": "1"})


def test_parameters_for_a_topology_file_are_refused() -> None:
    with pytest.raises(ValueError, match="topology file: parameters \\(Env\\)"):
        hyperplane_emu.load(EXAMPLE, parameters={"Env": "prod"})


def test_a_template_as_a_dict_and_a_name_override() -> None:
    doc = json.loads((DATA / "http-api-vpc-link.json").read_text())
    from_dict = hyperplane_emu.load(doc, name="tpl")
    from_file = hyperplane_emu.load(DATA / "http-api-vpc-link.json", name="tpl")
    assert from_dict.name == "tpl"
    assert {e.id for e in from_dict.enis} == {e.id for e in from_file.enis}


def test_outputs_carry_the_plans_ids() -> None:
    loaded = api.load_source(REST, None)
    assert loaded.translation is not None
    t = api.Topology(loaded.plan, loaded.translation)
    (plan_api,) = loaded.plan.apis.values()
    assert t.outputs["InvokeUrl"].startswith(f"https://{plan_api.id}.execute-api.")
    assert re.fullmatch(r"vpce-[0-9a-f]{17}", t.outputs["EndpointId"])
    assert t.outputs["EndpointId"] in {e.id for e in loaded.plan.endpoints.values()}
    assert api.Topology(hyperplane_emu.load(EXAMPLE)).outputs == {}


def test_up_of_a_template_without_root_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.os, "geteuid", lambda: 1000)
    with pytest.raises(hyperplane_emu.NotRoot, match="needs root"):
        hyperplane_emu.up(REST, parameters={"StageName": "beta"})
