"""What a translation gives back: the topology document, the issues, what was skipped.

Apart from translate.py (which builds it) because the CLI, the Python API and
`cfn.outputs_for` read it without needing the translator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyperplane_emu.cfn.tokens import Tokens
from hyperplane_emu.spec.errors import SpecIssue


@dataclass(frozen=True)
class Skipped:
    logical_id: str
    type: str
    why: str
    path: str

    def __str__(self) -> str:
        return f"{self.path} ({self.type}): {self.why}"


@dataclass
class Translation:
    """The outcome: a topology document, or the issues; what was skipped and why."""

    topology: dict[str, Any]
    source: str
    issues: list[SpecIssue] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Recognised and without effect here (a type, a property), each with why."""
    ignored_properties: dict[str, list[str]] = field(default_factory=dict)
    """Type -> properties read and ignored (ImageId, Tags…): no effect on packets."""
    names: dict[str, str] = field(default_factory=dict)
    """Logical id -> where it went in the topology (`vpcs.vpc.hosts.client`)."""
    provenance: dict[str, str] = field(default_factory=dict)
    """Topology path -> template path, to re-word spec messages."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Output name -> value, with stand-in ids (see `outputs_for`)."""
    tokens: Tokens | None = None
    token_targets: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Stand-in value -> (topology path of its resource, attribute): for Outputs."""
    lines: dict[str, int] = field(default_factory=dict)
