"""`flow-logs`: print the per-ENI VPC Flow Logs files the fabric writes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

import click

from hyperplane_emu.fabric.flowlog import V2_FIELDS
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.runtime.lifecycle import fabric_request
from hyperplane_emu.runtime.state import StateDir


def resolve_eni(p: Plan, text: str) -> str:
    for e in p.enis:
        if text in (e.id, e.owner):
            return e.id
    known = ", ".join(f"{e.owner} ({e.id})" for e in p.enis)
    raise click.ClickException(f"{p.name} has no ENI {text!r}; ENIs: {known}")


def show(
    state: StateDir, p: Plan, eni: str | None, *, now: bool, follow: bool, as_json: bool
) -> None:
    if now and fabric_request(state, "flush_flow_logs", timeout=3.0) is None:
        raise click.ClickException("the fabric is not answering; `status` tells why")
    wanted = resolve_eni(p, eni) if eni else None
    files = sorted(state.flow_logs.glob("*.log"))
    if wanted:
        files = [f for f in files if f.stem == wanted]
    handles: dict[Path, IO[str]] = {f: open(f) for f in files}  # noqa: SIM115
    if not as_json:
        click.echo(" ".join(V2_FIELDS))
    try:
        while True:
            for h in handles.values():
                for line in h:
                    _emit(line.rstrip("\n"), as_json)
            if not follow:
                return
            time.sleep(0.5)
            for f in sorted(state.flow_logs.glob("*.log")):
                if f not in handles and (not wanted or f.stem == wanted):
                    handles[f] = open(f)  # noqa: SIM115
    finally:
        for h in handles.values():
            h.close()


def _emit(line: str, as_json: bool) -> None:
    if not line:
        return
    if as_json:
        parts = line.split()
        fields = [*V2_FIELDS, *(f"field{i}" for i in range(len(V2_FIELDS), len(parts)))]
        click.echo(json.dumps(dict(zip(fields, parts, strict=False))))
    else:
        click.echo(line)
