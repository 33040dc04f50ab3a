"""Target groups, sans-IO: ALB health transitions, round robin, fail-open, unused AZs, 503."""

from __future__ import annotations

from alb_helpers import check

from hyperplane_emu.plan.model import PlanTarget, PlanTargetGroup
from hyperplane_emu.services.alb.config import target_key
from hyperplane_emu.services.alb.targets import AlbTargetHealth, TargetGroupState

A = PlanTarget("i-a", "10.0.1.10", 8080, "us-east-1a", None)
B = PlanTarget("i-b", "10.0.2.10", 8080, "us-east-1b", None)
C = PlanTarget("i-c", "10.0.3.10", 8080, "us-east-1c", None)
CHECK = check(healthy_threshold=3, unhealthy_threshold=2)
ZONES = frozenset({"us-east-1a", "us-east-1b"})


def group(*targets: PlanTarget) -> PlanTargetGroup:
    return PlanTargetGroup("web", "arn:tg/web", 6, 8080, "ip", targets, CHECK, False, False)


def test_initial_target_is_healthy_after_one_passed_check() -> None:
    h = AlbTargetHealth(5, 2)
    assert h.state == "initial"
    assert h.record(True) == "healthy"  # ALB: one check, whatever healthy_threshold says


def test_then_thresholds_apply_both_ways() -> None:
    h = AlbTargetHealth(3, 2)
    h.record(True)
    assert h.record(False, "Target.Timeout") is None
    assert h.record(False, "Target.Timeout") == "unhealthy"
    assert h.reason == "Target.Timeout"
    assert h.record(True) is None and h.record(True) is None
    assert h.record(True) == "healthy" and h.reason == ""


def test_initial_target_failing_becomes_unhealthy() -> None:
    h = AlbTargetHealth(3, 2)
    assert h.record(False) is None
    assert h.record(False) == "unhealthy" and h.reason == "Target.FailedHealthChecks"
    assert h.record(True) is None  # now the healthy threshold (3) applies


def test_a_success_breaks_a_failure_streak() -> None:
    h = AlbTargetHealth(2, 3)
    h.record(True)
    h.record(False)
    h.record(False)
    h.record(True)
    assert h.record(False) is None and h.state == "healthy"


def test_round_robin_over_healthy_targets() -> None:
    g = TargetGroupState(group(A, B, C), None)
    for t in (A, B, C):
        g.record(target_key(t), True)
    picks = [g.choose() for _ in range(6)]
    assert [p.target for p in picks] == [A, B, C, A, B, C]
    assert {p.mode for p in picks} == {"healthy"}


def test_unhealthy_targets_are_skipped() -> None:
    g = TargetGroupState(group(A, B), None)
    g.record(target_key(A), True)
    g.record(target_key(B), True)
    g.record(target_key(B), False)
    assert g.record(target_key(B), False) == "unhealthy"
    assert {g.choose().target for _ in range(4)} == {A}


def test_fail_open_when_no_target_is_healthy() -> None:
    g = TargetGroupState(group(A, B), None)
    for t in (A, B):
        g.record(target_key(t), False)
        g.record(target_key(t), False)
    picks = [g.choose() for _ in range(4)]
    assert [p.target for p in picks] == [A, B, A, B]
    assert {p.mode for p in picks} == {"fail-open"}


def test_initial_targets_count_as_fail_open_too() -> None:
    g = TargetGroupState(group(A, B), None)
    assert g.choose().mode == "fail-open"
    g.record(target_key(B), True)
    assert {g.choose().target for _ in range(3)} == {B}


def test_targets_outside_the_alb_zones_are_unused() -> None:
    g = TargetGroupState(group(A, B, C), ZONES)
    assert [s.target for s in g.in_use] == [A, B]
    assert g.record(target_key(C), True) is None  # never checked, never counted
    described = {d["id"]: d for d in g.describe()}
    assert described["i-c"]["state"] == "unused"
    assert described["i-c"]["reason"] == "Target.NotInUse"
    assert described["i-a"]["state"] == "initial"
    assert described["i-a"]["reason"] == "Elb.InitialHealthChecking"
    assert {g.choose().target for _ in range(4)} == {A, B}


def test_no_target_in_use_means_503() -> None:
    assert TargetGroupState(group(), None).choose().target is None
    only_c = TargetGroupState(group(C), ZONES).choose()
    assert (only_c.target, only_c.mode) == (None, "no-targets")


def test_targets_without_az_are_always_in_use() -> None:
    anywhere = PlanTarget("10.9.0.1", "10.9.0.1", 80, "", None)
    g = TargetGroupState(group(anywhere), ZONES)
    assert g.choose().target == anywhere


def test_group_without_health_check_is_healthy_at_once() -> None:
    g = TargetGroupState(group(A, B), None, checked=False)
    assert g.choose().mode == "healthy"
    assert [d["state"] for d in g.describe()] == ["healthy", "healthy"]


def test_unknown_target_results_are_ignored() -> None:
    g = TargetGroupState(group(A), None)
    assert g.record("10.9.9.9:1", True) is None
