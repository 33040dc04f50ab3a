"""scripts/test runs `-n 2 --dist loadgroup`: every end-to-end test must stay in one
xdist group (one worker, one after the other), or topologies of two e2e tests would
meet (a `clean` in one removes the other's). A child suite with the real
tests/conftest.py proves the e2e tests share a worker while others spread."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

RECORD = """
import os, time

def _record(name):
    time.sleep(0.2)  # long enough for both workers to take work
    with open(os.environ["GROUP_LOG"], "a") as f:
        f.write(f"{{name}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")

{tests}
"""


def _module(prefix: str, n: int) -> str:
    tests = "\n".join(f"def test_{prefix}{i}():\n    _record('{prefix}{i}')\n" for i in range(n))
    return RECORD.format(tests=tests)


def test_e2e_tests_run_on_one_worker_and_the_rest_spread(tmp_path: Path) -> None:
    for name in ("conftest.py", "rootns_guard.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    root: needs root\n")
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "test_a.py").write_text(_module("a", 3))
    (tmp_path / "e2e" / "test_b.py").write_text(_module("b", 3))
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_u.py").write_text(_module("u", 6))
    log = tmp_path / "groups.log"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "-n", "2", "--dist", "loadgroup"],
        cwd=tmp_path, env={"GROUP_LOG": str(log), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ran = dict(line.split() for line in log.read_text().splitlines())
    assert len(ran) == 12
    assert len({w for t, w in ran.items() if t[0] in "ab"}) == 1, ran  # one group, one worker
    assert {w for t, w in ran.items()} == {"gw0", "gw1"}, ran  # the others use both
