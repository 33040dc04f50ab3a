"""`flow-logs`: print the per-ENI VPC Flow Logs files the fabric writes.

`--format "${version} ${vpc-id} ..."` prints the records in a custom format (AWS's
field names, v2-v5); fields a record does not hold are derived from the plan where
exact, else `-`. A format AWS would refuse is a usage error (exit 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

import click

from hyperplane_emu.fabric.flowlog import (
    V2_FIELDS,
    EniMeta,
    FormatError,
    eni_meta,
    flow_log_setup,
    parse_format,
    reformat,
)
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.runtime.lifecycle import fabric_request
from hyperplane_emu.runtime.state import StateDir


def resolve_eni(p: Plan, text: str) -> str:
    for e in p.enis:
        if text in (e.id, e.owner):
            return e.id
    known = ", ".join(f"{e.owner} ({e.id})" for e in p.enis)
    raise click.ClickException(f"{p.name} has no ENI {text!r}; ENIs: {known}")


class BadFormat(click.BadParameter):
    """A `--format` AWS would refuse: a usage error, exit status 2."""


def target_fields(fmt: str | None) -> tuple[str, ...] | None:
    if fmt is None:
        return None
    try:
        return parse_format(fmt)
    except FormatError as e:
        raise BadFormat(str(e), param_hint="--format") from None


def show(
    state: StateDir,
    p: Plan,
    eni: str | None,
    *,
    now: bool,
    follow: bool,
    as_json: bool,
    fmt: str | None = None,
) -> None:
    target = target_fields(fmt)
    written, _, _ = flow_log_setup(p)
    metas = eni_meta(p)
    if now and fabric_request(state, "flush_flow_logs", timeout=3.0) is None:
        raise click.ClickException("the fabric is not answering; `status` tells why")
    wanted = resolve_eni(p, eni) if eni else None
    files = sorted(state.flow_logs.glob("*.log"))
    if wanted:
        files = [f for f in files if f.stem == wanted]
    handles: dict[Path, IO[str]] = {f: open(f) for f in files}  # noqa: SIM115
    if not as_json:
        # As written when every file shown shares one format (a topology's flow log).
        shapes = {written.get(f.stem, V2_FIELDS) for f in files}
        click.echo(" ".join(target or (shapes.pop() if len(shapes) == 1 else V2_FIELDS)))
    try:
        while True:
            for f, h in handles.items():
                source = written.get(f.stem, V2_FIELDS)
                for line in h:
                    _emit(line.rstrip("\n"), as_json, source, target, metas.get(f.stem))
            if not follow:
                return
            time.sleep(0.5)
            for f in sorted(state.flow_logs.glob("*.log")):
                if f not in handles and (not wanted or f.stem == wanted):
                    handles[f] = open(f)  # noqa: SIM115
    finally:
        for h in handles.values():
            h.close()


def _emit(
    line: str,
    as_json: bool,
    source: tuple[str, ...] = V2_FIELDS,
    target: tuple[str, ...] | None = None,
    meta: EniMeta | None = None,
) -> None:
    """One record, written in `source` fields, printed in `target` (default: as written)."""
    if not line:
        return
    fields = source
    if target is not None:
        line = reformat(line, source, target, meta)
        fields = target
    if as_json:
        parts = line.split()
        names = [*fields, *(f"field{i}" for i in range(len(fields), len(parts)))]
        click.echo(json.dumps(dict(zip(names, parts, strict=False))))
    else:
        click.echo(line)
