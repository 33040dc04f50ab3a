"""A REST API's resource `Policy` (IAM JSON) -> the topology's `policy` statements.

Only what the emulator evaluates on a request: Allow/Deny, execute-api:Invoke,
resource ARN patterns, and the source VPC / VPC endpoint conditions.
"""

from __future__ import annotations

import json
from typing import Any

from hyperplane_emu.cfn.translate import Translator

CONDITION_MAP = {
    ("stringequals", "aws:sourcevpce"): "source_vpce",
    ("stringnotequals", "aws:sourcevpce"): "not_source_vpce",
    ("stringequals", "aws:sourcevpc"): "source_vpc",
    ("ipaddress", "aws:sourceip"): "source_ip",
    ("ipaddress", "aws:vpcsourceip"): "vpc_source_ip",
}


def resource_policy(tr: Translator, doc: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            tr.error(path, "the policy is not JSON")
            return []
    if not isinstance(doc, dict):
        tr.error(path, "a policy document is a mapping with Statement")
        return []
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = []
    for i, st in enumerate(statements if isinstance(statements, list) else []):
        spath = f"{path}.Statement[{i}]"
        if not isinstance(st, dict):
            tr.error(spath, "a statement is a mapping")
            continue
        got: dict[str, Any] = {"effect": str(st.get("Effect", ""))}
        actions = st.get("Action", "execute-api:Invoke")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(str(a).lower() in ("execute-api:invoke", "execute-api:*", "*") for a in actions):
            continue
        principal = st.get("Principal", "*")
        if principal not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
            tr.ignore(
                f"{spath}.Principal: IAM principals are not emulated (callers are "
                "anonymous); the statement applies to every caller"
            )
        resources = st.get("Resource", "*")
        resources = resources if isinstance(resources, list) else [resources]
        got["resources"] = [resource_pattern(tr, str(r), f"{spath}.Resource") for r in resources]
        if got["resources"] == ["*"]:
            del got["resources"]
        for op, conds in (st.get("Condition") or {}).items():
            if not isinstance(conds, dict):
                continue
            for key, values in conds.items():
                topo_key = CONDITION_MAP.get((op.lower(), key.lower()))
                if topo_key is None:
                    tr.error(
                        f"{spath}.Condition.{op}.{key}",
                        f"condition {op} {key} is not "
                        "emulated (aws:SourceVpce, aws:SourceVpc, aws:SourceIp, "
                        "aws:VpcSourceIp)",
                    )
                    continue
                values = values if isinstance(values, list) else [values]
                got[topo_key] = [_policy_value(tr, str(v)) for v in values]
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in st:
                tr.error(f"{spath}.{key}", f"{key} is not emulated")
        out.append(got)
    return out


def _policy_value(tr: Translator, value: str) -> str:
    """A vpce-/vpc- stand-in id of this template -> the topology's `<vpc>/<endpoint>` or VPC."""
    owner = tr.stack.tokens.owner.get(value)
    if owner is None:
        return value
    path = tr.out.names.get(owner[0], "")
    parts = path.split(".")
    if len(parts) == 4 and parts[2] == "endpoints":
        return f"{parts[1]}/{parts[3]}"
    if len(parts) == 2 and parts[0] == "vpcs":
        return parts[1]
    return value


def resource_pattern(tr: Translator, arn: str, path: str) -> str:
    """`execute-api:/*`, `execute-api:/prod/GET/orders`, `arn:aws:execute-api:…:id/*/GET/x`
    -> `*` or `GET /x` (the part after the stage, as the topology writes it)."""
    rest = arn.split("execute-api:", 1)[1] if "execute-api:" in arn else arn
    if not rest.startswith("/"):
        rest = "/" + rest.split("/", 1)[1] if "/" in rest else "/*"
    parts = rest.lstrip("/").split("/", 2)
    if len(parts) < 2 or (parts[1:] == ["*"] and len(parts) == 2):
        if parts[0] not in ("*", "") and len(parts) >= 1 and parts != ["*"]:
            tr.ignore(f"{path}: stage-specific resources are applied to every stage")
        return "*"
    stage, method = parts[0], parts[1]
    if stage != "*":
        tr.ignore(f"{path}: stage-specific resources are applied to every stage")
    sub = "/" + (parts[2] if len(parts) > 2 else "")
    if method == "*" and sub in ("/", "/*"):
        return "*"
    return f"{method.upper() if method != '*' else '*'} {sub if len(parts) > 2 else '/*'}"
