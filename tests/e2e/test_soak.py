"""The fast versions of scripts/soak: each check must be able to fail."""

from __future__ import annotations

import pytest

from hyperplane_emu.soak import checks

pytestmark = pytest.mark.root


def test_every_bad_file_fails_cleanly_and_changes_nothing() -> None:
    r = checks.bad_files()
    assert r["bad_files"] >= 200
    assert r["bad_files_failed_cleanly"] == r["bad_files"], r["bad_files_problems"]
    assert not r["host_changed"]


def test_fuzzed_frames_never_raise_nor_emit_malformed_frames() -> None:
    r = checks.fuzz(20_000, seed=7)
    assert r["fuzz_exceptions"] == 0 and r["fuzz_malformed"] == 0
    assert r["fuzz_emitted"] > 0  # the mutations still leave forwardable frames


def test_up_down_cycles_leave_nothing() -> None:
    r = checks.cycles(2, lambda _: None)
    assert r["leaks"] == 0, r["leak_examples"]


def test_faults_are_reported_and_cleaned() -> None:
    r = checks.faults(lambda _: None)
    assert r["traffic_before"] and r["status_after_kill"] == "dead"
    assert not r["traffic_after_kill"] and r["down_errors"] == 0 and r["leaks_after_kill"] == 0
    assert r["up_again"] and r["status_service_killed"]


def test_concurrent_connections_through_privatelink_echo_every_byte() -> None:
    r = checks.load(100, lambda _: None)
    assert r["connections_verified"] == r["connections"] == 100
