"""Every file in tests/data/bad fails to load with exactly the issues it declares.

Each file starts with `# expect: <yaml path>` lines (one per expected issue) and
a `# why:` line. The test compares the *set* of issue paths, so a check that
stops firing, or a new check that also fires (a cascade), both fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperplane_emu import spec
from hyperplane_emu.spec import SpecError

BAD = Path(__file__).resolve().parents[2] / "data" / "bad"
FILES = sorted(BAD.glob("*.yaml"))


def expected_paths(path: Path) -> set[str]:
    expects: set[str] = set()
    for raw in path.read_bytes().splitlines():
        line = raw.decode("ascii", "replace")
        if not line.startswith("#"):
            break
        if line.startswith("# expect: "):
            expects.add(line.removeprefix("# expect: ").strip())
    return expects


def test_there_are_enough_bad_files() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_file_reports_exactly_its_issues(path: Path) -> None:
    expected = expected_paths(path)
    assert expected, f"{path.name} declares no '# expect:' line"
    with pytest.raises(SpecError) as info:
        spec.load(path)
    issues = info.value.issues
    assert {issue.path for issue in issues} == expected, "\n".join(map(str, issues))
    # One issue per root cause: no path reported twice.
    assert len(issues) == len(expected), "\n".join(map(str, issues))
    for issue in issues:
        assert issue.message
        assert issue.line is None or issue.line >= 1


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validate_agrees_with_load(path: Path) -> None:
    result = spec.validate(path)
    assert not result.ok
    assert result.topology is None
    assert {issue.path for issue in result.issues} == expected_paths(path)
