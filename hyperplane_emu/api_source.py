"""What `hyperplane_emu.up`/`load` accept -> a plan: a topology file, a mapping (the
YAML as a dict), an example's name, or a CloudFormation/SAM/CDK template.

Apart from the handle (api.py) because the ways to describe a topology grow on
their own (templates came after files).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hyperplane_emu import cfn, spec
from hyperplane_emu import plan as planlib
from hyperplane_emu.cfn.translation import Translation
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.spec import names as spec_names
from hyperplane_emu.spec.errors import FILE, SpecError, SpecIssue

Source = str | os.PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True)
class Loaded:
    """A source made concrete: its plan, and for a template how it was translated."""

    plan: Plan
    translation: Translation | None = None


def plan_of(
    source: Source | Plan, name: str | None, parameters: Mapping[str, str] | None = None
) -> Plan:
    return load(source, name, parameters).plan


def load(
    source: Source | Plan, name: str | None, parameters: Mapping[str, str] | None = None
) -> Loaded:
    """`parameters` are a template's (`--parameter` of the CLI); a template is told
    from a topology file by its content (AWSTemplateFormatVersion, Resources with
    typed resources), as the CLI tells them apart."""
    if isinstance(source, Plan):
        if parameters:
            raise ValueError("parameters are for CloudFormation templates, not a built plan")
        return Loaded(source)
    translation: Translation | None = None
    params = dict(parameters or {})
    if isinstance(source, Mapping):
        text = yaml.safe_dump(dict(source), sort_keys=False)
        if cfn.is_template(text.encode()):
            got = cfn.loads(text, "<dict>", params)
            topology, translation = _checked(got, "<dict>")
        else:
            _no_parameters(params, "<dict>")
            topology = spec.loads(text, "<dict>")
    else:
        path = Path(source)
        if not path.exists() and not path.suffix:
            from hyperplane_emu import examples

            path = Path(examples.path(str(source)))
        if cfn.is_template_file(path):
            checked = cfn.load_checked(path, params)
            topology, translation = checked.topology, checked.translation
        else:
            _no_parameters(params, str(path))
            topology = spec.load(path)
    if name is not None and name != topology.name:
        if not spec_names.NAME.fullmatch(name) or len(name) > spec_names.TOPOLOGY_NAME_MAX:
            raise ValueError(
                f"topology name {name!r}: lower-case letters, digits and '-', starting with a "
                f"letter, at most {spec_names.TOPOLOGY_NAME_MAX} characters"
            )
        topology = dataclasses.replace(topology, name=name)
    return Loaded(planlib.build(topology), translation)


def _checked(got: cfn.Loaded, source: str) -> tuple[spec.Topology, Translation]:
    if got.issues or got.topology is None:
        raise SpecError(got.issues or [SpecIssue(FILE, "nothing to build")], source)
    return got.topology, got.translation


def _no_parameters(parameters: Mapping[str, str], source: str) -> None:
    # Accepting them silently would let a caller believe a value took effect.
    if parameters:
        raise ValueError(
            f"{source} is a topology file: parameters ({', '.join(parameters)}) are for "
            "CloudFormation templates"
        )
