"""Suite-wide rules: root-only tests, the root-namespace guard, no silent skips.

- `@pytest.mark.root` tests are skipped when not running as root.
- As root, the root network namespace is snapshotted before the suite and must
  be identical after it (addresses, routes, rules, nft ruleset, forwarding
  sysctls), with no new `he-*` namespace or link left (see rootns_guard.py).
- With HE_REQUIRE_ROOT_TESTS=1 (set by scripts/test), running as root, a root
  test that was skipped anyway fails the session: CI must not go green because
  the end-to-end tests quietly did not run.
- Under pytest-xdist (scripts/test runs `-n 2 --dist loadgroup`): every end-to-end
  test is in one group, so they run one after the other on one worker while the
  unit tests use the other core; the guard runs in the controller, around all
  workers, since one worker's snapshot would see the other's topologies.
"""

from __future__ import annotations

import os

import pytest
import rootns_guard

ROOT_SKIP_REASON = "needs root (run sudo scripts/test)"
REQUIRE_ENV = "HE_REQUIRE_ROOT_TESTS"

_skipped_root_tests: list[str] = []


def is_root() -> bool:
    return os.geteuid() == 0


def pytest_itemcollected(item: pytest.Item) -> None:
    # As each item is collected: xdist reads the group marks in its own
    # pytest_collection_modifyitems, which may run before any of ours.
    if "e2e" in item.path.parts:
        item.add_marker(pytest.mark.xdist_group("e2e"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if is_root():
        return
    skip = pytest.mark.skip(reason=ROOT_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("root") is not None:
            item.add_marker(skip)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure (xfail) is reported as skipped too; it is not a skip.
    if report.skipped and "root" in report.keywords and not hasattr(report, "wasxfail"):
        _skipped_root_tests.append(report.nodeid)


def _root_skips_forbidden() -> bool:
    return is_root() and os.environ.get(REQUIRE_ENV) == "1"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    changes = terminalreporter.config.stash.get(_CHANGES, [])
    if changes:
        terminalreporter.section("the test suite changed the root namespace", red=True)
        for line in changes:
            terminalreporter.line(line)
    if _skipped_root_tests and _root_skips_forbidden():
        terminalreporter.section("root tests skipped while running as root", red=True)
        for nodeid in _skipped_root_tests:
            terminalreporter.line(nodeid)
        terminalreporter.line(
            f"{REQUIRE_ENV}=1: every @pytest.mark.root test must run; this session fails."
        )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


_GUARD = pytest.StashKey[rootns_guard.RootNsSnapshot]()
_CHANGES = pytest.StashKey[list[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """As root: snapshot the root namespace before any test (controller or plain run)."""
    if is_root() and not _is_worker(session.config):
        session.config.stash[_GUARD] = rootns_guard.take()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_root_tests and _root_skips_forbidden() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    before = session.config.stash.get(_GUARD, None)
    if before is not None:
        # Fail if the suite changed the root namespace or left `he-*` objects.
        changes = rootns_guard.differences(before, rootns_guard.take())
        session.config.stash[_CHANGES] = changes
        if changes:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
