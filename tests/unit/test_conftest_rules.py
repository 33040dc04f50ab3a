"""The suite-wide rules of tests/conftest.py, checked by running pytest on a tiny suite.

Each case runs a child pytest in a temporary directory holding copies of
tests/conftest.py and tests/rootns_guard.py, so the hooks under test are the
real ones. The non-root case drops privileges with setpriv when we are root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import rootns_guard

TESTS = Path(__file__).resolve().parents[1]

SUITE = """
import pytest

@pytest.mark.root
def test_needs_root():
    pytest.skip("pretend a tool is missing")

def test_plain():
    assert True
"""


def _child_suite(tmp_path: Path) -> Path:
    for name in ("conftest.py", "rootns_guard.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    root: needs root\n")
    (tmp_path / "test_child.py").write_text(SUITE)
    tmp_path.chmod(0o755)
    return tmp_path


def _run(
    suite: Path, env_extra: dict[str, str], prefix: list[str] | None = None
) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "HE_REQUIRE_ROOT_TESTS"} | env_extra
    argv = [*(prefix or []), sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q"]
    done = subprocess.run(
        argv, cwd=suite, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the rule applies only when running as root")
def test_skipped_root_test_fails_the_session_when_required(tmp_path: Path) -> None:
    rc, out = _run(_child_suite(tmp_path), {"HE_REQUIRE_ROOT_TESTS": "1"})
    assert rc == 1, out
    assert "root tests skipped while running as root" in out
    assert "test_child.py::test_needs_root" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="the rule applies only when running as root")
def test_skipped_root_test_is_only_a_skip_without_the_requirement(tmp_path: Path) -> None:
    rc, out = _run(_child_suite(tmp_path), {})
    assert rc == 0, out
    assert "1 passed, 1 skipped" in out


def test_root_tests_are_skipped_with_the_reason_when_not_root() -> None:
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop root")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    # pytest's tmp_path lives under a 0700 directory of root's: the unprivileged
    # child could not read it.
    with tempfile.TemporaryDirectory(prefix="he-conftest-") as tmp:
        # Not root, the requirement does not apply: the skip stays a skip.
        rc, out = _run(_child_suite(Path(tmp)), {"HE_REQUIRE_ROOT_TESTS": "1"}, prefix)
    assert rc == 0, out
    assert "needs root (run sudo scripts/test)" in out


def _snapshot(**changes: object) -> rootns_guard.RootNsSnapshot:
    base = {
        "addresses": frozenset({(("IFA_ADDRESS", "'127.0.0.1'"), ("index", "1"))}),
        "routes": frozenset({(("RTA_GATEWAY", "'192.0.2.1'"), ("table", "254"))}),
        "rules": frozenset({(("FRA_TABLE", "255"),)}),
        "nft_ruleset": "",
        "sysctls": {name: "0" for name in rootns_guard.SYSCTLS},
        "he_netns": frozenset(),
        "he_links": frozenset(),
    }
    return rootns_guard.RootNsSnapshot(**(base | changes))  # type: ignore[arg-type]


def test_guard_sees_no_difference_between_equal_snapshots() -> None:
    assert rootns_guard.differences(_snapshot(), _snapshot()) == []


def test_guard_reports_each_kind_of_change() -> None:
    after = _snapshot(
        routes=frozenset({(("RTA_GATEWAY", "'192.0.2.9'"), ("table", "254"))}),
        nft_ruleset="table inet he-x {\n}\n",
        sysctls={**{n: "0" for n in rootns_guard.SYSCTLS}, "net.ipv4.ip_forward": "1"},
        he_netns=frozenset({"he-shop-client"}),
        he_links=frozenset({"he-shop-a1"}),
    )
    text = "\n".join(rootns_guard.differences(_snapshot(), after))
    assert "added route RTA_GATEWAY='192.0.2.9'" in text
    assert "removed route RTA_GATEWAY='192.0.2.1'" in text
    assert "nft ruleset changed" in text
    assert "sysctl net.ipv4.ip_forward: 0 -> 1" in text
    assert "network namespace he-shop-client left behind" in text
    assert "link he-shop-a1 left in the root namespace" in text


def test_guard_ignores_namespaces_that_were_there_before() -> None:
    before = _snapshot(he_netns=frozenset({"he-old-x"}))
    assert rootns_guard.differences(before, _snapshot(he_netns=frozenset({"he-old-x"}))) == []


def test_guard_entry_drops_kernel_counters() -> None:
    msg = {
        "family": 2,
        "index": 1,
        "attrs": [("IFA_ADDRESS", "10.0.0.1"), ("IFA_CACHEINFO", {"tstamp": 5})],
    }
    later = {**msg, "attrs": [("IFA_ADDRESS", "10.0.0.1"), ("IFA_CACHEINFO", {"tstamp": 9})]}
    fields, attrs = ("family", "index"), ("IFA_ADDRESS",)
    assert rootns_guard.entry(msg, fields, attrs) == rootns_guard.entry(later, fields, attrs)
