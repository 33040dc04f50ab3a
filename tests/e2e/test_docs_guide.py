"""docs/guide.md still tells the truth: every documented command, run again on
real topologies, prints output of the same shape (first-line words, table
column titles, JSON keys, exit status) as the committed guide — not the same
ids, ports or times. The generator also checks each block's own expectation
(`expect=`, `exit=`), so a claim that stops holding fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hyperplane_emu.docsgen import guide
from hyperplane_emu.realize import Kernel

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def test_every_documented_command_prints_the_same_shape(tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.fail("the guide's commands use jq: apt-get install jq")
    source = (REPO / guide.SOURCE).read_text()
    out = tmp_path / "guide.md"
    r = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.docsgen", "guide", "--isolated", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]

    committed = guide.documented((REPO / guide.OUTPUT).read_text())
    fresh = guide.documented(out.read_text())
    assert committed, "docs/guide.md has no generated command blocks"
    assert len(fresh) == len(committed), (
        "docs/guide.md is stale (a block was added or removed): run sudo scripts/docs"
    )
    names = frozenset(guide.declared_names(source, REPO).values())
    isolated = frozenset(guide.isolated_name(key) for key in guide.declared_names(source, REPO))
    for old, new in zip(committed, fresh, strict=True):
        assert guide.shape(new, isolated) == guide.shape(old, names), (
            f"`{old.command}` no longer prints what docs/guide.md shows\n"
            f"--- documented\n{old.output[:1500]}\n--- now\n{new.output[:1500]}"
        )
    left = [n for n in Kernel().netns_list() if n.startswith("he-docs-")]
    assert not left, f"the guide's topologies were not taken down: {left}"
