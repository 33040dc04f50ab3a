"""One ALB node's view of the plan: its listeners, rules, target groups (no checks here).

The process reads `plan.json` through `plan/serialize.py`, as the fabric does;
listeners, rules and target groups are the plan's own frozen records
(`PlanAlbListener`, `PlanTargetGroup`), checked once by the spec (with YAML
paths). This module only picks the node: its address and AZ (the source of
target connections) and the ALB's enabled zones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hyperplane_emu.plan import serialize
from hyperplane_emu.plan.model import Plan, PlanAlbListener, PlanTarget, PlanTargetGroup

DEFAULT_CONNECT_TIMEOUT = 10.0  # AWS: 504 when a target does not accept within 10 s
DEFAULT_LISTEN = "0.0.0.0"


@dataclass(frozen=True)
class Node:
    """One ALB node: its ENI's address in one AZ (a source for target connections)."""

    az: str
    address: str


@dataclass(frozen=True)
class AlbConfig:
    name: str
    listeners: tuple[PlanAlbListener, ...]
    target_groups: Mapping[str, PlanTargetGroup]
    nodes: tuple[Node, ...] = ()
    idle_timeout: float = 60.0  # ALB attribute idle_timeout.timeout_seconds
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    listen_address: str = DEFAULT_LISTEN
    zones: tuple[str, ...] = ()
    """The ALB's enabled AZs (its subnets'). A process serves one node (`nodes` = that
    node) yet, cross-zone being always on, sends to targets in every enabled AZ."""
    health_checks: bool = True
    """False: no probes, every target healthy at once (tests)."""

    @property
    def enabled_azs(self) -> frozenset[str] | None:
        """`zones`, else the nodes' AZs; None when neither is given (every AZ)."""
        if self.zones:
            return frozenset(self.zones)
        return frozenset(n.az for n in self.nodes) if self.nodes else None


def target_key(t: PlanTarget) -> str:
    return f"{t.ip}:{t.port}"


def from_plan(plan: Plan, lb_key: str, node_eni: str | None) -> AlbConfig:
    lb = plan.load_balancers.get(lb_key)
    if lb is None or lb.kind != "alb":
        raise ValueError(f"plan {plan.name} has no ALB {lb_key!r}")
    nodes: tuple[Node, ...] = ()
    if node_eni is not None:
        node = plan.eni(node_eni)
        nodes = (Node(node.az, node.ip),)
    return AlbConfig(
        name=lb.name,
        listeners=lb.alb_listeners,
        target_groups=dict(lb.target_groups),
        nodes=nodes,
        idle_timeout=float(lb.idle_timeout),
        zones=tuple(sorted({plan.eni(e).az for e in lb.enis})),
    )


def load(plan_file: str | Path, lb_key: str, node_eni: str | None) -> AlbConfig:
    """Raises OSError, serialize.PlanFormatError, KeyError or ValueError."""
    return from_plan(serialize.from_json(Path(plan_file).read_text()), lb_key, node_eni)


def plan_for(cfg: AlbConfig, name: str = "local") -> tuple[Plan, str]:
    """A plan holding only this ALB (no ENIs: no source binding), and its key: for running
    the process outside a topology (tests, bench)."""
    from hyperplane_emu.plan.model import PLAN_VERSION, PlanLoadBalancer, PlanSettings

    key = f"local/{cfg.name}"
    lb = PlanLoadBalancer(
        key=key, name=cfg.name, id="0" * 16, arn=f"arn:alb/{cfg.name}", vpc="local",
        scheme="internal", dns_name=f"{cfg.name}.local", cross_zone=True, enis=(),
        listeners=(), target_groups=dict(cfg.target_groups), kind="alb",
        idle_timeout=int(cfg.idle_timeout), alb_listeners=cfg.listeners,
    )  # fmt: skip
    plan = Plan(
        version=PLAN_VERSION, name=name, region="us-east-1", accounts={}, prefix=f"he-{name}-",
        fabric_namespace=f"he-{name}-fabric", vpcs={}, hosts={}, enis=(),
        settings=PlanSettings(0, 0, 1500), load_balancers={key: lb},
    )  # fmt: skip
    return plan, key
