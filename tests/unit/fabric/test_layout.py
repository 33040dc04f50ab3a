"""The fabric's rooms stay rooms: the core stays a packet walk that no other room
imports, and every drop reason is documented under its wire string. (No import
cycle at all: tests/unit/test_import_cycles.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from hyperplane_emu.fabric.reasons import DropReason

ROOT = Path(__file__).resolve().parents[3]
FABRIC = ROOT / "hyperplane_emu" / "fabric"


def test_only_tools_and_the_io_side_import_the_core() -> None:
    pattern = re.compile(r"^\s*from (\.core|hyperplane_emu\.fabric\.core) import", re.M)
    importers = {
        str(p.relative_to(FABRIC)) for p in FABRIC.rglob("*.py") if pattern.search(p.read_text())
    }
    assert "microbench.py" in importers  # the pattern does match
    assert importers <= {"driver.py", "daemon.py", "kernelpath.py", "microbench.py"}


def test_the_core_stays_a_packet_walk() -> None:
    assert len((FABRIC / "core.py").read_text().splitlines()) < 700


def test_every_drop_reason_is_documented() -> None:
    text = (ROOT / "docs" / "fabric.md").read_text()
    missing = [r.value for r in DropReason if f"`{r.value}`" not in text]
    assert not missing
