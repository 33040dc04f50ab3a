"""The root-namespace guard notices a leftover `he-*` namespace (real netns, root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rootns_guard
from pyroute2 import netns

pytestmark = pytest.mark.root

TESTS = Path(__file__).resolve().parents[1]


def test_guard_notices_a_leftover_namespace_and_its_removal() -> None:
    name = f"he-guard-{os.getpid()}"
    before = rootns_guard.take()
    netns.create(name)
    try:
        during = rootns_guard.differences(before, rootns_guard.take())
        assert f"network namespace {name} left behind" in during
    finally:
        netns.remove(name)
    after = [d for d in rootns_guard.differences(before, rootns_guard.take()) if name in d]
    assert after == []


LEAKY_SUITE = """
from pyroute2 import netns

def test_leaks_a_namespace():
    netns.create({name!r})
"""


def test_suite_that_leaves_a_namespace_fails(tmp_path: Path) -> None:
    """The guard in tests/conftest.py turns a leftover into a failed session."""
    name = f"he-leak-{os.getpid()}"
    for f in ("conftest.py", "rootns_guard.py"):
        shutil.copy(TESTS / f, tmp_path / f)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    root: needs root\n")
    (tmp_path / "test_leaky.py").write_text(LEAKY_SUITE.format(name=name))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        if name in rootns_guard.he_netns():
            netns.remove(name)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"network namespace {name} left behind" in out
