"""What `hyperplane_emu.up`/`load` accept -> a plan: a topology file, a mapping (the
YAML as a dict), an example's name, or a CloudFormation/SAM/CDK template.

Apart from the handle (api.py) because the ways to describe a topology grow on
their own (templates came after files).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hyperplane_emu import plan as planlib
from hyperplane_emu import spec
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.spec import names as spec_names

Source = str | os.PathLike[str] | Mapping[str, Any]


def plan_of(source: Source | Plan, name: str | None) -> Plan:
    if isinstance(source, Plan):
        return source
    if isinstance(source, Mapping):
        topology = spec.loads(yaml.safe_dump(dict(source), sort_keys=False), "<dict>")
    else:
        path = Path(source)
        if not path.exists() and not path.suffix:
            from hyperplane_emu import examples

            path = Path(examples.path(str(source)))
        topology = spec.load(path)
    if name is not None and name != topology.name:
        if not spec_names.NAME.fullmatch(name) or len(name) > spec_names.TOPOLOGY_NAME_MAX:
            raise ValueError(
                f"topology name {name!r}: lower-case letters, digits and '-', starting with a "
                f"letter, at most {spec_names.TOPOLOGY_NAME_MAX} characters"
            )
        topology = dataclasses.replace(topology, name=name)
    return planlib.build(topology)
