"""The `hyperplane-emu` command: each verb parses, makes one library call, renders.

Verbs that touch the kernel need root and say so in one line; `validate` and
`--help` do not. Errors are one clear message (with YAML paths for spec
errors) and exit status 1; never a traceback for a user mistake.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hyperplane_emu import spec
from hyperplane_emu.cli import render
from hyperplane_emu.plan import PlanError
from hyperplane_emu.realize import KernelError, netns
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.status import read_plan, running, status
from hyperplane_emu.spec.errors import SpecError

F = TypeVar("F", bound=Callable[..., Any])

EPILOG = """\b
Examples:
  hyperplane-emu validate examples/basic.yaml
  sudo hyperplane-emu up examples/basic.yaml
  sudo hyperplane-emu status basic
  sudo hyperplane-emu exec basic client -- curl -s http://10.0.1.10:8080/
  sudo hyperplane-emu capture basic app1 -c 10
  sudo hyperplane-emu flow-logs basic --now
  sudo hyperplane-emu down basic
  sudo hyperplane-emu demo                      # the seed's five scenarios, checked
  sudo hyperplane-emu up examples/private-rest-api.yaml
  sudo hyperplane-emu trace private-rest client https://<api-id>.execute-api.us-east-1.amazonaws.com/prod/orders
Docs: docs/guide.md (walk-through), docs/reference.md (every key), docs/topology.md,
docs/architecture.md, docs/privatelink.md, docs/apigateway.md
"""


def needs_root(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        if os.geteuid() != 0:
            verb = click.get_current_context().info_name
            raise click.ClickException(
                f"`{verb}` needs root (it works on network namespaces): "
                f"try sudo hyperplane-emu {verb} …"
            )
        return fn(*a, **kw)

    return wrapper  # type: ignore[return-value]


class BadInput(click.ClickException):
    """The topology file is wrong: exit status 2, like a usage error, distinct from 1
    (the emulator or the host refused)."""

    exit_code = 2


def friendly(fn: F) -> F:
    """Turn the library's typed errors into one-line (or one-block) messages."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except (SpecError, PlanError) as e:
            raise BadInput(str(e)) from None
        except lifecycle.RuntimeFailure as e:
            raise click.ClickException(str(e)) from None
        except KernelError as e:
            raise click.ClickException(f"kernel refused: {e}") from None

    return wrapper  # type: ignore[return-value]


class Steps:
    """Progress on stderr: one line per finished step, with elapsed time."""

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.monotonic()
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            click.echo(f"  [{time.monotonic() - self.t0:5.2f}s] {text}", err=True)


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hyperplane-emu")
def main() -> None:
    """Emulate the AWS networking under API Gateway private APIs on one Linux box.

    A topology file (YAML: VPCs, subnets, security groups, hosts) becomes network
    namespaces joined through a Python "Hyperplane" fabric that routes, filters
    and logs real packets the way AWS does. Watch them with tcpdump.
    """


def template_options(fn: F) -> F:
    """--parameter/--strict: for CloudFormation templates (docs/cloudformation.md)."""
    fn = click.option(
        "--strict", is_flag=True, help="Template: refuse resources that are not emulated."
    )(fn)
    return click.option(
        "--parameter",
        "parameters",
        multiple=True,
        metavar="KEY=VALUE",
        help="Template parameter (repeatable); also AWS::Region, AWS::StackName.",
    )(fn)


def _template(file: str, parameters: tuple[str, ...], strict: bool) -> Any:
    """A CloudFormation/SAM/CDK template, translated and checked; None for a topology file."""
    from hyperplane_emu import cfn

    if not cfn.is_template_file(file):
        return None
    try:
        params = cfn.parse_parameters(parameters)
    except ValueError as e:
        raise BadInput(str(e)) from None
    loaded = cfn.load(file, params, strict)
    for line in cfn.report_lines(loaded.translation):
        click.echo(line, err=True)
    return loaded


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plan", "show_plan", is_flag=True, help="Also print the plan (ids, addresses).")
@template_options
def validate(
    file: str, as_json: bool, show_plan: bool, parameters: tuple[str, ...], strict: bool
) -> None:
    """Check a topology file or a CloudFormation/SAM/CDK template without root; list
    every problem with its path."""
    loaded = _template(file, parameters, strict)
    v = (
        spec.validate(file)
        if loaded is None
        else spec.Validation(loaded.topology, tuple(loaded.issues), tuple(loaded.warnings))
    )
    plan_json = None
    issues = [{"path": i.path, "line": i.line, "message": i.message} for i in v.issues]
    if v.ok and v.topology is not None:
        from hyperplane_emu import plan

        try:
            p = plan.build(v.topology)
            plan_json = plan.to_json(p)
        except PlanError as e:
            issues = [{"path": i.path, "line": i.line, "message": i.message} for i in e.issues]
    ok = not issues
    if as_json:
        out: dict[str, Any] = {
            "ok": ok,
            "file": file,
            "issues": issues,
            "warnings": [str(w) for w in v.warnings],
        }
        if loaded is not None:
            out["skipped"] = [str(s) for s in loaded.translation.skipped]
        if show_plan and plan_json:
            out["plan"] = json.loads(plan_json)
        click.echo(json.dumps(out, indent=2))
    else:
        for w in v.warnings:
            click.echo(f"warning: {w}", err=True)
        if ok:
            click.echo(f"{file}: ok")
            if show_plan and plan_json:
                click.echo(plan_json, nl=False)
        else:
            click.echo(f"{file}: {len(issues)} error{'s' if len(issues) != 1 else ''}", err=True)
            for i in issues:
                line = f" (line {i['line']})" if i["line"] else ""
                click.echo(f"  {i['path']}{line}: {i['message']}", err=True)
    sys.exit(0 if ok else 2)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--replace", is_flag=True, help="Take a running topology of the same name down first."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.option(
    "--fast-path",
    type=click.Choice(lifecycle.FAST_PATH_MODES),
    envvar=lifecycle.FAST_PATH_ENV,
    show_envvar=True,
    default="auto",
    show_default=True,
    help="auto: once Python has judged a flow, the kernel (an eBPF program on the fabric's "
    "veths) carries its packets at kernel speed; off: every packet through Python. "
    "`status` says which one runs, and why not.",
)
@template_options
@needs_root
@friendly
def up(
    file: str,
    replace: bool,
    quiet: bool,
    fast_path: str,
    parameters: tuple[str, ...],
    strict: bool,
) -> None:
    """Build a topology (a topology file or a CloudFormation/SAM/CDK template): namespaces,
    veths, the fabric and the services. All or nothing."""
    steps = Steps(quiet)
    loaded = _template(file, parameters, strict)
    if loaded is not None:
        from hyperplane_emu import cfn, plan

        if not loaded.ok or loaded.topology is None:
            raise SpecError(loaded.issues, file)
        p = lifecycle.up(
            plan.build(loaded.topology), replace=replace, progress=steps, fast_path=fast_path
        )
    else:
        p = lifecycle.up(file, replace=replace, progress=steps, fast_path=fast_path)
    steps(f"{p.name} is up")
    click.echo(
        f"{p.name}: up ({len(p.hosts)} hosts, {len(p.enis)} ENIs). "
        f"Try: hyperplane-emu status {p.name}"
    )
    if loaded is not None:
        hosts = cfn.host_names(loaded.translation)
        click.echo("hosts: " + ", ".join(f"{h} ({lid})" for lid, h in hosts.items()))
        for key, value in cfn.outputs_for(loaded.translation, p).items():
            click.echo(f"output {key} = {value}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@template_options
@needs_root
@friendly
def apply(file: str, as_json: bool, parameters: tuple[str, ...], strict: bool) -> None:
    """Change a running topology in place: security-group rules, APIs, Cloud Map.

    FILE is a topology file or a CloudFormation/SAM/CDK template (translated as `up`
    does). Changes that would move addresses or ids (VPCs, hosts, load balancers…)
    are refused with the list of what differs; they need `down` then `up`.
    """
    from hyperplane_emu.runtime import apply as apply_mod

    loaded = _template(file, parameters, strict)
    if loaded is None:
        name = lifecycle.load_plan(file).name
        report = apply_mod.apply(name, file)
    else:
        from hyperplane_emu import cfn, plan

        if not loaded.ok or loaded.topology is None:
            raise SpecError(loaded.issues, file)
        p = plan.build(loaded.topology)
        name = p.name
        try:
            report = apply_mod.apply(name, p)
        except SpecError as e:  # its paths are the generated topology's: name the template's
            raise SpecError([cfn.reword(loaded.translation, i) for i in e.issues], file) from None
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        for line in report.lines():
            click.echo(f"{name}: {line}")


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@needs_root
@friendly
def down(name: str, as_json: bool) -> None:
    """Tear a topology down: processes, namespaces, files. Safe to repeat."""
    try:
        report = lifecycle.down(name)
    except lifecycle.NotUp as not_up:
        # Nothing to do is success: scripts and CI cleanup steps can call it blindly.
        note = str(not_up)
        if as_json:
            click.echo(json.dumps({"removed": [], "errors": [], "note": note}, indent=2))
        else:
            click.echo(f"{name}: nothing to do ({note})", err=True)
        return
    if as_json:
        click.echo(json.dumps({"removed": report.removed, "errors": report.errors}, indent=2))
    else:
        for e in report.errors:
            click.echo(f"error: {e}", err=True)
        click.echo(f"{name}: down ({len(report.removed)} objects removed)")
    sys.exit(1 if report.errors else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@needs_root
@friendly
def clean(as_json: bool) -> None:
    """Remove every leftover he- object of any earlier run (namespaces, processes, files)."""
    report = lifecycle.clean()
    if as_json:
        click.echo(json.dumps({"removed": report.removed, "errors": report.errors}, indent=2))
    else:
        for r in report.removed:
            click.echo(f"removed {r}")
        for e in report.errors:
            click.echo(f"error: {e}", err=True)
        click.echo("clean: nothing left" if not report.errors else "clean: some objects remain")
    sys.exit(1 if report.errors else 0)


@main.command("status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@needs_root
@friendly
def status_cmd(name: str | None, as_json: bool) -> None:
    """Hosts, ENIs (ids, addresses), subnets, security groups and fabric counters."""
    names = [name] if name else running()
    data = [status(n) for n in names]
    if as_json:
        click.echo(json.dumps(data[0] if name else data, indent=2))
        return
    if not data:
        click.echo("nothing is up")
        return
    for d in data:
        render.status(d)


def _alias(state: Any, host: str) -> str:
    """An instance or ENI id of a topology `serve` built -> its host name."""
    path = state.path / "aliases.json"
    if host.startswith(("i-", "eni-")) and path.exists():
        return str(json.loads(path.read_text()).get(host, host))
    return host


@main.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("host")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@needs_root
@friendly
def exec_cmd(name: str, host: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside HOST's namespace (its resolv.conf too); exit code passed through.

    \b
    Examples:
      hyperplane-emu exec shop client -- curl -s http://10.0.1.10:8080/
      hyperplane-emu exec shop app1 -- tcpdump -ni eth0
    """
    state, p = read_plan(name)
    host = _alias(state, host)
    ns = p.fabric_namespace if host == "fabric" else None
    if ns is None:
        if host not in p.hosts:
            raise click.ClickException(
                f"{name} has no host {host!r} (hosts: {', '.join(p.hosts)}, or fabric)"
            )
        ns = p.hosts[host].namespace
    # `ip netns exec` also bind-mounts /etc/netns/<ns>/resolv.conf and remounts /sys.
    argv = netns.exec_argv(ns, command)
    os.execv(argv[0], argv)


@main.command("flow-logs")
@click.argument("name")
@click.option("--eni", "eni_id", help="Only this ENI (an eni- id or a host name).")
@click.option("--now", is_flag=True, help="Close the current aggregation window first.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@click.option(
    "--format",
    "fmt",
    metavar="FIELDS",
    help='A custom format, AWS field names: "${version} ${vpc-id} ${srcaddr} ${tcp-flags} …".',
)
@needs_root
@friendly
def flow_logs(
    name: str, eni_id: str | None, now: bool, follow: bool, as_json: bool, fmt: str | None
) -> None:
    """VPC Flow Logs records (default format v2), per ENI, as the fabric wrote them."""
    from hyperplane_emu.cli import flowlogs

    flowlogs.target_fields(fmt)  # a bad format is a usage error, before anything else
    state, p = read_plan(name)
    flowlogs.show(state, p, eni_id, now=now, follow=follow, as_json=as_json, fmt=fmt)


@main.command()
@click.argument("name")
@click.argument("eni")
@click.option("-w", "write", type=click.Path(dir_okay=False), help="Write pcap here (- = stdout).")
@click.option("-c", "count", type=int, help="Stop after this many packets.")
@click.option("--timeout", type=float, help="Stop after this many seconds.")
@click.argument("filter_expr", nargs=-1)
@needs_root
@friendly
def capture(
    name: str,
    eni: str,
    write: str | None,
    count: int | None,
    timeout: float | None,
    filter_expr: tuple[str, ...],
) -> None:
    """Capture frames of an ENI (an eni- id or a host name) as they cross the fabric.

    Without -w, prints decoded packets (tcpdump). FILTER_EXPR is a pcap filter.
    """
    from hyperplane_emu.cli import capture as cap

    state, p = read_plan(name)
    sys.exit(cap.run(p, _alias(state, eni), write, count, timeout, list(filter_expr)))


@main.command()
@click.argument("name")
@click.argument("host")
@click.argument("url", required=False)
@click.option("--tcp", "tcp", metavar="ADDR:PORT", help="Open a TCP connection instead of a URL.")
@click.option("--json", "as_json", is_flag=True, help="A JSON object with the list of hops.")
@click.option(
    "--svg", type=click.Path(dir_okay=False), help="Also draw the hops as a sequence diagram."
)
@needs_root
@friendly
def trace(
    name: str, host: str, url: str | None, tcp: str | None, as_json: bool, svg: str | None
) -> None:
    """Send one real request from HOST and show every hop: SG verdicts, routes,
    PrivateLink, NLB target choice, address translation, the reply, or the drop.

    \b
    Examples:
      hyperplane-emu trace papi client https://<api-id>.execute-api.us-east-1.amazonaws.com/prod/orders
      hyperplane-emu trace shop client --tcp 10.0.1.10:9090
    """
    from hyperplane_emu.cli import trace as trace_mod

    state, p = read_plan(name)
    sys.exit(trace_mod.run(p, _alias(state, host), url, tcp, as_json, svg=svg))


@main.command()
@click.argument("topology")
@click.option(
    "-o", "out", default="-", show_default=True, type=click.Path(dir_okay=False),
    help="Where to write the picture (- = stdout).",
)  # fmt: skip
@click.option(
    "--format", "fmt", default="svg", show_default=True,
    type=click.Choice(["svg", "png", "pdf", "dot"]),
    help="dot: the Graphviz source (needs no Graphviz).",
)  # fmt: skip
@friendly
def diagram(topology: str, out: str, fmt: str) -> None:
    """Draw a topology (a FILE, an example's name, or the NAME of a running one):
    VPCs, subnets, hosts and ENIs with addresses, NLB/ALB, endpoints, PrivateLink and
    VPC links, API Gateway in its VPC. Renders with Graphviz; no root for a file.

    \b
    Examples:
      hyperplane-emu diagram examples/private-rest-api.yaml -o private-rest.svg
      hyperplane-emu diagram private-rest --format dot | dot -Tpng > private-rest.png
    """
    from hyperplane_emu import diagram as diagram_mod

    if Path(topology).is_file():
        from hyperplane_emu import cfn, plan

        # A CloudFormation/SAM/CDK template draws as the topology it becomes.
        p = (
            plan.build(cfn.load_checked(topology).topology)
            if cfn.is_template_file(topology)
            else lifecycle.load_plan(topology)
        )
    elif topology in running():
        p = read_plan(topology)[1]
    else:
        from hyperplane_emu import examples

        try:
            p = lifecycle.load_plan(examples.path(topology))
        except FileNotFoundError:
            raise click.ClickException(
                f"{topology!r} is neither a file, a running topology nor an example"
            ) from None
    text = diagram_mod.topology_dot(p)
    if fmt == "dot":
        click.echo(text, nl=False) if out == "-" else Path(out).write_text(text)
        return
    try:
        diagram_mod.render(text, out, fmt)
    except diagram_mod.GraphvizMissing as e:
        raise click.ClickException(str(e)) from None


@main.command("endpoint-connections")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@needs_root
@friendly
def endpoint_connections(name: str, as_json: bool) -> None:
    """Interface endpoints and their connection state (pendingAcceptance, available, …)."""
    from hyperplane_emu.runtime import endpoints

    state, p = read_plan(name)
    rows = endpoints.connections(state, p)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        render.endpoint_connections(rows)


def _decide(name: str, endpoint: str, verb: str) -> None:
    from hyperplane_emu.runtime import endpoints

    state, p = read_plan(name)
    ep, old, new = endpoints.decide(state, p, endpoint, verb)
    click.echo(f"{ep.id} ({ep.key}): {old} -> {new}")


@main.command()
@click.argument("name")
@click.argument("endpoint")
@needs_root
@friendly
def accept(name: str, endpoint: str) -> None:
    """Accept a pending endpoint connection (as the endpoint service's owner)."""
    _decide(name, endpoint, "accept")


@main.command()
@click.argument("name")
@click.argument("endpoint")
@needs_root
@friendly
def reject(name: str, endpoint: str) -> None:
    """Reject an endpoint connection: no traffic flows through it any more."""
    _decide(name, endpoint, "reject")


@main.command()
@click.option(
    "--scenario",
    default="all",
    show_default=True,
    help="private-api, vpc-link, two-privatelinks, http-api, link-generations, denied, or all.",
)
@click.option("--keep", is_flag=True, help="Leave the topology up at the end.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the pcaps and flow logs (default: a new one, named at the end).",
)
@needs_root
@friendly
def demo(scenario: str, keep: bool, out: Path | None) -> None:
    """The main job: the seed's architectures, real requests, every hop, checked against AWS."""
    from hyperplane_emu.cli import demo as demo_mod

    sys.exit(demo_mod.run(scenario=scenario, keep=keep, out=out))


# `serve` and `export` (the AWS API) live with their package; registered here.
from hyperplane_emu.awsapi.cli import register as _register_aws  # noqa: E402

_register_aws(main, needs_root, friendly)

if __name__ == "__main__":
    main()
