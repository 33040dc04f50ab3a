"""What the exporter produces, and the naming rules its two halves share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TAG_SERVE = "hyperplane-emu:serve"
_NAME_BAD = re.compile(r"[^a-z0-9-]+")


@dataclass
class Export:
    doc: dict[str, Any]
    overrides: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # AWS id -> name in the doc
    # target group ARN -> (load balancer key "<vpc>/<lb>", target group name)
    target_groups: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _tags(obj: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in obj.get("Tags", []) or []}


def _name(candidate: str, fallback: str, taken: set[str]) -> str:
    n = _NAME_BAD.sub("-", candidate.lower()).strip("-")[:32]
    if not n or not n[0].isalpha() or n in taken:
        n = fallback.lower()
        if not n[0].isalpha():
            n = "x" + n
    taken.add(n)
    return n


def _port(lo: int, hi: int) -> int | str:
    return lo if lo == hi else f"{lo}-{hi}"
