"""Starting ALB nodes: one proxy process per node (ENI), each in its own namespace.

An ALB has a node in every enabled subnet (AZ); each node here is a namespace
with the node's ENI (and its security groups, enforced by the fabric) running
`hyperplane_emu.services.alb`, which reads the ALB's listeners, rules and target
groups from plan.json.
Targets therefore see the node's private address as the source, as on AWS.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hyperplane_emu.plan.model import Plan
from hyperplane_emu.runtime.state import PLAN_FILE


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
            ready = d / f"{name}.ready"
            # The node reads plan.json itself (plan/serialize.py), as the fabric does.
            argv = [
                sys.executable,
                "-m",
                "hyperplane_emu.services.alb",
                "--plan",
                str(state_dir / PLAN_FILE),
                "--load-balancer",
                lb.key,
                "--node",
                eni_id,
                "--ready-file",
                str(ready),
                "--name",
                f"he-alb-{lb.name}"[:15],
            ]
            out.append((name, argv, node.namespace, ready))
    return out
