"""`hyperplane-emu demo`: the seed's architectures, real requests, what each hop did.

Brings up examples/private-rest-api.yaml (a private REST API behind an
execute-api endpoint, a REST VPC link to an NLB, a regional API on the same
NLB, an internet client), then for each scenario sends a real request from a
real client and prints the response, what the backend saw, and the fabric's
hop table. Every scenario states what AWS would do and checks that the
emulator did it: a failed check makes the demo exit non-zero, so the demo is
also a smoke test. Captures and flow logs go to --out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hyperplane_emu.cli import trace as trace_view
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize import netns
from hyperplane_emu.runtime import lifecycle, trace
from hyperplane_emu.runtime.state import StateDir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "private-rest-api.yaml"
HTTP_EXAMPLE = EXAMPLES / "http-api-vpc-link.yaml"
LINKS_EXAMPLE = EXAMPLES / "rest-vpc-links-v1-v2.yaml"


@dataclass
class Outcome:
    status: int | None  # HTTP status; None: no answer
    body: Any
    hops: list[dict[str, Any]]

    @property
    def source(self) -> str:
        """The address the echo backend saw the connection come from ("" if none)."""
        if not isinstance(self.body, dict):
            return ""
        return str(self.body.get("saw_source", "")).split(":")[0]


class Demo:
    def __init__(self, p: Plan, out: Path) -> None:
        self.p = p
        self.out = out
        self.state = StateDir.of(p.name)

    # ------------------------------------------------------------ helpers

    def api(self, name: str) -> Any:
        return next(a for a in self.p.apis.values() if a.name == name)

    def ips(self, kind: str) -> set[str]:
        return {e.ip for e in self.p.enis if e.kind == kind}

    def request(self, host: str, url: str, max_time: float = 5) -> Outcome:
        r, hops = trace.traced(
            self.p, host,
            lambda: subprocess.run(
                netns.exec_argv(self.p.hosts[host].namespace, ["curl", "-s", "-m",
                                str(max_time), "-w", "\n%{http_code}", url]),
                capture_output=True, text=True, timeout=max_time + 10,
            ),
            required=False,
        )  # fmt: skip
        body_text, _, code = r.stdout.rpartition("\n")
        status = int(code) if code.isdigit() and code != "000" else None
        try:
            body: Any = json.loads(body_text)
        except ValueError:
            body = body_text
        click.echo(f"    $ hyperplane-emu exec {self.p.name} {host} -- curl -s {url}")
        click.echo(
            f"    -> {status if status is not None else 'no answer'}: "
            f"{json.dumps(body)[:300] if body else ''}"
        )
        if isinstance(body, dict) and "saw_source" in body:
            click.echo(click.style(
                f"    the backend ({body.get('host')}) saw the connection come from "
                f"{body['saw_source']}", fg="cyan"))  # fmt: skip
        trace_view.table(url, f"HTTP {status}" if status else "no answer", hops)
        return Outcome(status, body, hops)

    # ----------------------------------------------------------- scenarios

    def private_api(self) -> list[str]:
        o = self.request("client", f"https://{self.api('orders').hostname}/prod/ping")
        fails = []
        if o.status != 200 or o.body != {"pong": True}:
            fails.append(f"private API /ping answered {o.status} {o.body}")
        pl = [h for h in o.hops if h["step"] == "privatelink"]
        if len(pl) != 1 or "execute-api" not in pl[0]["detail"]:
            fails.append("expected exactly one PrivateLink hop, to execute-api")
        return fails

    def vpc_link(self) -> list[str]:
        o = self.request("internet", f"https://{self.api('catalog').hostname}/v1/items")
        fails = []
        seen = o.source
        if o.status != 200:
            answer = f"answered {o.status}" if o.status else "did not answer within 5 s"
            fails.append(f"regional API via VPC link {answer} (expected 200 from a target)")
        elif seen not in self.ips("nlb"):
            fails.append(
                f"target saw {seen}, expected an NLB ENI address {sorted(self.ips('nlb'))}"
            )
        return fails

    def two_privatelinks(self) -> list[str]:
        o = self.request("client", f"https://{self.api('orders').hostname}/prod/orders/42")
        fails = []
        if o.status != 200 or not isinstance(o.body, dict):
            return [f"private API /orders/42 answered {o.status} {o.body}"]
        seen = o.source
        if seen not in self.ips("nlb"):
            fails.append(f"target saw {seen}, expected an NLB ENI address")
        client_ip = next(e.ip for e in self.p.enis if e.owner == "client")
        if o.body.get("headers", {}).get("x-forwarded-for") != client_ip:
            fails.append("X-Forwarded-For does not carry the client's address")
        if len([h for h in o.hops if h["step"] == "privatelink"]) != 2:
            fails.append("expected two PrivateLink connections in the trace")
        return fails

    def on(self, example: Path, checks: Callable[[Demo], list[str]]) -> list[str]:
        """Run `checks` on another example topology, brought up and taken down here."""
        click.echo(click.style(f"    up {example.relative_to(EXAMPLES.parent)}", bold=True))
        p = lifecycle.up(example, replace=True, progress=lambda s: click.echo(f"    {s}"))
        try:
            d = Demo(p, self.out)
            fails = checks(d)
            _finish(d, [])
        finally:
            report = lifecycle.down(p.name)
        return fails + report.errors

    def http_api(self) -> list[str]:
        """Scenario 4 runs on its own topology (examples/http-api-vpc-link.yaml)."""

        def checks(d: Demo) -> list[str]:
            fails: list[str] = []
            api = next(iter(d.p.apis.values()))
            link_ips, alb_ips, nlb_ips = d.ips("vpclink"), d.ips("alb"), d.ips("nlb")
            for path, expect, what in (
                ("/orders", alb_ips, "the ALB's address"),
                ("/stock/7", nlb_ips | link_ips, "the NLB's (ip targets) address"),
                ("/pay", link_ips, "the VPC link ENI's address"),
            ):
                o = d.request("internet", f"https://{api.hostname}{path}")
                if o.status != 200:
                    fails.append(f"{path} answered {o.status}")
                elif o.source not in expect:
                    fails.append(f"{path}: target saw {o.source}, expected {what}")
                else:
                    click.echo(click.style(f"    {path}: the target saw {what}", fg="cyan"))
            return fails

        return self.on(HTTP_EXAMPLE, checks)

    def link_generations(self) -> list[str]:
        """Scenario 6: REST VPC links V1 and V2 side by side (rest-vpc-links-v1-v2.yaml)."""

        def checks(d: Demo) -> list[str]:
            fails: list[str] = []
            api = next(iter(d.p.apis.values()))
            for path, kind, gen in (("/v1/orders", "nlb", "V1"), ("/v2/orders", "alb", "V2")):
                o = d.request("internet", f"https://{api.hostname}/prod{path}")
                links = len([h for h in o.hops if h["step"] == "privatelink"])
                click.echo(click.style(
                    f"    {gen}: the target saw {o.source} ({kind.upper()}), PrivateLink "
                    f"connections: {links}", fg="cyan"))  # fmt: skip
                if o.status != 200 or o.source not in d.ips(kind):
                    fails.append(f"{gen} {path}: {o.status}, target saw {o.source!r}")
                if links != (1 if gen == "V1" else 0):
                    fails.append(f"{gen} {path}: {links} PrivateLink connections in the trace")
            return fails

        return self.on(LINKS_EXAMPLE, checks)

    def denied(self) -> list[str]:
        o = self.request("intruder", f"https://{self.api('orders').hostname}/prod/ping",
                         max_time=3)  # fmt: skip
        fails = []
        if o.status is not None:
            fails.append(f"the intruder got an answer ({o.status}); the endpoint SG should drop it")
        last = o.hops[-1] if o.hops else {}
        if last.get("step") != "drop" or "sg-ingress" not in last.get("detail", ""):
            fails.append(f"the trace should end at the endpoint's security group, not {last}")
        else:
            click.echo(click.style(
                f"    stopped at {last['where']} ({last.get('eni_owner', '')}): {last['detail']}"
                " — silently, as AWS drops it (no RST, no ICMP)", fg="yellow"))  # fmt: skip
        return fails


SCENARIOS = {
    "private-api": (
        "1. private API from a VPC client through the execute-api endpoint (PrivateLink #1)",
        "A private API is reached only through an interface VPC endpoint for execute-api.",
        Demo.private_api,
    ),
    "vpc-link": (
        "2. REST API -> REST VPC link -> NLB -> targets (PrivateLink #2)",
        "The targets receive the private IP addresses of the NLB, not the consumers'.",
        Demo.vpc_link,
    ),
    "two-privatelinks": (
        "3. private API + VPC link: the seed's two PrivateLink connections",
        "Client -> execute-api endpoint -> API Gateway -> VPC link endpoint -> NLB -> target.",
        Demo.two_privatelinks,
    ),
    "http-api": (
        "4. HTTP API -> one VPC link -> ALB, NLB and Cloud Map (VPC-to-VPC NAT)",
        "VPC links for HTTP APIs use VPC-to-VPC NAT through Hyperplane ENIs; "
        "one link, many backends.",
        Demo.http_api,
    ),
    "link-generations": (
        "6. REST API with VPC link V1 (PrivateLink -> NLB) beside V2 (Hyperplane ENIs -> ALB)",
        "Since Nov 2025 REST APIs may use V2 links: no endpoint service, no NLB before an ALB.",
        Demo.link_generations,
    ),
    "denied": (
        "5. a denied request: where exactly it stops",
        "Security groups drop silently; the endpoint's group admits only sg/client.",
        Demo.denied,
    ),
}


def run(scenario: str = "all", keep: bool = False, out: Path | None = None) -> int:
    names = list(SCENARIOS) if scenario == "all" else [scenario]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise click.ClickException(
            f"no scenario {unknown[0]!r}; scenarios: {', '.join(SCENARIOS)}, all"
        )
    out = out or Path(tempfile.mkdtemp(prefix="hyperplane-emu-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    click.echo(click.style(f"==> up {EXAMPLE.relative_to(EXAMPLES.parent)}", bold=True))
    p = lifecycle.up(EXAMPLE, replace=True, progress=lambda s: click.echo(f"    {s}"))
    demo = Demo(p, out)
    failures: list[str] = []
    captured = _start_captures(demo)
    try:
        for name in names:
            title, seed, fn = SCENARIOS[name]
            click.echo(click.style(f"\n==> {title}", bold=True))
            click.echo(f"    AWS: {seed}")
            fails = fn(demo)
            for f in fails:
                click.echo(click.style(f"    CHECK FAILED: {f}", fg="red"))
            if not fails:
                click.echo(click.style("    as AWS does", fg="green"))
            failures += [f"{name}: {f}" for f in fails]
    finally:
        _finish(demo, captured)
        if keep:
            click.echo(f"\nleft up. Continue by hand:\n"
                       f"  sudo hyperplane-emu status {p.name}\n"
                       f"  sudo hyperplane-emu exec {p.name} client -- curl -s "
                       f"https://{demo.api('orders').hostname}/prod/orders\n"
                       f"  sudo hyperplane-emu capture {p.name} client -c 20\n"
                       f"  sudo hyperplane-emu down {p.name}")  # fmt: skip
        else:
            report = lifecycle.down(p.name)
            failures += report.errors
    click.echo(f"\npcaps and flow logs: {out}   ({time.monotonic() - t0:.1f} s)")
    for f in failures:
        click.echo(f"demo: {f}", err=True)
    return 1 if failures else 0


def _start_captures(demo: Demo) -> list[str]:
    started = []
    for e in demo.p.enis:
        if e.kind in ("host", "vpce", "nlb", "apigw"):
            path = demo.out / f"{e.owner}-{e.kind}-{e.id}.pcap"
            answer = lifecycle.fabric_request(
                demo.state, "capture_start", timeout=3.0, eni=e.id, path=str(path)
            )
            if answer and answer.get("ok"):
                started.append(e.id)
    return started


def _finish(demo: Demo, captured: list[str]) -> None:
    for eni in captured:
        lifecycle.fabric_request(demo.state, "capture_stop", timeout=3.0, eni=eni)
    lifecycle.fabric_request(demo.state, "flush_flow_logs", timeout=3.0)
    logs = demo.out / "flow-logs"
    if demo.state.flow_logs.is_dir():
        shutil.copytree(demo.state.flow_logs, logs, dirs_exist_ok=True)
