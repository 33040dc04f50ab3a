"""The NLB target health state machine."""

from __future__ import annotations

from hyperplane_emu.fabric.health import TargetHealth


def test_initial_becomes_healthy_after_the_healthy_threshold() -> None:
    h = TargetHealth(healthy_threshold=3, unhealthy_threshold=2)
    assert [h.record(True) for _ in range(3)] == [None, None, "healthy"]
    assert h.state == "healthy"


def test_failures_must_be_consecutive() -> None:
    h = TargetHealth(healthy_threshold=2, unhealthy_threshold=3)
    h.record(True)
    h.record(True)
    assert [h.record(ok) for ok in (False, False, True, False, False)] == [None] * 5
    assert h.state == "healthy"
    assert h.record(False, "Target.Timeout") == "unhealthy"
    assert h.reason == "Target.Timeout"


def test_unhealthy_recovers_after_the_healthy_threshold() -> None:
    h = TargetHealth(healthy_threshold=2, unhealthy_threshold=2)
    h.record(False)
    assert h.record(False) == "unhealthy"
    assert h.record(True) is None
    assert h.record(True) == "healthy"
    assert h.reason == ""


def test_initial_can_go_straight_to_unhealthy() -> None:
    h = TargetHealth(healthy_threshold=5, unhealthy_threshold=2)
    assert h.record(False, "Target.ResponseCodeMismatch") is None
    assert h.record(False, "Target.ResponseCodeMismatch") == "unhealthy"
