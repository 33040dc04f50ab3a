"""NLB health checks: real TCP / HTTP probes from each NLB node's own address.

`python -m hyperplane_emu.services.healthcheck --state-dir DIR`

Every NLB node probes every target of every target group (AWS: "each load
balancer node checks the health of each target"), from the node's own
address, so probes cross the fabric like AWS's do: the target's security group
must admit every node's address, and the probes are visible in a capture.
A target is reported unhealthy as soon as one node finds it unhealthy, and
healthy once every node does. With proxy protocol v2 on the target group, each
probe connection starts with the LOCAL header (AWS: health checks carry the
header without client information). The HTTP check's Host header is the
target's address and health-check port. Sockets are created inside the node's
namespace (a socket keeps the namespace it was created in); the rest is one
asyncio loop. Each state change goes to the fabric over its control socket
(`set_target_health`), which steers new flows and resets the connections of a
target that turned unhealthy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

from hyperplane_emu import plan as planlib
from hyperplane_emu.fabric import control, ppv2
from hyperplane_emu.fabric.health import TargetHealth
from hyperplane_emu.plan.dns import WITHDRAWN_FILE, withdrawn
from hyperplane_emu.plan.model import Plan, PlanEni, PlanHealthCheck, PlanTarget
from hyperplane_emu.proctitle import set_process_name
from hyperplane_emu.realize.netns import socket_in
from hyperplane_emu.spec.healthchecks import matches

USER_AGENT = "ELB-HealthChecker/2.0"


async def probe(
    node: PlanEni, t: PlanTarget, hc: PlanHealthCheck, proxy: bool = False
) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    s = socket_in(node.namespace)
    s.setblocking(False)
    try:
        try:
            await asyncio.wait_for(loop.sock_connect(s, (t.ip, hc.port)), hc.timeout)
        except TimeoutError:
            return False, "Target.Timeout"
        except OSError:
            return False, "Target.FailedHealthChecks"
        local = ppv2.build_local() if proxy else b""
        if hc.protocol == "tcp":
            if local:
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(loop.sock_sendall(s, local), hc.timeout)
            return True, ""
        request = (
            local
            + (
                f"GET {hc.path} HTTP/1.1\r\nHost: {t.ip}:{hc.port}\r\n"
                f"User-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        try:
            await asyncio.wait_for(loop.sock_sendall(s, request), hc.timeout)
            head = await asyncio.wait_for(loop.sock_recv(s, 4096), hc.timeout)
        except TimeoutError:
            return False, "Target.Timeout"
        except OSError:
            return False, "Target.FailedHealthChecks"
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return False, "Target.ResponseCodeMismatch"
        if matches(hc.matcher, status):
            return True, ""
        return False, "Target.ResponseCodeMismatch"
    finally:
        s.close()


def combine(combined: TargetHealth, views: dict[str, TargetHealth]) -> bool:
    """The target's state from every node's view: unhealthy when one node says
    so, healthy when all do; True when that changed `combined`."""
    states = [v.state for v in views.values()]
    if "unhealthy" in states:
        bad = next(v for v in views.values() if v.state == "unhealthy")
        state, reason = "unhealthy", bad.reason
    elif states and all(s == "healthy" for s in states):
        state, reason = "healthy", ""
    else:
        return False
    if (state, reason) == (combined.state, combined.reason):
        return False
    combined.state, combined.reason = state, reason
    return True


class Checker:
    def __init__(self, p: Plan, state_dir: Path) -> None:
        self.plan = p
        self.sock = str(state_dir / "fabric.sock")
        self.status_file = state_dir / "health.json"
        self.withdrawn_file = state_dir / WITHDRAWN_FILE
        self.health: dict[tuple[str, str, str], TargetHealth] = {}
        # What each node thinks of each target; `health` holds the combined view.
        self.by_node: dict[tuple[str, str, str], dict[str, TargetHealth]] = {}

    def nodes(self, lb_key: str) -> list[PlanEni]:
        return [self.plan.eni(e) for e in self.plan.load_balancers[lb_key].enis]

    async def watch(self, lb_key: str, tg_name: str, t: PlanTarget, node: PlanEni) -> None:
        tg = self.plan.load_balancers[lb_key].target_groups[tg_name]
        hc = tg.health_check
        key = (lb_key, tg_name, t.id)
        h = TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold)
        self.by_node.setdefault(key, {})[node.id] = h
        combined = self.health.setdefault(
            key, TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold)
        )
        while True:
            started = time.monotonic()
            ok, reason = await probe(node, t, hc, tg.proxy_protocol_v2)
            if h.record(ok, reason) is not None and combine(combined, self.by_node[key]):
                self.report(lb_key, tg_name, t.id, combined)
            await asyncio.sleep(max(0.0, hc.interval - (time.monotonic() - started)))

    def report(self, lb_key: str, tg_name: str, target: str, h: TargetHealth) -> None:
        print(f"{lb_key} {tg_name} {target}: {h.state} {h.reason}", flush=True)
        with contextlib.suppress(control.ControlError, OSError):
            control.request(
                self.sock,
                "set_target_health",
                timeout=2.0,
                load_balancer=lb_key,
                target_group=tg_name,
                target=target,
                state=h.state,
                reason=h.reason,
            )
        snapshot = {
            f"{k[0]}|{k[1]}|{k[2]}": {"state": v.state, "reason": v.reason}
            for k, v in self.health.items()
        }
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot, sort_keys=True))
        tmp.replace(self.status_file)
        # The resolvers re-read this when it changes: AZs without a healthy target
        # leave the NLB's DNS answers.
        states = {k: v.state for k, v in self.health.items()}
        tmp = self.withdrawn_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(withdrawn(self.plan, states)))
        tmp.replace(self.withdrawn_file)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self.watch(key, tg_name, t, node))
            for key, lb in self.plan.load_balancers.items()
            if lb.kind == "nlb"  # an ALB's own process checks its targets
            for tg_name, tg in lb.target_groups.items()
            for t in tg.targets
            for node in self.nodes(key)
        ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="he-health", description=__doc__.split("\n")[0])
    ap.add_argument("--state-dir", required=True, type=Path)
    args = ap.parse_args(argv)
    set_process_name("he-health")
    p = planlib.from_json((args.state_dir / "plan.json").read_text())
    asyncio.run(Checker(p, args.state_dir).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
