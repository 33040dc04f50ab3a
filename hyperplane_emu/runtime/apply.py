"""`apply FILE`: change a running topology in place, where AWS changes things live.

What can change without `down`/`up`: security-group rules (pushed to the fabric;
tracked flows survive, as AWS documents), API definitions (routes, stages,
policies, integrations: the API Gateway data plane reloads its config), and
Cloud Map instance health and attributes (API Gateway's discovery and the VPC
resolvers reload), as long as they leave each HTTP API integration reaching the
same instances: one more instance behind a VPC link would need a front port the
running fabric was never given. Anything else (VPCs, subnets, hosts, load
balancers, endpoints...) would move addresses and ids: `apply` refuses and names
what differs.

`diff(old, new)` decides all of that from the two plans alone (pure, unit-tested);
`apply` then pushes the changes to the running processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from typing import Any

from yaml.nodes import MappingNode, Node

from hyperplane_emu import plan as planlib
from hyperplane_emu.plan.model import Plan, PlanNetworkAcl, PlanSecurityGroup
from hyperplane_emu.runtime import processes
from hyperplane_emu.runtime.lifecycle import (
    PROCESS_TOKEN,
    RuntimeFailure,
    fabric_request,
    load_plan,
    write_zones,
)
from hyperplane_emu.runtime.state import StateDir
from hyperplane_emu.runtime.status import read_plan
from hyperplane_emu.spec.errors import SpecError, SpecIssue
from hyperplane_emu.spec.yamltree import line_of, parse


@dataclasses.dataclass(frozen=True)
class PlanChanges:
    """What differs between the running plan and a new one, and whether `apply` may do it."""

    refused: tuple[str, ...]
    """Plan paths that need `down` then `up` (`vpcs.shop.subnets.a.cidr`…); empty: live."""
    security_groups: tuple[tuple[str, PlanSecurityGroup], ...]
    """(VPC name, new group) for every group whose rules changed, in plan order."""
    apis: bool
    cloud_map: bool
    """Cloud Map instances or VPC-link (v2) targets changed: discovery reloads."""
    network_acls: tuple[tuple[str, PlanNetworkAcl], ...] = ()
    """(VPC name, new ACL) for every network ACL whose rules changed."""

    @property
    def live(self) -> bool:
        return not self.refused

    def refusal(self) -> str:
        shown = ", ".join(self.refused[:6])
        more = len(self.refused) - 6
        return (
            "these changes need `down` then `up` (they move addresses or ids): "
            + shown
            + (f" and {more} more" if more > 0 else "")
        )


def diff(old: Plan, new: Plan) -> PlanChanges:
    """Compare two plans of the same topology (pure: no state, no processes)."""
    old_groups = {g.id: g for v in old.vpcs.values() for g in v.security_groups.values()}
    old_acls = {a.id: a for v in old.vpcs.values() for a in v.network_acls.values()}
    return PlanChanges(
        refused=tuple(_differences(_structure(old), _structure(new))),
        security_groups=tuple(
            (v.name, g)
            for v in new.vpcs.values()
            for g in v.security_groups.values()
            if old_groups.get(g.id) != g
        ),
        apis=old.apis != new.apis,
        cloud_map=old.cloud_map != new.cloud_map or old.vpc_links_v2 != new.vpc_links_v2,
        network_acls=tuple(
            (v.name, a)
            for v in new.vpcs.values()
            for a in v.network_acls.values()
            if old_acls.get(a.id) != a
        ),
    )


@dataclasses.dataclass
class ApplyReport:
    security_groups: list[str] = dataclasses.field(default_factory=list)
    network_acls: list[str] = dataclasses.field(default_factory=list)
    apis: bool = False
    cloud_map: bool = False

    def lines(self) -> list[str]:
        out = [f"security group {g}: rules replaced" for g in self.security_groups]
        out += [f"network ACL {a}: rules replaced" for a in self.network_acls]
        if self.apis:
            out.append("API Gateway: configuration reloaded")
        if self.cloud_map:
            out.append("Cloud Map: instances reloaded (API Gateway, resolvers)")
        return out or ["nothing to change"]


def _structure(p: Plan) -> dict[str, Any]:
    """The plan without what `apply` may change."""
    raw = json.loads(planlib.to_json(p))
    for v in raw["vpcs"].values():
        for g in v["security_groups"].values():
            g["rules"] = []
        # ACL rules change live; subnet associations are structure.
        for a in v.get("network_acls", {}).values():
            a["entries"] = []
    raw["apis"] = {}
    raw["source"] = ""
    for svc in raw.get("cloud_map", {}).get("services", {}).values():
        for inst in svc["instances"].values():
            inst["health"] = ""
            inst["attributes"] = {}
    for link in raw.get("vpc_links_v2", {}).values():
        for t in link["targets"]:
            t["healthy"] = True
            t["attributes"] = {}
    return raw


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    return [] if a == b else [path or "(plan)"]


def nlb_groups_added(old: Plan, new: Plan, text: str | bytes = b"") -> list[SpecIssue]:
    """NLBs that had no security groups and get some: AWS refuses (SetSecurityGroups:
    "You can't perform this operation on a Network Load Balancer unless you specified
    a security group for the load balancer when you created it",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetSecurityGroups.html).
    `text` is the new file, for the line of each key."""
    issues = []
    for key, lb in new.load_balancers.items():
        before = old.load_balancers.get(key)
        if lb.kind != "nlb" or before is None or before.security_groups or not lb.security_groups:
            continue
        vpc, name = key.split("/", 1)
        path = ("vpcs", vpc, "load_balancers", name, "security_groups")
        issues.append(
            SpecIssue(
                ".".join(path),
                f"network load balancer {name!r} was created without security groups; AWS "
                "cannot add them to it later (SetSecurityGroups). Recreate it with its "
                "groups: `down` then `up`",
                _line(text, path),
            )
        )
    return issues


def _line(text: str | bytes, path: tuple[str, ...]) -> int | None:
    doc = parse(text) if text else None
    node: Node | None = doc.root if doc is not None else None
    key_node: Node | None = None
    for key in path:
        if not isinstance(node, MappingNode):
            return None
        found = [(k, v) for k, v in node.value if getattr(k, "value", None) == key]
        if not found:
            return None
        key_node, node = found[0]
    return line_of(key_node) if key_node is not None else None


def apply(name: str, source: str | os.PathLike[str] | Plan) -> ApplyReport:
    """`source`: a topology file, or a plan already built (the Python API's dicts)."""
    state, old = read_plan(name)
    new = source if isinstance(source, Plan) else load_plan(source)
    where = new.source if isinstance(source, Plan) else os.fspath(source)
    if new.name != old.name:
        raise RuntimeFailure(f"{where} describes {new.name!r}, not {name!r}")
    text = b""
    if not isinstance(source, Plan):
        with open(source, "rb") as f:
            text = f.read()
    refused = nlb_groups_added(old, new, text)
    if refused:
        raise SpecError(refused, where)
    changes = diff(old, new)
    if not changes.live:
        raise RuntimeFailure(changes.refusal())
    report = ApplyReport()
    for vpc, g in changes.security_groups:
        answer = fabric_request(state, "replace_sg", timeout=3.0, sg=dataclasses.asdict(g))
        if answer is None or not answer.get("ok"):
            raise RuntimeFailure(f"the fabric refused {g.id}: {answer}")
        report.security_groups.append(f"{vpc}/{g.name} ({g.id})")
    for vpc, a in changes.network_acls:
        answer = fabric_request(state, "replace_nacl", timeout=3.0, acl=dataclasses.asdict(a))
        if answer is None or not answer.get("ok"):
            raise RuntimeFailure(f"the fabric refused {a.id}: {answer}")
        ended = answer.get("flows_ended", 0)
        report.network_acls.append(f"{vpc}/{a.name} ({a.id}; {ended} flows ended)")
    report.apis = changes.apis
    report.cloud_map = changes.cloud_map
    (state.plan_file.with_suffix(".tmp")).write_text(planlib.to_json(new))
    state.plan_file.with_suffix(".tmp").replace(state.plan_file)
    if (report.apis or report.cloud_map) and new.api_gateway is not None:
        _reload_api_gateway(state, new)
    if report.cloud_map or report.apis:
        # APIs own DNS names too: a private API's <api-id>-<vpce-id> aliases follow
        # its vpc_endpoint_ids (plan/dns.py).
        _reload_resolvers(state, new)
    return report


def _hup(state: StateDir, name: str) -> None:
    pid = state.read_pids().get(name)
    if pid is not None and processes.alive(pid, PROCESS_TOKEN):
        os.kill(pid, signal.SIGHUP)


def _reload_api_gateway(state: StateDir, p: Plan) -> None:
    del p  # the data plane rereads plan.json, already replaced
    _hup(state, "apigateway")


def _reload_resolvers(state: StateDir, p: Plan) -> None:
    for vname in write_zones(p, state):
        _hup(state, f"dns-{vname}")
