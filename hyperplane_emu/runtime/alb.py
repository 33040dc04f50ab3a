"""Starting ALB nodes: one proxy process per node (ENI), each in its own namespace.

An ALB has a node in every enabled subnet (AZ); each node here is a namespace
with the node's ENI (and its security groups, enforced by the fabric) running
`hyperplane_emu.services.alb` with the ALB's listeners, rules and target groups.
Targets therefore see the node's private address as the source, as on AWS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hyperplane_emu.plan.model import Plan, PlanLoadBalancer


def _action(a: dict[str, Any]) -> dict[str, Any]:
    if a["type"] == "forward":
        return {"forward": a["target_group"]}
    return {
        "fixed_response": {
            "status": a["status"],
            "body": a["body"],
            "content_type": a["content_type"],
        }
    }


def config(p: Plan, lb: PlanLoadBalancer, node_eni: str) -> dict[str, Any]:
    node = p.eni(node_eni)
    return {
        "name": lb.name,
        "idle_timeout": lb.idle_timeout,
        # This process is one node; the ALB's enabled zones decide which targets are
        # in use (an ALB balances across zones; a target elsewhere is "unused").
        "nodes": [{"az": node.az, "address": node.ip}],
        "zones": sorted({p.eni(e).az for e in lb.enis}),
        "listeners": [
            {
                "port": li["port"],
                "protocol": li["protocol"],
                "default_action": _action(li["default_action"]),
                "rules": [
                    {
                        "priority": r["priority"],
                        "conditions": {k: v for k, v in r["conditions"].items() if v},
                        "action": _action(r["action"]),
                    }
                    for r in li["rules"]
                ],
            }
            for li in lb.alb_listeners
        ],
        "target_groups": {
            name: {
                "port": tg.port,
                "targets": [
                    {"ip": t.ip, "port": t.port, "az": t.az, "id": t.id} for t in tg.targets
                ],
                "health_check": {
                    "path": tg.health_check.path,
                    "port": tg.health_check.port,
                    "interval": tg.health_check.interval,
                    "timeout": tg.health_check.timeout,
                    "healthy_threshold": tg.health_check.healthy_threshold,
                    "unhealthy_threshold": tg.health_check.unhealthy_threshold,
                    "matcher": tg.health_check.matcher,
                },
            }
            for name, tg in lb.target_groups.items()
        },
    }


def prepare(p: Plan, state_dir: Path) -> list[tuple[str, list[str], str, Path]]:
    """(process name, argv, namespace, ready file) for every ALB node."""
    out = []
    d = state_dir / "alb"
    for lb in p.load_balancers.values():
        if lb.kind != "alb":
            continue
        d.mkdir(mode=0o700, exist_ok=True)
        for eni_id in lb.enis:
            node = p.eni(eni_id)
            name = f"alb-{lb.name}-{node.subnet}"
            cfg = d / f"{name}.json"
            cfg.write_text(json.dumps(config(p, lb, eni_id), indent=2, sort_keys=True))
            ready = d / f"{name}.ready"
            argv = [
                sys.executable,
                "-m",
                "hyperplane_emu.services.alb",
                "--config",
                str(cfg),
                "--ready-file",
                str(ready),
                "--name",
                f"he-alb-{lb.name}"[:15],
            ]
            out.append((name, argv, node.namespace, ready))
    return out
