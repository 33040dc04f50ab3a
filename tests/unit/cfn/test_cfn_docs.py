"""docs/cloudformation.md lists every type and property the translator reads."""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu.cfn.catalog import CATALOG, NO_EFFECT, WHY_SKIPPED

DOC = (Path(__file__).resolve().parents[3] / "docs" / "cloudformation.md").read_text()


def test_every_type_has_a_row_with_every_property() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in DOC.splitlines()
        if line.startswith("| `AWS::") and line.count("|") == 5
    }
    assert set(rows) == set(CATALOG)
    for rtype, (used, ignored) in CATALOG.items():
        cells = [c.strip() for c in rows[rtype].split("|")]
        assert cells[3].split(", ") == list(used), rtype
        assert cells[4].split(", ") == (list(ignored) or ["—"]), rtype


def test_no_effect_and_skipped_types_are_named() -> None:
    for rtype in NO_EFFECT:
        assert f"`{rtype}`" in DOC, rtype
    for prefix in WHY_SKIPPED:
        assert prefix.rstrip(":").split("::")[-1] in DOC, prefix
