"""What is running: read from the state directory and the fabric's control socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperplane_emu import plan as planlib
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime import processes
from hyperplane_emu.runtime.lifecycle import PROCESS_TOKEN, NotUp, fabric_request
from hyperplane_emu.runtime.state import StateDir, all_state_dirs


def running(root: Path | None = None) -> list[str]:
    return [s.name for s in all_state_dirs(root) if s.plan_file.exists()]


def read_plan(name: str, root: Path | None = None) -> tuple[StateDir, Plan]:
    state = StateDir.of(name, root)
    if not state.plan_file.exists():
        up = running(root)
        hint = f" (running: {', '.join(up)})" if up else " (nothing is up)"
        raise NotUp(f"topology {name!r} is not up{hint}")
    return state, planlib.from_json(state.plan_file.read_text())


def status(name: str, root: Path | None = None) -> dict[str, Any]:
    state, p = read_plan(name, root)
    procs = []
    for pname, pid in state.read_pids().items():
        procs.append({"name": pname, "pid": pid, "alive": processes.alive(pid, PROCESS_TOKEN)})
    fabric = fabric_request(state, "status", timeout=1.0)
    fabric_proc = next((x for x in procs if x["name"] == "fabric"), None)
    present = set(Kernel().netns_list())
    health = "running"
    if fabric_proc is None or not fabric_proc["alive"]:
        health = "dead"
    elif fabric is None:
        health = "not answering"
    sgs = {sg.id: sg.name for v in p.vpcs.values() for sg in v.security_groups.values()}
    from hyperplane_emu.runtime import endpoints

    lbs_live = fabric_request(state, "load_balancers", timeout=1.0) or {}
    live_lbs = {lb["key"]: lb for lb in lbs_live.get("load_balancers", [])}
    load_balancers = []
    for key, lb in p.load_balancers.items():
        live = live_lbs.get(key, {}).get("target_groups", {})
        load_balancers.append(
            {
                "key": key,
                "name": lb.name,
                "kind": lb.kind,
                "arn": lb.arn,
                "dns_name": lb.dns_name,
                "scheme": lb.scheme,
                "cross_zone": lb.cross_zone,
                "enis": list(lb.enis),
                "security_groups": list(lb.security_groups),
                "enforce_security_group_inbound_rules_on_private_link_traffic": (
                    ("on" if lb.enforce_sg_inbound_on_privatelink else "off")
                    if lb.security_groups
                    else None
                ),
                "listeners": [
                    {"protocol": li.protocol, "port": li.port, "target_group": li.target_group}
                    for li in lb.listeners
                ],
                "target_groups": {
                    # An ALB's nodes check their targets themselves (their own logs say how).
                    name: [
                        {
                            "id": t.id,
                            "port": t.port,
                            "az": t.az,
                            "health": "by ALB nodes",
                            "reason": "",
                        }
                        for t in tg.targets
                    ]
                    if lb.kind == "alb"
                    else live.get(name)
                    or [
                        {"id": t.id, "port": t.port, "az": t.az, "health": "unknown", "reason": ""}
                        for t in tg.targets
                    ]
                    for name, tg in lb.target_groups.items()
                },
            }
        )
    return {
        "load_balancers": load_balancers,
        "endpoint_services": [
            {
                "key": s.key,
                "id": s.id,
                "service_name": s.service_name,
                "acceptance_required": s.acceptance_required,
                "load_balancer": s.load_balancer,
            }
            for s in p.endpoint_services.values()
        ],
        "endpoints": endpoints.connections(state, p),
        "apis": _apis(p, endpoints.states(state, p)),
        "name": p.name,
        "region": p.region,
        "state_dir": str(state.path),
        "fabric": {
            "health": health,
            "pid": fabric_proc["pid"] if fabric_proc else None,
            "namespace": p.fabric_namespace,
            "counters": (fabric or {}).get("counters", {}),
            "flows": (fabric or {}).get("flows"),
            # "on (kernel, N flow halves)", "off (why)"; the fabric's word, or its health
            "fast_path": (fabric or {}).get("fast_path") or f"unknown (fabric {health})",
        },
        "processes": procs,
        "vpcs": [
            {
                "name": v.name,
                "id": v.id,
                "cidr": v.cidr,
                "account": v.account_id,
                "subnets": [
                    {"name": s.name, "id": s.id, "cidr": s.cidr, "az": s.az}
                    for s in v.subnets.values()
                ],
                "security_groups": [
                    {"name": g.name, "id": g.id, "rules": len(g.rules)}
                    for g in v.security_groups.values()
                ],
            }
            for v in p.vpcs.values()
        ],
        "enis": [
            {
                "id": e.id,
                "owner": e.owner,
                "kind": e.kind,
                "vpc": e.vpc,
                "subnet": e.subnet,
                "az": e.az,
                "ip": e.ip,
                "mac": e.mac,
                "security_groups": [f"{sgs.get(g, '?')} ({g})" for g in e.security_groups],
                "namespace": e.namespace,
                "namespace_present": e.namespace in present,
                "ifname": e.ifname,
                "fabric_ifname": e.fabric_ifname,
            }
            for e in p.enis
        ],
    }


def _apis(p: Plan, ep_states: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for api in p.apis.values():
        links: list[dict[str, Any]] = []
        for lk in api.vpc_links.values():
            ep = p.endpoints[lk.endpoint]
            # AWS: PENDING until the link's endpoint connection is accepted, then AVAILABLE.
            state = ep_states.get(ep.id, ep.state)
            links.append(
                {
                    "generation": "V1",
                    "id": lk.id,
                    "name": lk.name,
                    "target": lk.target,
                    "endpoint": ep.id,
                    "status": "AVAILABLE"
                    if state == "available"
                    else "PENDING"
                    if state == "pendingAcceptance"
                    else "FAILED",
                }
            )
        for l2 in p.vpc_links_v2.values():
            if l2.api == api.id:
                links.append(
                    {
                        "generation": "V2",
                        "id": l2.id,
                        "name": l2.name,
                        "target": l2.vpc,
                        "enis": list(l2.enis),
                        "status": l2.status,
                    }
                )
        stages = list(api.stages)
        out.append(
            {
                "id": api.id,
                "name": api.name,
                "type": api.type,
                "endpoint": api.endpoint,
                "invoke_urls": [
                    f"https://{api.hostname}" + ("" if s == "$default" else f"/{s}") for s in stages
                ],
                "vpc_links": links,
            }
        )
    return out
