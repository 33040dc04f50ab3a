"""NLB target health, as a state machine fed with probe results (sans-IO).

ELB semantics (NLB guide, "Health checks for your target groups"): a newly
registered target is `initial`; `healthy_threshold` consecutive successes make
it `healthy`, `unhealthy_threshold` consecutive failures make it `unhealthy`;
from there the same counts move it back. A success breaks a failure streak and
vice versa. The probe driver (services/healthcheck.py) feeds results in and
tells the fabric about every state change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TargetHealth:
    healthy_threshold: int
    unhealthy_threshold: int
    state: str = "initial"
    reason: str = "Elb.RegistrationInProgress"
    successes: int = 0
    failures: int = 0

    def record(self, ok: bool, reason: str = "") -> str | None:
        """One probe result; returns the new state when it changed."""
        if ok:
            self.successes += 1
            self.failures = 0
            if self.state != "healthy" and self.successes >= self.healthy_threshold:
                return self._become("healthy", "")
        else:
            self.failures += 1
            self.successes = 0
            if self.state != "unhealthy" and self.failures >= self.unhealthy_threshold:
                return self._become("unhealthy", reason or "Target.FailedHealthChecks")
            if self.state == "unhealthy":
                self.reason = reason or self.reason
        return None

    def _become(self, state: str, reason: str) -> str:
        self.state = state
        self.reason = reason
        return state
