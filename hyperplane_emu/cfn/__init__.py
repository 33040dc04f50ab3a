"""CloudFormation, SAM and CDK templates -> topologies (docs/cloudformation.md).

    from hyperplane_emu import cfn

    if cfn.is_template(data):
        result = cfn.load("template.yaml", parameters={"Env": "prod"})
        result.topology          # spec.Topology, checked like any topology file
        result.translation       # what was skipped and why, outputs, names

Pure: no I/O but reading the file, no network. Errors are `SpecError`s whose
issues name the template path (`Resources.OrdersNlb.Properties.Subnets[1]`), so
the CLI reports them as it reports topology files (exit status 2).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperplane_emu import spec
from hyperplane_emu.cfn.template import TemplateError, is_template, read
from hyperplane_emu.cfn.translate import Translator
from hyperplane_emu.cfn.translation import Skipped, Translation
from hyperplane_emu.spec.errors import FILE, SpecError, SpecIssue
from hyperplane_emu.spec.yamltree import MAX_BYTES

__all__ = [
    "Loaded",
    "Skipped",
    "Translation",
    "is_template",
    "is_template_file",
    "load",
    "outputs_for",
    "translate",
]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


@dataclass
class Loaded:
    """A template turned into a checked topology."""

    topology: spec.Topology | None
    translation: Translation
    issues: list[SpecIssue] = field(default_factory=list)
    warnings: list[SpecIssue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.issues


def is_template_file(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as f:
            return is_template(f.read(MAX_BYTES + 1))
    except OSError:
        return False


def translate(
    data: bytes | str,
    source: str = "<template>",
    parameters: dict[str, str] | None = None,
    stack_name: str | None = None,
) -> Translation:
    """Template text -> topology document (not yet checked by spec)."""
    try:
        template = read(data, source)
    except TemplateError as e:
        return Translation({}, source, issues=list(e.issues))
    transform = template.body.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform] if transform else []
    for t in transforms:
        if t == SAM_TRANSFORM:
            from hyperplane_emu.cfn import sam

            try:
                template.body = sam.transform(template.body, parameters or {})
            except sam.SamError as e:
                return Translation({}, source, issues=[SpecIssue(FILE, str(e))])
        elif t != "AWS::LanguageExtensions":
            return Translation(
                {},
                source,
                issues=[
                    SpecIssue(
                        "Transform",
                        f"transform {t!r} is not emulated (AWS::Serverless-2016-10-31 and "
                        "AWS::LanguageExtensions are)",
                        template.line("Transform"),
                    )
                ],
            )
    template.body.pop("Transform", None)
    from hyperplane_emu.cfn import apigw, resources

    return Translator(template, parameters, stack_name).run(
        (resources.translate_all, apigw.translate_all)
    )


def load(
    path: str | os.PathLike[str],
    parameters: dict[str, str] | None = None,
    strict: bool = False,
    stack_name: str | None = None,
) -> Loaded:
    """Read, translate and check a template; never raises for bad content."""
    t0 = time.perf_counter()
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        tr = Translation({}, source, issues=[SpecIssue(FILE, f"cannot read {source}: {e}")])
        return Loaded(None, tr, list(tr.issues))
    name = stack_name or _stack_name(source)
    return loads(data, source, parameters, strict, name, t0)


def loads(
    data: bytes | str,
    source: str = "<template>",
    parameters: dict[str, str] | None = None,
    strict: bool = False,
    stack_name: str | None = None,
    t0: float | None = None,
) -> Loaded:
    t0 = time.perf_counter() if t0 is None else t0
    tr = translate(data, source, parameters, stack_name)
    issues = list(tr.issues)
    if strict:
        issues += [
            SpecIssue(s.path, f"--strict: {s.type} is not emulated: {s.why}", tr.lines.get(s.path))
            for s in tr.skipped
        ]
    if issues:
        return Loaded(None, tr, sorted(issues, key=_order), seconds=time.perf_counter() - t0)
    text = yaml.safe_dump(tr.topology, sort_keys=False, allow_unicode=True)
    v = spec.validate_text(text, source)
    issues = [reword(tr, i) for i in v.issues]
    warnings = [reword(tr, w) for w in v.warnings]
    return Loaded(v.topology, tr, issues, warnings, time.perf_counter() - t0)


def load_checked(
    path: str | os.PathLike[str],
    parameters: dict[str, str] | None = None,
    strict: bool = False,
) -> Checked:
    """`load`, raising SpecError (exit 2 in the CLI) when the template is not usable."""
    got = load(path, parameters, strict)
    if got.issues or got.topology is None:
        raise SpecError(got.issues or [SpecIssue(FILE, "nothing to build")], os.fspath(path))
    return Checked(got.topology, got.translation)


@dataclass(frozen=True)
class Checked:
    """A usable template: its topology and how it was translated."""

    topology: spec.Topology
    translation: Translation


def _order(issue: SpecIssue) -> tuple[int, str]:
    return (issue.line or 1 << 30, issue.path)


def _stack_name(source: str) -> str:
    stem = Path(source).name
    for suffix in (".template.json", ".template.yaml", ".json", ".yaml", ".yml", ".template"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9-]", "-", stem) or "stack"


def reword(tr: Translation, issue: SpecIssue) -> SpecIssue:
    """A spec issue about the generated document -> one about the template."""
    path = issue.path
    best = ""
    for topo_path in tr.provenance:
        if (
            path == topo_path
            or path.startswith(topo_path + ".")
            or path.startswith(topo_path + "[")
        ) and len(topo_path) > len(best):
            best = topo_path
    if not best:
        return SpecIssue(path, issue.message)
    cfn_path = tr.provenance[best]
    return SpecIssue(
        cfn_path,
        f"{issue.message} (topology {path})",
        tr.lines.get(cfn_path) or _line_of(tr, cfn_path),
    )


def _line_of(tr: Translation, path: str) -> int | None:
    while path:
        if path in tr.lines:
            return tr.lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            return None
        path = path[:cut]
    return None


def outputs_for(translation: Translation, plan: Any) -> dict[str, str]:
    """The template's Outputs with stand-in ids replaced by the plan's real ones
    (API ids, VPC link ids, endpoint ids, load balancer ARNs and DNS names…)."""
    tokens = translation.tokens
    if tokens is None:
        return dict(translation.outputs)
    real: dict[str, str] = {}
    for token, (logical, attr) in tokens.owner.items():
        value = _real(translation, plan, logical, attr)
        if value is not None:
            real[token] = value
    out = {}
    for name, value in translation.outputs.items():
        for token in sorted(real, key=len, reverse=True):
            if token in value:
                value = value.replace(token, real[token])
        out[name] = value
    return out


def _real(translation: Translation, plan: Any, logical: str, attr: str) -> str | None:
    path = translation.names.get(logical, "")
    parts = path.split(".")
    if parts[0] == "apis" and len(parts) == 2:
        for api in plan.apis.values():
            if api.name == parts[1]:
                return {
                    "Ref": api.id,
                    "RestApiId": api.id,
                    "ApiId": api.id,
                    "ApiEndpoint": f"https://{api.hostname}",
                }.get(attr)
        return None
    if parts[0] != "vpcs" or len(parts) < 2:
        return None
    vpc = plan.vpcs.get(parts[1])
    if vpc is None:
        return None
    if len(parts) == 2:
        return vpc.id if attr in ("Ref", "VpcId") else vpc.cidr if attr == "CidrBlock" else None
    kind, name = parts[2], parts[3] if len(parts) > 3 else ""
    if kind == "subnets" and name in vpc.subnets:
        return vpc.subnets[name].id if attr in ("Ref", "SubnetId") else None
    if kind == "security_groups" and name in vpc.security_groups and len(parts) == 4:
        return vpc.security_groups[name].id if attr in ("Ref", "GroupId") else None
    if kind == "hosts" and name in plan.hosts:
        ip = next((e.ip for e in plan.enis if e.owner == name and e.kind == "host"), None)
        return ip if attr == "PrivateIp" else None
    if kind == "load_balancers":
        lb = plan.load_balancers.get(f"{parts[1]}/{name}")
        if lb is None:
            return None
        if len(parts) == 4:
            return {"Ref": lb.arn, "LoadBalancerArn": lb.arn, "DNSName": lb.dns_name}.get(attr)
        if parts[4] == "target_groups" and len(parts) == 6 and parts[5] in lb.target_groups:
            return lb.target_groups[parts[5]].arn if attr in ("Ref", "TargetGroupArn") else None
        return None
    if kind == "endpoints":
        ep = plan.endpoints.get(f"{parts[1]}/{name}")
        return ep.id if ep is not None and attr in ("Ref", "Id") else None
    if kind == "endpoint_services":
        svc = plan.endpoint_services.get(f"{parts[1]}/{name}")
        return svc.id if svc is not None and attr in ("Ref", "ServiceId") else None
    return None


def report_lines(translation: Translation) -> list[str]:
    """The skip report: resources not emulated (what `--strict` refuses), then what
    has no effect here; one line each, for stderr."""
    lines = [f"skipped {s}" for s in translation.skipped]
    lines += [f"no effect: {i}" for i in translation.ignored]
    if translation.ignored_properties:
        props = "; ".join(
            f"{t.split('::', 1)[1]} {', '.join(ps)}"
            for t, ps in translation.ignored_properties.items()
        )
        lines.append(f"properties without effect here: {props}")
    return lines


def host_names(translation: Translation) -> dict[str, str]:
    """Logical id -> host name, for instances and ENIs that became hosts (what `exec`,
    `capture` and `trace` take)."""
    return {
        logical: path.rsplit(".", 1)[1]
        for logical, path in translation.names.items()
        if ".hosts." in path and path.count(".") == 3
    }


def parse_parameters(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`Key=Value` pairs (`--parameter`); a pair without `=` raises ValueError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--parameter {pair!r}: expected Key=Value")
        out[key] = value
    return out
