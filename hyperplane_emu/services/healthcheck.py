"""NLB health checks: real TCP / HTTP probes from each NLB node's own address.

`python -m hyperplane_emu.services.healthcheck --state-dir DIR`

For every target of every NLB target group, probes leave from the NLB node
(ENI) in the target's AZ, or the first node when that AZ has none, so they
cross the fabric like AWS's do: the target's security group must admit the
NLB's address, and the probes are visible in a capture. Sockets are created
inside the node's namespace (a socket keeps the namespace it was created in);
the rest is one asyncio loop. Each state change goes to the fabric over its
control socket (`set_target_health`), which then steers new flows.
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
from hyperplane_emu.fabric import control
from hyperplane_emu.fabric.health import TargetHealth
from hyperplane_emu.plan.model import Plan, PlanEni, PlanHealthCheck, PlanTarget
from hyperplane_emu.proctitle import set_process_name
from hyperplane_emu.realize.netns import socket_in
from hyperplane_emu.spec.healthchecks import matches

USER_AGENT = "ELB-HealthChecker/2.0"


async def probe(node: PlanEni, t: PlanTarget, hc: PlanHealthCheck) -> tuple[bool, str]:
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
        if hc.protocol == "tcp":
            return True, ""
        request = (
            f"GET {hc.path} HTTP/1.1\r\nHost: {t.ip}:{hc.port}\r\n"
            f"User-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
        ).encode()
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


class Checker:
    def __init__(self, p: Plan, state_dir: Path) -> None:
        self.plan = p
        self.sock = str(state_dir / "fabric.sock")
        self.status_file = state_dir / "health.json"
        self.health: dict[tuple[str, str, str], TargetHealth] = {}

    def node_for(self, lb_key: str, az: str) -> PlanEni:
        lb = self.plan.load_balancers[lb_key]
        nodes = [self.plan.eni(e) for e in lb.enis]
        return next((n for n in nodes if n.az == az), nodes[0])

    async def watch(self, lb_key: str, tg_name: str, t: PlanTarget) -> None:
        tg = self.plan.load_balancers[lb_key].target_groups[tg_name]
        hc = tg.health_check
        h = TargetHealth(hc.healthy_threshold, hc.unhealthy_threshold)
        self.health[(lb_key, tg_name, t.id)] = h
        node = self.node_for(lb_key, t.az)
        while True:
            started = time.monotonic()
            ok, reason = await probe(node, t, hc)
            if h.record(ok, reason) is not None:
                self.report(lb_key, tg_name, t.id, h)
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

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self.watch(key, tg_name, t))
            for key, lb in self.plan.load_balancers.items()
            if lb.kind == "nlb"  # an ALB's own process checks its targets
            for tg_name, tg in lb.target_groups.items()
            for t in tg.targets
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
