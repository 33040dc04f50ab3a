"""Endpoint connection states at run time: accept and reject, as a provider does.

The plan holds each connection's state at `up` (pendingAcceptance when the
service requires acceptance, else available); later decisions live in
`endpoints.json` in the state directory and are pushed to the fabric, which
gates traffic on them. AWS: a provider accepts a pending connection, and can
reject a pending or an available one; rejecting cuts the traffic.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hyperplane_emu.plan.model import Plan, PlanEndpoint
from hyperplane_emu.runtime.lifecycle import RuntimeFailure, fabric_request
from hyperplane_emu.runtime.state import StateDir

ALLOWED_FROM = {"accept": ("pendingAcceptance",), "reject": ("pendingAcceptance", "available")}


def _file(state: StateDir) -> Any:
    return state.path / "endpoints.json"


def states(state: StateDir, p: Plan) -> dict[str, str]:
    """Endpoint id -> current connection state."""
    current: dict[str, str] = {ep.id: ep.state for ep in p.endpoints.values()}
    with contextlib.suppress(FileNotFoundError):
        current.update(json.loads(_file(state).read_text()))
    return current


def find(p: Plan, text: str) -> PlanEndpoint:
    for ep in p.endpoints.values():
        if text in (ep.id, ep.key, ep.name):
            return ep
    known = ", ".join(f"{ep.key} ({ep.id})" for ep in p.endpoints.values()) or "none"
    raise RuntimeFailure(f"{p.name} has no endpoint {text!r}; endpoints: {known}")


def connections(state: StateDir, p: Plan) -> list[dict[str, Any]]:
    now = states(state, p)
    out = []
    for ep in p.endpoints.values():
        svc = p.endpoint_services.get(ep.service)
        out.append(
            {
                "endpoint": ep.id,
                "name": ep.key,
                "service": svc.id if svc else ep.service,
                "service_name": ep.service_name,
                "consumer_account": ep.account_id,
                "provider_account": svc.account_id if svc else "API Gateway",
                "state": now[ep.id],
                "dns_names": list(ep.dns_names),
                "private_dns_names": list(ep.private_dns_names),
            }
        )
    return out


def decide(state: StateDir, p: Plan, endpoint: str, verb: str) -> tuple[PlanEndpoint, str, str]:
    """`accept` or `reject` one connection; returns (endpoint, old state, new state)."""
    ep = find(p, endpoint)
    if ep.service not in p.endpoint_services:
        raise RuntimeFailure(f"{ep.id} is an endpoint of {ep.service}: AWS accepts those itself")
    now = states(state, p)
    old = now[ep.id]
    if old not in ALLOWED_FROM[verb]:
        raise RuntimeFailure(f"cannot {verb} {ep.id}: its connection is {old}")
    new = "available" if verb == "accept" else "rejected"
    answer = fabric_request(state, "set_endpoint_state", timeout=3.0, endpoint=ep.id, state=new)
    if answer is None or not answer.get("ok"):
        raise RuntimeFailure(f"the fabric did not take the change: {answer}")
    now[ep.id] = new
    _file(state).write_text(json.dumps(now, sort_keys=True, indent=2) + "\n")
    return ep, old, new
