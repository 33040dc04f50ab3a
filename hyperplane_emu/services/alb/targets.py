"""Target groups at run time (sans-IO): health state per target and target choice.

ALB semantics (ALB guide "Health checks for Application Load Balancer target
groups", "Troubleshoot": 503; routing algorithm round_robin by default):
- a target in an AZ the ALB has no node in is `unused`: not checked, never chosen;
- a newly registered target is `initial` and becomes `healthy` after passing one
  health check; from then on `unhealthy_threshold` consecutive failures make it
  `unhealthy` and `healthy_threshold` consecutive successes make it healthy
  again (`fabric.health.TargetHealth`);
- requests go round robin over the healthy targets; when none is healthy the
  ALB *fails open* and spreads requests over every target (AWS documents this
  for all-unhealthy groups; the emulator also counts `initial` targets in, so a
  freshly started ALB does not refuse its first requests);
- a group with no target in use answers 503 ("the target groups for the load
  balancer have no registered targets").
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperplane_emu.fabric.health import TargetHealth
from hyperplane_emu.plan.model import PlanTarget, PlanTargetGroup
from hyperplane_emu.services.alb.config import target_key


class AlbTargetHealth(TargetHealth):
    """`TargetHealth` with the ALB's first step: one passed check makes an initial
    target healthy (the thresholds apply to later transitions)."""

    def record(self, ok: bool, reason: str = "") -> str | None:
        if self.state == "initial" and ok:
            self.successes += 1
            self.failures = 0
            return self._become("healthy", "")
        return super().record(ok, reason)


@dataclass
class TargetState:
    target: PlanTarget
    health: AlbTargetHealth
    in_use: bool  # False: in an AZ without an ALB node ("unused")

    def describe(self) -> dict[str, object]:
        state = self.health.state if self.in_use else "unused"
        reason = self.health.reason if self.in_use else "Target.NotInUse"
        return {
            "id": self.target.id,
            "ip": self.target.ip,
            "port": self.target.port,
            "az": self.target.az,
            "state": state,
            "reason": reason,
        }


@dataclass(frozen=True)
class Choice:
    """The chosen target (None: answer 503) and how the choice was made."""

    target: PlanTarget | None
    mode: str  # "healthy" | "fail-open" | "no-targets"


class TargetGroupState:
    """One target group's targets, their health and the round-robin position."""

    def __init__(
        self, group: PlanTargetGroup, enabled_azs: frozenset[str] | None, checked: bool = True
    ) -> None:
        self.group = group
        self.checked = checked  # False: no health checks, every target healthy at once
        check = group.health_check if checked else None
        self.states: list[TargetState] = []
        for target in group.targets:
            health = AlbTargetHealth(
                check.healthy_threshold if check else 1,
                check.unhealthy_threshold if check else 1,
            )
            if check is None:  # no checks: healthy from the start
                health.state, health.reason = "healthy", ""
            else:
                health.reason = "Elb.InitialHealthChecking"
            in_use = enabled_azs is None or not target.az or target.az in enabled_azs
            self.states.append(TargetState(target, health, in_use))
        self._by_key = {target_key(s.target): s for s in self.states}
        self._next = 0

    @property
    def in_use(self) -> list[TargetState]:
        return [s for s in self.states if s.in_use]

    def choose(self) -> Choice:
        candidates = self.in_use
        if not candidates:
            return Choice(None, "no-targets")
        healthy = [s for s in candidates if s.health.state == "healthy"]
        mode = "healthy" if healthy else "fail-open"
        pool = healthy or candidates
        state = pool[self._next % len(pool)]
        self._next = (self._next + 1) % (1 << 30)
        return Choice(state.target, mode)

    def record(self, key: str, ok: bool, reason: str = "") -> str | None:
        """A health-check result for target `ip:port`; the new state when it changed."""
        state = self._by_key.get(key)
        if state is None or not state.in_use:
            return None
        return state.health.record(ok, reason)

    def describe(self) -> list[dict[str, object]]:
        """Like DescribeTargetHealth: every registered target with state and reason."""
        return [s.describe() for s in self.states]
