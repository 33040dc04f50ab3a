"""Pictures of a topology and of a trace, drawn by Graphviz.

`topology_dot(plan)` and `trace_dot(hops)` are pure (plan or hops in, DOT text
out) and tested without Graphviz; `render(dot, path)` runs Graphviz's `dot`
binary. The binary rather than the `graphviz` PyPI package: that package is
only a wrapper that runs the same binary, so it would add a dependency and no
capability; the Debian package `graphviz` (installed by scripts/setup) is what
both need.

The topology picture: each VPC a cluster (id, CIDR, account), its subnets nested
clusters (id, CIDR, AZ), hosts with their ENIs and addresses, load balancers
(NLB/ALB) with their ENIs and targets, interface endpoints and endpoint
services, PrivateLink edges (endpoint -> service -> NLB), REST VPC links (V1:
PrivateLink from API Gateway's VPC; V2 and HTTP APIs: Hyperplane ENIs in the
customer's subnets) and API Gateway in its own VPC. Graphviz writes each node's
and edge's `id` into the SVG, so ids (eni-, vpce-, vpce-svc-, vpc-, subnet-)
can be found in it by tests and by a browser's search.

The trace picture is a sequence diagram: one lifeline per place a hop happened
(an ENI, an endpoint, a load balancer, a gateway), one arrow per hop in order,
labelled with the step, the verdict, the detail (the rule that matched, the
rewrite before -> after) and the flow as the packet was there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hyperplane_emu.plan.model import Plan, PlanEni

VERDICT_COLOURS = {"ACCEPT": "darkgreen", "FORWARD": "blue", "REJECT": "red", "DROP": "red"}


class GraphvizMissing(RuntimeError):
    pass


def q(text: str) -> str:
    """A DOT double-quoted string; `\\n` in `text` stays a DOT line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw: str) -> str:
    return "[" + ", ".join(f"{k}={q(v)}" for k, v in kw.items()) + "]"


# ----------------------------------------------------------------- topology


def topology_dot(p: Plan) -> str:
    graph = _attrs(label=f"{p.name} ({p.region})", labelloc="t", fontname="Helvetica",
                   compound="true", rankdir="LR", newrank="true")  # fmt: skip
    lines = [
        f"digraph {q(p.name)} {{",
        f"  graph {graph};",
        "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    by_id = {e.id: e for e in p.enis}

    def eni_lines(ids: Iterable[str]) -> str:
        return "\n".join(f"{i} {by_id[i].ip}" for i in ids if i in by_id)

    def node(indent: int, name: str, **kw: str) -> None:
        lines.append(f"{' ' * indent}{q(name)} {_attrs(**kw)};")

    for v in p.vpcs.values():
        lines.append(f"  subgraph {q('cluster_' + v.name)} {{")
        title = f"VPC {v.name} {v.id}\n{v.cidr}  account {v.account_id}"
        lines.append(f"    graph {_attrs(label=title, id=v.id, style='rounded', color='grey40')};")
        for s in v.subnets.values():
            lines.append(f"    subgraph {q('cluster_' + v.name + '_' + s.name)} {{")
            sub = f"subnet {s.name} {s.id}\n{s.cidr} {s.az}"
            lines.append(
                f"      graph {_attrs(label=sub, id=s.id, style='dashed', color='grey60')};"
            )
            for h in p.hosts.values():
                if h.vpc == v.name and h.subnet == s.name:
                    gateway = p.api_gateway is not None and h.name == p.api_gateway.host
                    label = f"{'API Gateway' if gateway else h.name}\n{eni_lines(h.enis)}"
                    if gateway:
                        label += "".join(f"\n{a.type.upper()} API {a.name} {a.id}"
                                         for a in p.apis.values())  # fmt: skip
                    node(6, _host(h.name), label=label, id=h.namespace,
                         shape="box3d" if gateway else "box")  # fmt: skip
            lines.append("    }")
        for lb in p.load_balancers.values():
            if lb.vpc == v.name:
                kind = "ALB" if lb.kind == "alb" else "NLB"
                label = f"{kind} {lb.name}\n{eni_lines(lb.enis)}"
                node(4, _lb(lb.key), label=label, id=lb.key, shape="hexagon")
        for ep in p.endpoints.values():
            if ep.vpc == v.name:
                label = f"endpoint {ep.name} {ep.id}\n{eni_lines(ep.enis)}"
                node(4, _ep(ep.key), label=label, id=ep.id, shape="component")
        for svc in p.endpoint_services.values():
            if svc.vpc == v.name:
                node(4, _svc(svc.key), label=f"endpoint service\n{svc.id}", id=svc.id,
                     shape="cds")  # fmt: skip
        for link in p.vpc_links_v2.values():
            if link.vpc == v.name:
                label = f"VPC link {link.name} {link.id}\n{eni_lines(link.enis)}"
                node(4, _v2(link.id), label=label, id=link.id, shape="component",
                     color="purple")  # fmt: skip
        lines.append("  }")
    lines += _topology_edges(p, by_id)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _host(name: str) -> str:
    return f"host/{name}"


def _lb(key: str) -> str:
    return f"lb/{key}"


def _ep(key: str) -> str:
    return f"endpoint/{key}"


def _svc(key: str) -> str:
    return f"service/{key}"


def _v2(link_id: str) -> str:
    return f"vpclink/{link_id}"


def _topology_edges(p: Plan, by_id: Mapping[str, PlanEni]) -> list[str]:
    out: list[str] = []
    by_ip = {e.ip: e for e in p.enis if e.kind == "host"}

    def edge(a: str, b: str, **kw: str) -> None:
        out.append(f"  {q(a)} -> {q(b)} {_attrs(**kw)};")

    def target_node(ip: str, eni: str | None) -> str | None:
        e = by_id.get(eni or "") or by_ip.get(ip)
        return _host(e.owner) if e is not None and e.kind == "host" else None

    for lb in p.load_balancers.values():
        for tg in lb.target_groups.values():
            for t in tg.targets:
                node = target_node(t.ip, t.eni)
                if node:
                    edge(_lb(lb.key), node, label=f"{tg.name} :{t.port}")
    for svc in p.endpoint_services.values():
        edge(_svc(svc.key), _lb(svc.load_balancer), label="NLB", style="bold")
    gw = _host(p.api_gateway.host) if p.api_gateway else None
    for ep in p.endpoints.values():
        if ep.service == "execute-api" and gw:
            edge(_ep(ep.key), gw, label="PrivateLink\nexecute-api", color="orange", style="bold",
                 id=f"privatelink-{ep.id}")  # fmt: skip
        elif ep.service in p.endpoint_services:
            svc = p.endpoint_services[ep.service]
            edge(_ep(ep.key), _svc(svc.key), label=f"PrivateLink\n{svc.service_name}",
                 color="orange", style="bold", id=f"privatelink-{ep.id}")  # fmt: skip
    if gw:
        for api in p.apis.values():
            for link in api.vpc_links.values():
                edge(gw, _ep(link.endpoint), label=f"VPC link {link.name} {link.id}",
                     color="purple", id=f"vpclink-{link.id}")  # fmt: skip
        for l2 in p.vpc_links_v2.values():
            edge(gw, _v2(l2.id), label=f"VPC link {l2.name} {l2.id}\n(Hyperplane ENIs)",
                 color="purple", style="bold", id=f"vpclink-{l2.id}")  # fmt: skip
            for lt in l2.targets:
                node = _lb(lt.key) if lt.kind in ("nlb", "alb") else target_node(lt.ip, None)
                if node:
                    edge(_v2(l2.id), node, label=f":{lt.dport}", color="purple")
        public = next((e for e in p.enis if e.kind == "apigw-public"), None)
        internet = next((h for h in p.hosts.values() if h.vpc == "internet"), None)
        if public is not None and internet is not None:
            edge(_host(internet.name), gw, label=f"HTTPS {public.ip}\n(regional endpoint)",
                 style="dashed")  # fmt: skip
    return out


# -------------------------------------------------------------------- trace


def trace_dot(hops: Sequence[Mapping[str, Any]], title: str = "trace") -> str:
    """A sequence diagram of trace hops (trace.schema.json's items): one column per
    place (first appearance, left to right), one row per hop whose arrow runs from
    where the previous hop was to where this one is (a flow's first hop, the egress
    check on its source ENI, stays in its column).

    Cells carry an HREF to themselves and a TITLE (a tooltip in a browser): without
    a link Graphviz does not write a cell's id into the SVG (with one, as `a_<id>`).
    Drawn as one Graphviz HTML table rather than as ranked nodes: dot moves nodes
    to shorten edges, which bends lifelines and piles labels up; a table keeps the
    columns straight and every label readable."""
    parts: list[str] = []
    for h in hops:
        if h["where"] not in parts:
            parts.append(h["where"])
    col = {w: i for i, w in enumerate(parts)}
    first = {w: next(h for h in hops if h["where"] == w) for w in parts}
    rows = ["<TR>"]
    for w in parts:
        h = first[w]
        sub = " ".join(
            x for x in (h.get("eni_owner", ""), f"({h['vpc']})" if h.get("vpc") else "") if x
        )
        rows.append(
            f'<TD ID="{_h(w)}" HREF="#{_h(w)}" TITLE="{_h(w)} {_h(sub)}" '
            'BORDER="1" STYLE="ROUNDED" BGCOLOR="grey95" CELLPADDING="6">'
            f"<B>{_h(w)}</B><BR/>{_h(sub)}</TD>"
        )
    rows.append("</TR>")
    t0 = hops[0]["time"] if hops else 0.0
    for i, h in enumerate(hops, 1):
        b = col[h["where"]]
        # A flow's first hop (its source ENI's egress check) starts where it is.
        a = b if i == 1 or h["step"] == "egress-sg" else col[hops[i - 2]["where"]]
        lo, hi = min(a, b), max(a, b)
        colour = VERDICT_COLOURS.get(h["action"], "black")
        arrow = "&#8635;" if a == b else ("&#9654;" if b > a else "&#9664;")
        ms = (h["time"] - t0) * 1000
        text = (
            f'<B>{i}. {_h(h["step"])}</B> <FONT COLOR="{colour}"><B>{_h(h["action"])}</B></FONT>'
            f" +{ms:.1f} ms<BR/>{_h(h['detail'])}<BR/>"
            f'<FONT POINT-SIZE="8">{_h(h["flow"])}</FONT>'
            + (f"<BR/>-&gt; {_h(h['process'])}" if h.get("process") else "")
        )
        align = "LEFT" if b < a else "RIGHT" if b > a else "CENTER"
        cells = ['<TD SIDES="L" BORDER="1" COLOR="grey80"> </TD>'] * lo
        cells.append(
            f'<TD ID="hop-{i}" HREF="#hop-{i}" '
            f'TITLE="{i}. {_h(h["step"])} {_h(h["action"])}: {_h(h["detail"])}" '
            f'COLSPAN="{hi - lo + 1}" SIDES="B" BORDER="2" COLOR="{colour}" '
            f'ALIGN="{align}" CELLPADDING="4">{text} <FONT COLOR="{colour}">{arrow}</FONT></TD>'
        )
        cells += ['<TD SIDES="L" BORDER="1" COLOR="grey80"> </TD>'] * (len(parts) - hi - 1)
        rows.append("<TR>" + "".join(cells) + "</TR>")
    table = (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4">'
        + "".join(rows or ["<TR><TD>no hops</TD></TR>"])
        + "</TABLE>>"
    )
    return (
        f"digraph {q(title)} {{\n"
        f"  graph {_attrs(label=title, labelloc='t', fontname='Helvetica')};\n"
        "  node [fontname=Helvetica, fontsize=10];\n"
        f"  sequence [shape=plaintext, label={table}];\n"
        "}\n"
    )


def _h(text: str) -> str:
    """Text for a Graphviz HTML label."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


# ------------------------------------------------------------------- render


def render(dot: str, out: str | os.PathLike[str], fmt: str = "svg") -> None:
    """Run Graphviz's `dot` on `dot`, writing `out` (`-` for stdout)."""
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizMissing(
            "Graphviz's `dot` is not installed (scripts/setup installs the graphviz package; "
            "or apt-get install graphviz)"
        )
    argv = [binary, f"-T{fmt}"] + ([] if str(out) == "-" else ["-o", str(out)])
    done = subprocess.run(argv, input=dot, capture_output=str(out) != "-", text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed ({done.returncode}): {(done.stderr or '').strip()}")
