"""Small promises of the CLI that a newcomer meets first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperplane_emu.cli.main import main
from hyperplane_emu.runtime import state


@pytest.fixture
def as_root_with_nothing_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(state, "STATE_ROOT", tmp_path / "run")


def test_down_of_a_topology_that_is_not_up_exits_zero_with_a_note(
    as_root_with_nothing_up: None,
) -> None:
    r = CliRunner().invoke(main, ["down", "never-up"])
    assert r.exit_code == 0, r.output
    assert "never-up: nothing to do" in r.stderr and "is not up" in r.stderr
    r = CliRunner().invoke(main, ["down", "never-up", "--json"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["removed"] == [] and out["errors"] == [] and "is not up" in out["note"]


def test_down_help_promises_it(as_root_with_nothing_up: None) -> None:
    assert "Safe to repeat" in CliRunner().invoke(main, ["down", "--help"]).output
