"""A template's `Parameters` section + `--parameter` overrides -> the values `Ref` reads.

CloudFormation's checks of a parameter value (AllowedValues, AllowedPattern,
Number, list types) with the template path of the parameter that fails; kept
apart from the translator because it changes with the parameter types AWS adds,
not with the resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hyperplane_emu.spec.errors import FILE


def parameter_values(
    declared: Any, overrides: dict[str, str], error: Callable[[str, str], None]
) -> dict[str, Any]:
    """Name -> value (a list for List/CommaDelimitedList); each problem goes to `error`
    (path, message) and leaves that parameter out."""
    values: dict[str, Any] = {}
    if not isinstance(declared, dict):
        error("Parameters", "expected a mapping")
        return values
    for key in overrides:
        if key not in declared:
            error(
                FILE,
                f"--parameter {key}: the template declares no parameter "
                f"{key!r} (declared: {', '.join(declared) or 'none'})",
            )
    for name, spec in declared.items():
        path = f"Parameters.{name}"
        if not isinstance(spec, dict) or "Type" not in spec:
            error(path, "a parameter is a mapping with a Type")
            continue
        ptype = str(spec["Type"])
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            error(path, f"no value: the parameter has no Default; pass --parameter {name}=…")
            continue
        text = (
            ",".join(str(x) for x in raw)
            if isinstance(raw, list)
            else (str(raw).lower() if isinstance(raw, bool) else str(raw))
        )
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and text not in [str(a) for a in allowed]:
            error(path, f"value {text!r} is not one of AllowedValues {allowed}")
            continue
        pattern = spec.get("AllowedPattern")
        if isinstance(pattern, str) and not ptype.startswith("List"):
            try:
                if not re.fullmatch(pattern, text):
                    error(path, f"value {text!r} does not match AllowedPattern {pattern!r}")
                    continue
            except re.error:
                pass
        if ptype == "Number":
            try:
                float(text)
            except ValueError:
                error(path, f"value {text!r} is not a Number")
                continue
        if ptype.startswith("List<") or ptype == "CommaDelimitedList":
            values[name] = [x.strip() for x in text.split(",")] if text else []
        elif ptype.startswith("AWS::SSM::Parameter::Value"):
            # Resolved in an account; only ever feeds properties the emulator ignores.
            values[name] = f"resolve:ssm:{text}"
        else:
            values[name] = text
    return values
