"""ALB health checks: one HTTP probe loop per target in use, results fed to `targets`.

Each probe opens a connection from the ALB node in the target's AZ (the first
node when that AZ has none; no binding when the config names no nodes), sends
`GET <path>` with `User-Agent: ELB-HealthChecker/2.0` and `Connection: close`,
and counts the target healthy when the status is one of the matcher's codes
within the timeout. Probes start at once and then every `interval` seconds,
whatever the previous one took ("each health check request is independent and
the result lasts for the entire interval"). Reasons follow AWS's codes:
Target.Timeout, Target.FailedHealthChecks (refused, reset),
Target.ResponseCodeMismatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from hyperplane_emu.plan.model import PlanHealthCheck, PlanTarget
from hyperplane_emu.services.alb.config import target_key
from hyperplane_emu.services.alb.targets import TargetGroupState
from hyperplane_emu.spec.healthchecks import matches

log = logging.getLogger("hyperplane_emu.alb")

USER_AGENT = "ELB-HealthChecker/2.0"
_MAX_STATUS_LINE = 8192

SourceFor = Callable[[PlanTarget], str | None]


async def probe(target: PlanTarget, check: PlanHealthCheck, source: str | None) -> tuple[bool, str]:
    """One health check; (passed, AWS reason code when it failed)."""
    port = check.port or target.port
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(check.timeout):
            reader, writer = await asyncio.open_connection(
                target.ip, port, local_addr=(source, 0) if source else None
            )
            writer.write(
                f"GET {check.path} HTTP/1.1\r\nHost: {target.ip}:{port}\r\n"
                f"User-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n".encode()
            )
            line = await reader.readline()
    except TimeoutError:
        return False, "Target.Timeout"
    except OSError:
        return False, "Target.FailedHealthChecks"
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    parts = line[:_MAX_STATUS_LINE].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return False, "Target.FailedHealthChecks"
    if not matches(check.matcher, int(parts[1])):
        return False, "Target.ResponseCodeMismatch"
    return True, ""


class HealthChecker:
    """Probe loops for every target in use of every group that has a health check."""

    def __init__(self, groups: dict[str, TargetGroupState], source_for: SourceFor) -> None:
        self.groups = groups
        self.source_for = source_for
        self.probes = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for name, group in self.groups.items():
            if not group.checked:
                continue
            check = group.group.health_check
            for state in group.in_use:
                task = asyncio.create_task(self._loop(name, group, state.target, check))
                self._tasks.append(task)

    async def _loop(
        self, name: str, group: TargetGroupState, target: PlanTarget, check: PlanHealthCheck
    ) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        source = self.source_for(target)
        while True:
            ok, reason = await probe(target, check, source)
            self.probes += 1
            changed = group.record(target_key(target), ok, reason)
            if changed is not None:
                log.info("target group %s: %s is %s %s", name, target_key(target), changed, reason)
            due += check.interval
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
