"""API Gateway resource policies: parse once, evaluate per request (pure).

The evaluation follows IAM's documented logic for a resource policy with an
anonymous caller (no SigV4 signature, which is what every emulated client is):

- an explicit `Deny` whose Principal, Action, Resource and Condition all
  match wins;
- otherwise an `Allow` that matches grants;
- otherwise the request is implicitly denied.

Principals: anonymous callers match only `"*"` and `{"AWS": "*"}` (and any
`NotPrincipal` that does not list `*`); a statement naming accounts or roles
never applies to them, as on AWS where such a statement needs a signed caller.

Conditions (IAM "Condition operators"): blocks are ANDed, keys inside an
operator are ANDed, the values of one key are ORed (for negated operators: the
value must match none of them). A key absent from the request makes a
positive operator false and a negated one (`StringNotEquals`, `NotIpAddress`,
`StringNotLike`, `ArnNotEquals`, `ArnNotLike`) true; `...IfExists` makes any
operator true for an absent key; `Null` tests presence. Condition key names
are case-insensitive. `ForAnyValue:`/`ForAllValues:` are accepted; every key
here is single-valued, so they act as the plain operator, except that
`ForAllValues` holds for an absent key (IAM's documented pitfall).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ACTION = "execute-api:Invoke"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyError(ValueError):
    """A policy document that cannot be evaluated; `errors` has one line per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


@dataclass(frozen=True)
class RequestContext:
    """What a statement is matched against.

    `keys` holds the global condition keys present for this request, names in
    lower case (`aws:sourcevpce`, `aws:sourcevpc`, `aws:sourceip`, ...).
    """

    resource_arn: str
    keys: Mapping[str, str]
    action: str = ACTION


def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM wildcard matching: `*` any run of characters (slashes too), `?` one."""
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# ---------------------------------------------------------------- conditions

_POSITIVE = {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "IpAddress",
    "Bool",
    "ArnEquals",
    "ArnLike",
    "NumericEquals",
}
_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
}
OPERATORS = frozenset(_POSITIVE | _NEGATED | {"Null"})

Matcher = Callable[[str], bool]


def _value_matcher(base: str, value: str, path: str, errors: list[str]) -> Matcher | None:
    """A predicate `request value -> does it equal/match this policy value`."""
    if base in ("StringEquals", "StringNotEquals"):
        return value.__eq__
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        folded = value.casefold()
        return lambda v: v.casefold() == folded
    if base in (
        "StringLike",
        "StringNotLike",
        "ArnLike",
        "ArnNotLike",
        "ArnEquals",
        "ArnNotEquals",
    ):
        # ArnEquals also takes wildcards (IAM: "ArnEquals and ArnLike behave the same").
        rx = glob_regex(value)
        return lambda v: rx.fullmatch(v) is not None
    if base in ("IpAddress", "NotIpAddress"):
        try:
            net: IpNetwork = ipaddress.ip_network(value, strict=False)
        except ValueError:
            errors.append(f"{path}: {value!r} is not an IP address or CIDR")
            return None
        return lambda v: _in_network(v, net)
    if base == "Bool":
        if value.lower() not in ("true", "false"):
            errors.append(f"{path}: Bool takes true or false, not {value!r}")
            return None
        want = value.lower()
        return lambda v: v.lower() == want
    if base in ("NumericEquals", "NumericNotEquals"):
        try:
            num = float(value)
        except ValueError:
            errors.append(f"{path}: {value!r} is not a number")
            return None
        return lambda v: _num_eq(v, num)
    raise AssertionError(base)


def _in_network(v: str, net: IpNetwork) -> bool:
    try:
        return ipaddress.ip_address(v) in net
    except ValueError:
        return False


def _num_eq(v: str, num: float) -> bool:
    try:
        return float(v) == num
    except ValueError:
        return False


@dataclass(frozen=True)
class Condition:
    """One `operator: {key: values}` pair, compiled."""

    operator: str  # as written, e.g. "ForAnyValue:StringNotEqualsIfExists"
    base: str  # "StringNotEquals"
    key: str  # lower case
    values: tuple[str, ...]
    if_exists: bool
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    matchers: tuple[Matcher, ...]

    def holds(self, keys: Mapping[str, str]) -> bool:
        value = keys.get(self.key)
        if self.base == "Null":
            want_absent = self.values[0].lower() == "true"
            return (value is None) == want_absent
        if value is None:
            # IAM: an absent key makes ForAllValues true and ForAnyValue false.
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.if_exists or self.base in _NEGATED
        hit = any(m(value) for m in self.matchers)
        return not hit if self.base in _NEGATED else hit


def _parse_conditions(node: Any, path: str, errors: list[str]) -> tuple[Condition, ...]:
    if node is None:
        return ()
    if not isinstance(node, dict):
        errors.append(f"{path}: must be an object of operator -> {{key: values}}")
        return ()
    out: list[Condition] = []
    for op, block in node.items():
        opath = f"{path}.{op}"
        qualifier, _, rest = op.rpartition(":")
        if qualifier not in ("", "ForAnyValue", "ForAllValues"):
            errors.append(f"{opath}: unknown set operator {qualifier!r}")
            continue
        base = rest
        if_exists = base.endswith("IfExists") and base != "IfExists"
        if if_exists:
            base = base[: -len("IfExists")]
        if base not in OPERATORS:
            errors.append(
                f"{opath}: condition operator {rest!r} is not supported "
                f"(supported: {', '.join(sorted(OPERATORS))}, each with IfExists)"
            )
            continue
        if not isinstance(block, dict) or not block:
            errors.append(f"{opath}: must be a non-empty object of key -> value(s)")
            continue
        for key, raw in block.items():
            kpath = f"{opath}.{key}"
            values = _strings(raw, kpath, errors)
            if not values:
                if values is not None:
                    errors.append(f"{kpath}: needs at least one value")
                continue
            if base == "Null" and (len(values) != 1 or values[0].lower() not in ("true", "false")):
                errors.append(f"{kpath}: Null takes a single true or false")
                continue
            matchers: list[Matcher] = []
            if base != "Null":
                for v in values:
                    m = _value_matcher(base, v, kpath, errors)
                    if m is not None:
                        matchers.append(m)
            out.append(
                Condition(
                    operator=op,
                    base=base,
                    key=str(key).lower(),
                    values=tuple(values),
                    if_exists=if_exists,
                    qualifier=qualifier,
                    matchers=tuple(matchers),
                )
            )
    return tuple(out)


def _strings(raw: Any, path: str, errors: list[str]) -> list[str] | None:
    """A policy value or list of values as strings (JSON booleans as IAM writes them)."""
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            errors.append(f"{path}: {item!r} is not a string")
            return None
    return out


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # "Allow" | "Deny"
    anonymous: bool  # does the principal part match an anonymous caller
    actions: tuple[re.Pattern[str], ...]
    not_actions: bool
    resources: tuple[re.Pattern[str], ...]
    not_resources: bool
    conditions: tuple[Condition, ...]

    def applies(self, ctx: RequestContext) -> bool:
        if not self.anonymous:
            return False
        hit = any(p.fullmatch(ctx.action) for p in self.actions)
        if hit == self.not_actions:
            return False
        hit = any(p.fullmatch(ctx.resource_arn) for p in self.resources)
        if hit == self.not_resources:
            return False
        return all(c.holds(ctx.keys) for c in self.conditions)


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]

    def evaluate(self, ctx: RequestContext) -> Decision:
        allowed = False
        for st in self.statements:
            if not st.applies(ctx):
                continue
            if st.effect == "Deny":
                return Decision.EXPLICIT_DENY
            allowed = True
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _principal_matches_anonymous(node: Any) -> bool:
    if node == "*":
        return True
    if isinstance(node, dict):
        aws = node.get("AWS")
        values = aws if isinstance(aws, list) else [aws]
        return "*" in values
    return False


def expand_resource(pattern: str, arn_prefix: str) -> str:
    """`execute-api:/stage/GET/path` is API Gateway's short form for this API's ARN."""
    if pattern.startswith("execute-api:/"):
        return arn_prefix + pattern[len("execute-api:") :]
    return pattern


def parse_policy(doc: Any, *, arn_prefix: str, path: str = "policy") -> Policy:
    """Compile a policy document; raise PolicyError listing every problem.

    `arn_prefix` is `arn:aws:execute-api:<region>:<account>:<api-id>`, used to
    expand the short resource form.
    """
    errors: list[str] = []
    if isinstance(doc, str):
        import json

        try:
            doc = json.loads(doc)
        except ValueError as e:
            raise PolicyError([f"{path}: not JSON: {e}"]) from e
    if not isinstance(doc, dict):
        raise PolicyError([f"{path}: must be a policy document (an object)"])
    raw = doc.get("Statement")
    if raw is None:
        raise PolicyError([f"{path}.Statement: missing"])
    stmts = raw if isinstance(raw, list) else [raw]
    out: list[Statement] = []
    for i, st in enumerate(stmts):
        spath = f"{path}.Statement[{i}]"
        if not isinstance(st, dict):
            errors.append(f"{spath}: must be an object")
            continue
        before = len(errors)
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            errors.append(f"{spath}.Effect: must be Allow or Deny, not {effect!r}")
        if ("Principal" in st) == ("NotPrincipal" in st):
            errors.append(f"{spath}: needs exactly one of Principal, NotPrincipal")
            anonymous = False
        elif "Principal" in st:
            anonymous = _principal_matches_anonymous(st["Principal"])
        else:
            anonymous = not _principal_matches_anonymous(st["NotPrincipal"])
        actions, not_actions = _patterns(st, "Action", spath, errors, ignore_case=True)
        resources, not_resources = _patterns(
            st, "Resource", spath, errors, expand=lambda p: expand_resource(p, arn_prefix)
        )
        conditions = _parse_conditions(st.get("Condition"), f"{spath}.Condition", errors)
        if len(errors) != before:
            continue
        out.append(
            Statement(
                sid=str(st.get("Sid", i)),
                effect=str(effect),
                anonymous=anonymous,
                actions=actions,
                not_actions=not_actions,
                resources=resources,
                not_resources=not_resources,
                conditions=conditions,
            )
        )
    if errors:
        raise PolicyError(errors)
    return Policy(tuple(out))


def _patterns(
    st: Mapping[str, Any],
    field: str,
    spath: str,
    errors: list[str],
    ignore_case: bool = False,
    expand: Callable[[str], str] | None = None,
) -> tuple[tuple[re.Pattern[str], ...], bool]:
    neg = "Not" + field
    if (field in st) == (neg in st):
        errors.append(f"{spath}: needs exactly one of {field}, {neg}")
        return (), False
    name = field if field in st else neg
    values = _strings(st[name], f"{spath}.{name}", errors)
    if not values:
        if values is not None:
            errors.append(f"{spath}.{name}: needs at least one value")
        return (), False
    pats = tuple(glob_regex(expand(v) if expand else v, ignore_case) for v in values)
    return pats, name == neg


def request_arn(arn_prefix: str, stage: str, method: str, resource_path: str) -> str:
    """The ARN API Gateway authorizes: `<prefix>/<stage>/<METHOD>/<path without leading />`."""
    return f"{arn_prefix}/{stage}/{method}/{resource_path.lstrip('/')}"


def masked_arn(arn: str) -> str:
    """The ARN as API Gateway prints it in a denial: account id masked but its last 4 digits."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) > 4:
        parts[4] = "*" * (len(parts[4]) - 4) + parts[4][-4:]
    return ":".join(parts)
