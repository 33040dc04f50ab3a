"""scripts/*: root runs them directly, others through sudo, and a root shell without
sudo (containers, CI images) is not told to use it. Faked `id` and `sudo` make the
test independent of who runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = ("setup", "test", "demo", "bench", "docs", "soak")


def _fakebin(tmp_path: Path, uid: int, sudo: bool) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if sudo:
        (bin_dir / "sudo").write_text('#!/bin/sh\necho "sudo $*"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    dirname = shutil.which("dirname")
    assert dirname
    (bin_dir / "dirname").symlink_to(dirname)
    return bin_dir


def _run(script: str, bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = REPO / "scripts" / script
    shell = "sh" if path.read_text().startswith("#!/bin/sh") else "bash"
    interpreter = shutil.which(shell)
    assert interpreter
    return subprocess.run(
        [interpreter, str(path), *args],
        capture_output=True, text=True, timeout=30,
        env={"PATH": str(bin_dir), "HOME": "/nonexistent"},
    )  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_not_root_goes_through_sudo_with_the_same_arguments(script: str, tmp_path: Path) -> None:
    done = _run(script, _fakebin(tmp_path, 1000, sudo=True), "--x", "a b")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sudo -- {REPO / 'scripts' / script} --x a b\n"


@pytest.mark.parametrize("script", SCRIPTS)
def test_not_root_without_sudo_says_run_it_as_root(script: str, tmp_path: Path) -> None:
    done = _run(script, _fakebin(tmp_path, 1000, sudo=False))
    assert done.returncode == 1
    assert "needs root, and there is no sudo: run it as root" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("script", SCRIPTS)
def test_sudo_only_when_not_root(script: str) -> None:
    """The one `exec sudo` of each script sits under the uid test, before any work."""
    text = (REPO / "scripts" / script).read_text()
    guard = re.search(r'if \[\[? "?\$\(id -u\)"? -ne 0 \]\]?; then\n(.*?)\nfi\n', text, re.S)
    assert guard is not None, f"scripts/{script} has no root check"
    assert 'exec sudo -- "$0" "$@"' in guard.group(1)
    assert text.count("sudo --") == 1


@pytest.mark.parametrize("script", ["bench", "soak", "docs"])
def test_venv_users_run_setup_first_with_its_lines_on_stderr(script: str) -> None:
    # A fresh clone has no .venv; --json output must stay parseable.
    text = (REPO / "scripts" / script).read_text()
    setup = re.search(r'scripts/setup"? >&2\n', text)
    assert setup is not None and setup.start() < text.index(".venv/bin/python")


def test_setup_installs_graphviz_and_shellcheck() -> None:
    text = (REPO / "scripts" / "setup").read_text()
    packages = re.search(r"readonly PACKAGES=\(([^)]*)\)", text)
    assert packages is not None
    assert {"graphviz", "shellcheck", "tcpdump", "curl"} <= set(packages.group(1).split())


def test_every_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.geteuid() == 0:
            pytest.fail("shellcheck is missing although scripts/setup installs it")
        pytest.skip("shellcheck is not installed (sudo scripts/setup installs it)")
    files = [str(REPO / "scripts" / s) for s in SCRIPTS] + [str(REPO / ".ci" / "run")]
    done = subprocess.run([shellcheck, *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
