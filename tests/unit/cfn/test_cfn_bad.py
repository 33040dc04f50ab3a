"""The bad-template corpus: each file names the error it must produce (`# expect: …`);
`validate` exits 2 and prints it with the logical id and property path."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

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


def _mutations() -> list[tuple[str, str, str, Any]]:
    from hyperplane_emu.cfn.template import read

    out = []
    for name in ("private-rest-api.yaml", "http-api-vpc-link.json"):
        body = read((BAD.parent / name).read_bytes(), name).body
        for logical, res in body["Resources"].items():
            for key in res.get("Properties", {}):
                for value in (None, 7, "x", [], {"a": [1]}, [{"b": None}]):
                    out.append((name, logical, key, value))
    return random.Random(0).sample(out, 100)


@pytest.mark.parametrize(("name", "logical", "key", "value"), _mutations())
def test_wrong_shapes_are_reported_never_raised(
    name: str, logical: str, key: str, value: Any
) -> None:
    from hyperplane_emu.cfn.template import read

    t = read((BAD.parent / name).read_bytes(), name)
    t.body["Resources"][logical]["Properties"][key] = value
    text = json.dumps(t.body)
    got = cfn.loads(text, name)  # must not raise, whatever the value
    if not got.ok:
        assert all(i.path for i in got.issues)
