"""Plan <-> JSON. Byte-identical output for equal plans (sorted keys, fixed indent).

Decoding is driven by the dataclasses' type hints, so a field added to the
model is serialised without touching this module.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from hyperplane_emu.plan.model import PLAN_VERSION, Plan


class PlanFormatError(ValueError):
    """plan.json is unreadable: wrong version or shape (written by another release?)."""


def to_json(plan: Plan) -> str:
    return json.dumps(dataclasses.asdict(plan), sort_keys=True, indent=2) + "\n"


def from_json(text: str) -> Plan:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise PlanFormatError(f"plan.json is not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("version") != PLAN_VERSION:
        got = raw.get("version") if isinstance(raw, dict) else None
        raise PlanFormatError(f"plan.json has version {got!r}; this release reads {PLAN_VERSION}")
    try:
        plan = _decode(Plan, raw)
    except (TypeError, KeyError, ValueError) as e:
        raise PlanFormatError(f"plan.json does not match this release's plan model: {e}") from None
    assert isinstance(plan, Plan)
    return plan


def _decode(tp: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__}: expected an object, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _decode(hints[f.name], value[f.name])
        return tp(**kwargs)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple:
        return tuple(_decode(args[0], v) for v in value)
    if origin is dict:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _decode(inner[0], value)
    return value
