"""The bad-template corpus: each file names the error it must produce (`# expect: …`);
`validate` exits 2 and prints it with the logical id and property path."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperplane_emu import cfn
from hyperplane_emu.cli.main import main

BAD = Path(__file__).resolve().parents[2] / "data" / "cfn" / "bad"
FILES = sorted(BAD.glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: …'"
    return first.removeprefix("# expect: ")


def test_the_corpus_covers_the_issue() -> None:
    names = {f.stem for f in FILES}
    assert {"unknown-ref", "cycle", "wrong-type-port", "missing-cidr"} <= names
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bad_template(path: Path) -> None:
    want = expected(path)
    got = cfn.load(path)
    assert not got.ok and got.topology is None
    rendered = [str(i) for i in got.issues]
    where, _, message = want.partition(": ")
    assert any(r.startswith(where) and message in r for r in rendered), rendered
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert where in result.output and message in result.output
