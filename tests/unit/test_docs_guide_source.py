"""The guide generator's pure parts: run-block options, rendering and reading
back, and the shape the end-to-end test compares (tests/e2e/test_docs_guide.py
runs the commands)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperplane_emu.docsgen import guide

REPO = Path(__file__).resolve().parents[2]


def test_block_options() -> None:
    block = guide.parse_block(' lines=3 exit=28 expect="a b"', "sudo x\n")
    assert block == guide.Block("sudo x", lines=3, exit=28, expect="a b")
    with pytest.raises(guide.GuideError, match="unknown run-block option"):
        guide.parse_block(" timeout=3", "x\n")
    with pytest.raises(guide.GuideError, match="exactly one command"):
        guide.parse_block("", "a\nb\n")


def test_rendered_runs_read_back() -> None:
    runs = [
        guide.Run("sudo hyperplane-emu down t", "t: down (3 objects removed)", 0),
        guide.Run("curl -m 1 x", "", 28),
        guide.Run("sudo hyperplane-emu status t", "a\nb", 0, cut=5),
    ]
    text = "intro\n\n" + "\ntext\n\n".join(guide.render_run(r) for r in runs)
    back = guide.documented(text)
    assert [(d.command, d.output, d.exit_status) for d in back] == [
        ("sudo hyperplane-emu down t", "t: down (3 objects removed)", 0),
        ("curl -m 1 x", "", 28),
        ("sudo hyperplane-emu status t", "a\nb", 0),
    ]


def test_shape_ignores_ids_names_and_times_but_not_columns_or_status() -> None:
    table = "endpoint connections\n┃ endpoint ┃ state ┃\n│ vpce-1 │ available │"
    a = guide.Documented("sudo hyperplane-emu endpoint-connections alpha", table, 0)
    b = guide.Documented(
        "sudo hyperplane-emu endpoint-connections beta", table.replace("vpce-1", "vpce-2"), 0
    )
    assert guide.shape(a) == guide.shape(b)
    assert guide.shape(a).columns == {"endpoint", "state"}
    renamed = guide.Documented(a.command, table.replace("state", "status"), 0)
    assert guide.shape(renamed) != guide.shape(a)
    assert guide.shape(guide.Documented(a.command, table, 28)) != guide.shape(a)
    first = guide.Documented("x", "alpha: down (3 objects removed)", 0)
    other = guide.Documented("x", "beta: down (4 objects removed)", 0)
    assert guide.shape(first, frozenset({"alpha"})) == guide.shape(other, frozenset({"beta"}))
    keys = guide.Documented("x", '{"host": "app1", "saw_source": "10.0.1.6:1"}', 0)
    assert guide.shape(keys).json_keys == {"host", "saw_source"}


def test_committed_guide_matches_its_source() -> None:
    """Every run block of guide.src.md has its output in guide.md, in order."""
    source = (REPO / guide.SOURCE).read_text()
    blocks = [guide.parse_block(m.group(1), m.group(2)) for m in guide._RUN.finditer(source)]
    runs = guide.documented((REPO / guide.OUTPUT).read_text())
    names = guide.declared_names(source, REPO)
    assert len(runs) == len(blocks), "docs/guide.md is stale: run sudo scripts/docs"
    for block, run in zip(blocks, runs, strict=True):
        # The text outside {{…}} is the same; the placeholders hold the run's values.
        pattern, position = "", 0
        for m in guide._VARIABLE.finditer(block.command):
            pattern += re.escape(block.command[position : m.start()])
            key = m.group(1)
            pattern += re.escape(names[key]) if m.group(2) is None else r"\S+"
            position = m.end()
        pattern += re.escape(block.command[position:])
        assert re.fullmatch(pattern, run.command), (block.command, run.command)
        assert run.exit_status == block.exit
