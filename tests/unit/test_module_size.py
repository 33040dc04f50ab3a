"""No module of `hyperplane_emu` over LIMIT lines (#14), except declarative tables.

A module that long does several things; it is split by reason to change (one AWS
service, one input format...), each part with a docstring saying why it exists.
A table (data with a line per entry, no logic to read) may be longer: it is listed
in DECLARATIVE with why. OWN_LIMIT gives a module a limit of its own, with why; a
module listed there that is already under LIMIT fails too, so the set only shrinks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hyperplane_emu"
LIMIT = 600

DECLARATIVE: dict[str, str] = {
    "hyperplane_emu/docsgen/reference_tree.py": "the tree of every topology key, one entry "
    "per key with its type and docs: what docs/reference.md is generated from",
}

# The fabric's core is one packet walk (docs/fabric.md), split into rooms already;
# #14 sets it "under 700", which tests/unit/fabric/test_layout.py guards too.
OWN_LIMIT: dict[str, int] = {
    "hyperplane_emu/fabric/core.py": 699,
}


def line_counts(package: Path = PACKAGE) -> dict[str, int]:
    """Path relative to the package's parent (`hyperplane_emu/api.py`) -> lines."""
    return {
        f.relative_to(package.parent).as_posix(): len(f.read_text().splitlines())
        for f in sorted(package.rglob("*.py"))
    }


def over_limit(counts: dict[str, int]) -> dict[str, int]:
    return {
        path: n
        for path, n in counts.items()
        if n > OWN_LIMIT.get(path, LIMIT) and path not in DECLARATIVE
    }


def test_no_module_over_the_limit() -> None:
    over = over_limit(line_counts())
    assert not over, (
        f"modules over {LIMIT} lines, or over their OWN_LIMIT (split by reason to change, or "
        "list a pure table in DECLARATIVE with why): "
        + ", ".join(f"{p} ({n})" for p, n in sorted(over.items()))
    )


@pytest.mark.parametrize("path", sorted(set(OWN_LIMIT) | set(DECLARATIVE)))
def test_every_exception_is_a_real_module_over_the_limit(path: str) -> None:
    counts = line_counts()
    assert path in counts, f"{path} is gone: delete its line here"
    if path in OWN_LIMIT:
        assert counts[path] > LIMIT, (
            f"{path} is down to {counts[path]} lines: delete it from OWN_LIMIT"
        )


def test_the_check_can_fail(tmp_path: Path) -> None:
    package = tmp_path / "hyperplane_emu"
    (package / "cfn").mkdir(parents=True)
    (package / "cfn" / "big.py").write_text("x = 1\n" * (LIMIT + 1))
    (package / "small.py").write_text("x = 1\n" * LIMIT)
    (package / "docsgen").mkdir()
    (package / "docsgen" / "reference_tree.py").write_text("x = 1\n" * 2000)
    (package / "fabric").mkdir()
    (package / "fabric" / "core.py").write_text("x = 1\n" * 700)
    assert over_limit(line_counts(package)) == {
        "hyperplane_emu/cfn/big.py": LIMIT + 1,
        "hyperplane_emu/fabric/core.py": 700,
    }
    (package / "fabric" / "core.py").write_text("x = 1\n" * 699)
    assert "hyperplane_emu/fabric/core.py" not in over_limit(line_counts(package))
