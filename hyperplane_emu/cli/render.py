"""Rich tables for the CLI. Rendering only: the data comes from runtime.

Output that survives a pipe: when stdout is not a terminal (`| grep`, `> file`, CI
logs) the tables are as wide as their content, so ids, addresses and ARNs are never
cut or folded. Rich would otherwise take the width of whatever terminal stderr or
stdin is attached to (or 80 columns) and shorten cells with an ellipsis. Every verb
that prints a list also has `--json`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.table import Table

PIPE_WIDTH = 100_000
"""Columns when stdout is not a terminal: wide enough that no cell is ever cut."""


class PipeSafeConsole(Console):
    """A terminal's width on a terminal; unbounded width anywhere else."""

    @property
    def size(self) -> ConsoleDimensions:
        real = super().size
        return real if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, real.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width = width
        self._height = height


console = PipeSafeConsole()


def status(d: dict[str, Any]) -> None:
    f = d["fabric"]
    colour = {"running": "green", "dead": "red"}.get(f["health"], "yellow")
    console.print(
        f"[bold]{d['name']}[/] ({d['region']})  fabric: [{colour}]{f['health']}[/]"
        f" pid {f['pid']} in {f['namespace']}   state: {d['state_dir']}"
    )
    for v in d["vpcs"]:
        t = Table(
            title=f"VPC {v['name']} {v['id']} {v['cidr']} account {v['account']}",
            title_justify="left",
        )
        for col in ("subnet", "id", "cidr", "az"):
            t.add_column(col)
        for s in v["subnets"]:
            t.add_row(s["name"], s["id"], s["cidr"], s["az"])
        console.print(t)
        sg = Table(title="security groups", title_justify="left")
        for col in ("name", "id", "rules"):
            sg.add_column(col)
        for g in v["security_groups"]:
            sg.add_row(g["name"], g["id"], str(g["rules"]))
        console.print(sg)
    t = Table(title="ENIs", title_justify="left")
    for col in ("owner", "eni", "vpc/subnet", "ip", "security groups", "namespace/if", "fabric if"):
        t.add_column(col)
    for e in d["enis"]:
        ns = e["namespace"] if e["namespace_present"] else f"[red]{e['namespace']} (missing)[/]"
        t.add_row(
            e["owner"],
            e["id"],
            f"{e['vpc']}/{e['subnet']}",
            e["ip"],
            "\n".join(e["security_groups"]),
            f"{ns}/{e['ifname']}",
            e["fabric_ifname"],
        )
    console.print(t)
    p = Table(title="processes", title_justify="left")
    for col in ("name", "pid", "state"):
        p.add_column(col)
    for x in d["processes"]:
        p.add_row(x["name"], str(x["pid"]), "[green]running[/]" if x["alive"] else "[red]dead[/]")
    console.print(p)
    if d.get("load_balancers"):
        load_balancers(d["load_balancers"])
    if d.get("endpoints"):
        endpoint_connections(d["endpoints"])
    if d.get("apis"):
        apis(d["apis"])
    c = f["counters"]
    if c:
        drops = {k[len("dropped.") :]: v for k, v in c.items() if k.startswith("dropped.") and v}
        console.print(
            f"fabric: forwarded {c.get('forwarded', 0)}, tracked flows "
            f"{c.get('conntrack.entries', 0)}/{c.get('conntrack.max', 0)}, dropped "
            + (", ".join(f"{k} {v}" for k, v in sorted(drops.items())) or "0")
        )
    if f.get("fast_path"):
        console.print(f"fast path: {f['fast_path']}")


def endpoint_connections(rows: list[dict[str, Any]]) -> None:
    t = Table(title="endpoint connections", title_justify="left")
    for col in ("endpoint", "name", "service", "consumer", "state"):
        t.add_column(col)
    colours = {"available": "green", "pendingAcceptance": "yellow", "rejected": "red"}
    for r in rows:
        c = colours.get(r["state"], "white")
        t.add_row(
            r["endpoint"], r["name"], r["service"], r["consumer_account"], f"[{c}]{r['state']}[/]"
        )
    console.print(t)


ENFORCE_KEY = "enforce_security_group_inbound_rules_on_private_link_traffic"


def load_balancers(lbs: list[dict[str, Any]]) -> None:
    for lb in lbs:
        kind = "ALB" if lb.get("kind") == "alb" else "NLB"
        title = f"{kind} {lb['name']} {lb['dns_name']}"
        if lb.get("security_groups"):
            title += " security groups: " + ", ".join(lb["security_groups"])
            if kind == "NLB":
                title += f" (PrivateLink inbound rules {lb.get(ENFORCE_KEY) or 'on'})"
        t = Table(title=title, title_justify="left")
        for col in ("target group", "target", "port", "az", "health", "reason"):
            t.add_column(col)
        colours = {"healthy": "green", "unhealthy": "red"}
        for tg, targets in lb["target_groups"].items():
            for x in targets:
                c = colours.get(x["health"], "yellow")
                t.add_row(
                    tg, x["id"], str(x["port"]), x["az"], f"[{c}]{x['health']}[/]", x["reason"]
                )
        console.print(t)


def apis(rows: list[dict[str, Any]]) -> None:
    t = Table(title="APIs", title_justify="left")
    for col in ("api", "type", "endpoint", "invoke URL", "VPC links"):
        t.add_column(col)
    for a in rows:
        links = "\n".join(_link_line(x) for x in a["vpc_links"])
        t.add_row(
            f"{a['id']} {a['name']}", a["type"], a["endpoint"], "\n".join(a["invoke_urls"]), links
        )
    console.print(t)


def _link_line(x: dict[str, Any]) -> str:
    colour = "green" if x["status"] == "AVAILABLE" else "yellow"
    return f"{x.get('generation', '')} {x['id']} {x['name']} [{colour}]{x['status']}[/]"
