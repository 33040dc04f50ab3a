"""What the repository promises a newcomer and CI: the entry points exist and agree.

README names the two commands; .ci/run runs scripts/test; the scripts are
executable and parse; the Vagrantfile provisions with scripts/setup; every
example validates with today's schema.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hyperplane_emu import examples, spec

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("scripts/setup", "scripts/test", "scripts/demo", ".ci/run")


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "sudo scripts/demo" in readme
    assert "sudo scripts/test" in readme
    assert "vagrant up" in readme


def test_ci_runs_the_test_script() -> None:
    text = (REPO / ".ci/run").read_text()
    commands = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert text.startswith("#!/bin/sh\n")
    assert commands[-1] == "exec scripts/test"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable(script: str) -> None:
    assert os.access(REPO / script, os.X_OK), f"{script} is not executable (chmod +x)"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script: str) -> None:
    first = (REPO / script).read_text().splitlines()[0]
    shell = "sh" if first == "#!/bin/sh" else "bash"
    done = subprocess.run([shell, "-n", str(REPO / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    done = subprocess.run(
        [shellcheck, *(str(REPO / s) for s in SCRIPTS)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_scripts_are_tracked_as_executable_by_git() -> None:
    """A fresh clone (CI, Vagrant) must get the x bit, not only this checkout."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-s", *SCRIPTS],
        capture_output=True,
        text=True,
        check=True,
    )
    modes = {line.split("\t")[1]: line.split()[0] for line in done.stdout.splitlines()}
    untracked = [s for s in SCRIPTS if s not in modes]
    if untracked:
        pytest.skip(f"not committed yet: {untracked}")
    assert {s: m for s, m in modes.items() if m != "100755"} == {}


def test_vagrantfile_provisions_with_setup() -> None:
    text = (REPO / "Vagrantfile").read_text()
    assert "debian/bookworm64" in text
    assert "/vagrant/scripts/setup" in text
    assert re.search(r"\.cpus\s*=\s*2\b", text)
    assert re.search(r"\.memory\s*=\s*4096\b", text)


def test_examples_exist() -> None:
    expected = {"basic", "private-rest-api", "http-api-vpc-link", "network-fidelity"}
    assert expected <= set(examples.names())


@pytest.mark.parametrize("name", examples.names())
def test_example_validates(name: str) -> None:
    topology = spec.load(examples.path(name))
    assert topology.name
    for warning in topology.warnings:
        assert "not emulated yet" in warning, warning


def test_basic_example_uses_only_emulated_features() -> None:
    assert spec.load(examples.path("basic")).warnings == ()


def test_example_path_refuses_unknown_names() -> None:
    with pytest.raises(FileNotFoundError, match="known: basic"):
        examples.path("no-such-example")
    with pytest.raises(FileNotFoundError):
        examples.path("../pyproject")


def test_docs_the_readme_links_exist() -> None:
    readme = (REPO / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+\.md)\)", readme):
        assert (REPO / link).is_file(), f"README links {link}, which does not exist"


def test_test_module_basenames_are_unique() -> None:
    """pytest's default (prepend) import mode imports test modules by basename: two
    `test_x.py` in different folders stop collection of the whole suite."""
    tests = Path(__file__).resolve().parents[1]
    seen: dict[str, list[str]] = {}
    for f in tests.rglob("test_*.py"):
        seen.setdefault(f.name, []).append(str(f.relative_to(tests)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules sharing a basename: {clashes}"
