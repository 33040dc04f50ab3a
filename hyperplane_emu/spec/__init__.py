"""Layer 1, spec: a YAML topology file -> a frozen, validated `Topology`.

    topology = spec.load("shop.yaml")        # raises SpecError listing every problem
    result = spec.validate("shop.yaml")      # never raises for a bad file: for the CLI

The file format is docs/topology.md. Reading is safe on hostile input (size
limit, UTF-8 only, no YAML aliases, bounded nesting; see `yamltree`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hyperplane_emu.spec.errors import FILE, SpecError, SpecIssue
from hyperplane_emu.spec.loader import build
from hyperplane_emu.spec.model import (
    Host,
    SecurityGroup,
    Serve,
    Settings,
    SgRule,
    Subnet,
    Topology,
    Vpc,
)
from hyperplane_emu.spec.nodes import Ctx
from hyperplane_emu.spec.sections import topology_section, vpc_section
from hyperplane_emu.spec.yamltree import MAX_BYTES, parse

__all__ = [
    "Host",
    "SecurityGroup",
    "Serve",
    "Settings",
    "SgRule",
    "SpecError",
    "SpecIssue",
    "Subnet",
    "Topology",
    "Validation",
    "Vpc",
    "load",
    "loads",
    "topology_section",
    "validate",
    "validate_text",
    "vpc_section",
]


def loads(text: str | bytes, source: str = "<string>") -> Topology:
    """Parse and check a topology given as text or bytes; raise SpecError on any issue."""
    return build(Ctx(), parse(text), source)


def load(path: str | os.PathLike[str]) -> Topology:
    """Read and check a topology file; raise SpecError (also when it cannot be read)."""
    return loads(_read(path), os.fspath(path))


def _read(path: str | os.PathLike[str]) -> bytes:
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            # One byte over the limit is enough for parse() to report the size.
            return f.read(MAX_BYTES + 1)
    except OSError as e:
        raise SpecError(
            [SpecIssue(FILE, f"cannot read {source}: {e.strerror or e}")], source
        ) from e


@dataclass(frozen=True)
class Validation:
    """What `validate` found: the topology when valid, else every issue; warnings either way."""

    topology: Topology | None
    issues: tuple[SpecIssue, ...]
    warnings: tuple[SpecIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


def validate_text(text: str | bytes, source: str = "<string>") -> Validation:
    ctx = Ctx()
    try:
        topology = build(ctx, parse(text), source)
    except SpecError as e:
        return Validation(None, tuple(e.issues), tuple(ctx.warnings))
    return Validation(topology, (), tuple(ctx.warnings))


def validate(path: str | os.PathLike[str]) -> Validation:
    """Check a file without raising for its content: for `hyperplane-emu validate`."""
    try:
        data = _read(path)
    except SpecError as e:
        return Validation(None, tuple(e.issues), ())
    return validate_text(data, os.fspath(path))
