"""`trace`: parse the arguments, run `runtime.trace`, render the hops.

What is traced and how each hop is described lives in `runtime/trace.py`;
this module only checks the command line and draws the table (or prints the
hops as JSON, hyperplane_emu/schemas/trace.schema.json).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from hyperplane_emu.cli.render import console
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.runtime import trace


def run(
    p: Plan, host: str, url: str | None, tcp: str | None, as_json: bool, svg: str | None = None
) -> int:
    if host not in p.hosts:
        raise click.ClickException(f"{p.name} has no host {host!r} (hosts: {', '.join(p.hosts)})")
    if (url is None) == (tcp is None):
        raise click.ClickException("give a URL or --tcp ADDR:PORT (one of them)")
    outcome, hops = trace.traced(p, host, lambda: trace.request(p, host, url, tcp))
    if as_json:
        # A JSON list of hops; the outcome on stderr.
        click.echo(json.dumps(hops, indent=2))
        click.echo(f"{url or tcp}: {outcome}", err=True)
    else:
        table(url or tcp or "", outcome, hops)
    if svg:
        from hyperplane_emu import diagram

        diagram.render(diagram.trace_dot(hops, f"trace {host} {url or tcp} -> {outcome}"), svg)
        click.echo(f"sequence diagram: {svg}", err=True)
    return 0


def table(request: str, outcome: str, hops: list[dict[str, Any]]) -> None:
    t = Table(title=f"trace {request} -> {outcome}", title_justify="left")
    for col in ("#", "ms", "flow", "step", "where", "verdict", "detail"):
        t.add_column(col)
    t0 = hops[0]["time"] if hops else 0.0
    colours = {"ACCEPT": "green", "FORWARD": "cyan", "REJECT": "red", "DROP": "red"}
    for i, h in enumerate(hops, 1):
        where = h["where"]
        if "eni_owner" in h:
            where = f"{where}\n{h['eni_owner']} ({h['vpc']})"
        if "process" in h:
            where = f"{where}\n-> {h['process']}"
        c = colours.get(h["action"], "white")
        t.add_row(str(i), f"{(h['time'] - t0) * 1000:.1f}", h["flow"], h["step"], where,
                  f"[{c}]{h['action']}[/]", h["detail"])  # fmt: skip
    console.print(t)
