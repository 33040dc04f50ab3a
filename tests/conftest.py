"""Suite-wide rules: root-only tests, the root-namespace guard, no silent skips.

- `@pytest.mark.root` tests are skipped when not running as root.
- As root, the root network namespace is snapshotted before the suite and must
  be identical after it (addresses, routes, rules, nft ruleset, forwarding
  sysctls), with no new `he-*` namespace or link left (see rootns_guard.py).
- With HE_REQUIRE_ROOT_TESTS=1 (set by scripts/test), running as root, a root
  test that was skipped anyway fails the session: CI must not go green because
  the end-to-end tests quietly did not run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import rootns_guard

ROOT_SKIP_REASON = "needs root (run sudo scripts/test)"
REQUIRE_ENV = "HE_REQUIRE_ROOT_TESTS"

_skipped_root_tests: list[str] = []


def is_root() -> bool:
    return os.geteuid() == 0


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
    if _skipped_root_tests and _root_skips_forbidden():
        terminalreporter.section("root tests skipped while running as root", red=True)
        for nodeid in _skipped_root_tests:
            terminalreporter.line(nodeid)
        terminalreporter.line(
            f"{REQUIRE_ENV}=1: every @pytest.mark.root test must run; this session fails."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_root_tests and _root_skips_forbidden() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def root_namespace_untouched() -> Iterator[None]:
    """As root: fail if the suite changed the root namespace or left `he-*` objects."""
    if not is_root():
        yield
        return
    before = rootns_guard.take()
    yield
    changes = rootns_guard.differences(before, rootns_guard.take())
    assert not changes, "the test suite changed the root namespace:\n" + "\n".join(changes)
