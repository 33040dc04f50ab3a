"""docs/ci.md's GitHub Actions workflow: every run step parses and names only things
that exist here (scripts, venv programs, CLI verbs, python -m modules)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperplane_emu.cli.main import main

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "ci.md"
CHECKOUT = "hyperplane-emu/"  # where the workflow checks the emulator out
RUNNER_COMMANDS = {"sudo"}  # on every GitHub runner; everything else must be ours


def fenced(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def workflow() -> dict[str, Any]:
    (text,) = fenced("yaml")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def run_steps() -> list[str]:
    return [s["run"] for job in workflow()["jobs"].values() for s in job["steps"] if "run" in s]


def test_the_workflow_runs_setup_then_pytest_on_ubuntu_latest() -> None:
    (job,) = workflow()["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    steps = run_steps()
    setup = next(i for i, s in enumerate(steps) if "scripts/setup" in s)
    pytest_step = next(i for i, s in enumerate(steps) if "-m pytest" in s)
    assert setup < pytest_step and steps[setup].startswith("sudo ")
    checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert any(s.get("with", {}).get("path") == CHECKOUT.rstrip("/") for s in checkouts)


@pytest.mark.parametrize("step", run_steps())
def test_each_run_step_parses_with_bash(step: str) -> None:
    done = subprocess.run(["bash", "-n"], input=step, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _venv_programs() -> set[str]:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    return {"python", "pip", *scripts}


@pytest.mark.parametrize("step", run_steps())
def test_each_command_names_what_exists_here(step: str) -> None:
    for line in step.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["sudo"]:
            words = words[1:]
        if not words:
            continue
        program, args = words[0], words[1:]
        if program in RUNNER_COMMANDS:
            continue
        assert program.startswith(CHECKOUT), f"{program}: not from the emulator's checkout"
        local = program[len(CHECKOUT) :]
        if local.startswith(".venv/bin/"):
            name = local.rsplit("/", 1)[1]
            assert name in _venv_programs(), f"{local}: setup's venv has no such program"
            if name == "hyperplane-emu":
                assert args[0] in main.commands, f"hyperplane-emu has no verb {args[0]!r}"
            if name == "python" and args[:1] == ["-m"]:
                assert importlib.util.find_spec(args[1]), f"no module {args[1]}"
        else:
            assert (REPO / local).is_file(), f"{local} does not exist"
            assert (REPO / local).stat().st_mode & 0o111, f"{local} is not executable"


def test_the_example_test_uses_the_plugin_as_registered() -> None:
    (code,) = fenced("python")
    compile(code, "docs/ci.md", "exec")
    assert 'pytest.mark.topology("topologies/shop.yaml"' in code
    entry = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry["pytest11"] == {"hyperplane_emu": "hyperplane_emu.pytest_plugin"}
