"""Intrinsic functions, parameters, pseudo parameters, conditions and mappings.

`Stack` holds what a template's values can refer to; `Stack.eval(value, path)`
returns the value with every intrinsic resolved, as CloudFormation would at
create time, except that resource ids are stand-ins (`tokens`). A problem raises
`CfnError(path, message)` with the property path of the value that caused it;
callers catch it per property so that one run reports every problem.

Resolution is lazy: `Fn::If` evaluates only the branch taken (a `Ref` in the
other branch to a resource whose condition is false is fine, as on AWS), and a
resource's attributes that come from its own properties (`Fn::GetAtt Vpc.CidrBlock`)
evaluate those properties on demand. Cycles are refused before any of this runs
(`dependencies`), as CloudFormation refuses them.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hyperplane_emu.cfn.tokens import Tokens

NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()
"""`Ref: AWS::NoValue`: the property (or list item) is removed."""

PSEUDO = (
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::Partition",
    "AWS::NoValue",
    "AWS::NotificationARNs",
)
SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class CfnError(Exception):
    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass
class Resource:
    id: str
    type: str
    properties: dict[str, Any]
    path: str  # Resources.<id>
    metadata: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None
    depends_on: tuple[str, ...] = ()


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return key == "Ref" or key.startswith("Fn::") or key == "Condition"


AttrFn = Callable[[Resource, str, str], Any]
"""(resource, attribute, path) -> the attribute's value; supplied by the translator,
which knows which attributes each type has."""
RefFn = Callable[[Resource, str], Any]


@dataclass
class Stack:
    tokens: Tokens
    region: str
    account: str
    stack_name: str
    parameters: dict[str, Any]
    resources: dict[str, Resource]
    excluded: dict[str, str]  # logical id -> its false condition
    mappings: dict[str, Any]
    condition_defs: dict[str, Any]
    ref_fn: RefFn | None = None
    attr_fn: AttrFn | None = None
    _conditions: dict[str, bool] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    # -- conditions ------------------------------------------------------------

    def condition(self, name: str, path: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_defs:
            raise CfnError(path, f"unknown condition {name!r}")
        if name in self._evaluating:
            raise CfnError(f"Conditions.{name}", f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self._truth(self.condition_defs[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    def _truth(self, value: Any, path: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not is_intrinsic(value):
            raise CfnError(
                path, f"a condition is Fn::Equals/And/Or/Not or Condition, got {value!r}"
            )
        ((fn, arg),) = value.items()
        where = f"{path}.{fn}"
        if fn == "Condition":
            return self.condition(self._string(arg, where), where)
        if fn == "Fn::Equals":
            pair = self._list(arg, where, 2, 2)
            a, b = (self.eval(x, f"{where}[{i}]") for i, x in enumerate(pair))
            return _scalar_text(a) == _scalar_text(b)
        if fn in ("Fn::And", "Fn::Or"):
            items = self._list(arg, where, 2, 10)
            results = [self._truth(x, f"{where}[{i}]") for i, x in enumerate(items)]
            return all(results) if fn == "Fn::And" else any(results)
        if fn == "Fn::Not":
            (only,) = self._list(arg, where, 1, 1)
            return not self._truth(only, f"{where}[0]")
        raise CfnError(path, f"{fn} is not a condition function")

    # -- values ----------------------------------------------------------------

    def eval(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            if is_intrinsic(value):
                ((fn, arg),) = value.items()
                return self._intrinsic(fn, arg, path)
            out = {}
            for k, v in value.items():
                r = self.eval(v, f"{path}.{k}")
                if r is not NO_VALUE:
                    out[k] = r
            return out
        if isinstance(value, list):
            items = [self.eval(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def _intrinsic(self, fn: str, arg: Any, path: str) -> Any:
        if fn == "Ref":
            return self.ref(self._string(arg, path), path)
        handler = _FUNCTIONS.get(fn)
        if handler is None:
            if fn == "Condition":
                raise CfnError(path, "Condition is valid only inside Conditions and Fn::If")
            raise CfnError(path, f"unknown intrinsic function {fn}")
        return handler(self, arg, f"{path}.{fn}" if fn != "Fn::Sub" else path)

    def ref(self, name: str, path: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self.pseudo(name, path)
        if name in self.resources:
            res = self.resources[name]
            return self.ref_fn(res, path) if self.ref_fn else self.tokens.ref(name, res.type)
        if name in self.excluded:
            raise CfnError(
                path,
                f"Ref to resource {name!r}, which is not created (condition "
                f"{self.excluded[name]!r} is false)",
            )
        raise CfnError(path, f"Ref to unknown resource {name!r}")

    def pseudo(self, name: str, path: str) -> Any:
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        if name not in values:
            raise CfnError(path, f"unknown pseudo parameter {name!r}")
        return values[name]

    def get_att(self, logical: str, attr: str, path: str) -> Any:
        if logical not in self.resources:
            if logical in self.excluded:
                raise CfnError(
                    path,
                    f"Fn::GetAtt of resource {logical!r}, which is not "
                    f"created (condition {self.excluded[logical]!r} is false)",
                )
            raise CfnError(path, f"Fn::GetAtt of unknown resource {logical!r}")
        res = self.resources[logical]
        if self.attr_fn is not None:
            return self.attr_fn(res, attr, path)
        return self.tokens.attr(logical, res.type, attr, self.tokens.ref(logical, res.type))

    # -- helpers ---------------------------------------------------------------

    def _string(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise CfnError(path, f"expected a string, got {_describe(value)}")
        return str(value)

    def _list(self, value: Any, path: str, low: int, high: int) -> list[Any]:
        if not isinstance(value, list) or not low <= len(value) <= high:
            want = f"{low}" if low == high else f"{low} to {high}"
            raise CfnError(path, f"expected a list of {want} items, got {_describe(value)}")
        return value

    def _resolved_list(self, value: Any, path: str) -> list[Any]:
        got = self.eval(value, path)
        if not isinstance(got, list):
            raise CfnError(path, f"expected a list, got {_describe(got)}")
        return got


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the string {value!r}"


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def _text(s: Stack, value: Any, path: str) -> str:
    got = s.eval(value, path)
    if isinstance(got, bool):
        return str(got).lower()
    if isinstance(got, int | float | str):
        return str(got)
    raise CfnError(path, f"expected a string, got {_describe(got)}")


def _get_att(s: Stack, arg: Any, path: str) -> Any:
    if isinstance(arg, str):
        logical, _, attr = arg.partition(".")
    else:
        pair = s._list(arg, path, 2, 2)
        logical = s._string(pair[0], f"{path}[0]")
        attr = _text(s, pair[1], f"{path}[1]")
    if not attr:
        raise CfnError(path, f"Fn::GetAtt needs an attribute: {logical}.<Attribute>")
    return s.get_att(logical, attr, path)


def _sub(s: Stack, arg: Any, path: str) -> str:
    where = f"{path}.Fn::Sub"
    variables: dict[str, Any] = {}
    if isinstance(arg, list):
        pair = s._list(arg, where, 2, 2)
        template = s._string(pair[0], f"{where}[0]")
        if not isinstance(pair[1], dict):
            raise CfnError(f"{where}[1]", "expected a mapping of variable -> value")
        variables = {k: (v, f"{where}[1].{k}") for k, v in pair[1].items()}
    else:
        template = s._string(arg, where)

    def one(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            v, vpath = variables[name]
            return _text(s, v, vpath)
        if "." in name and not name.startswith("AWS::"):
            logical, _, attr = name.partition(".")
            got = s.get_att(logical, attr, where)
        else:
            got = s.ref(name, where)
        if isinstance(got, list | dict) or got is NO_VALUE or got is None:
            raise CfnError(where, f"${{{name}}} is not a single value")
        return _scalar_text(got) if not isinstance(got, str) else got

    return SUB_VAR.sub(one, template)


def _join(s: Stack, arg: Any, path: str) -> str:
    pair = s._list(arg, path, 2, 2)
    delimiter = s._string(pair[0], f"{path}[0]") if pair[0] != "" else ""
    items = s._resolved_list(pair[1], f"{path}[1]")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict | list) or item is None:
            raise CfnError(f"{path}[1][{i}]", f"Fn::Join joins strings, got {_describe(item)}")
        out.append(str(_scalar_text(item)))
    return delimiter.join(out)


def _select(s: Stack, arg: Any, path: str) -> Any:
    pair = s._list(arg, path, 2, 2)
    raw = _text(s, pair[0], f"{path}[0]")
    if not raw.isdigit():
        raise CfnError(f"{path}[0]", f"Fn::Select index must be a number, got {raw!r}")
    items = s._resolved_list(pair[1], f"{path}[1]")
    index = int(raw)
    if index >= len(items):
        raise CfnError(
            f"{path}[0]",
            f"Fn::Select index {index} is out of range (the list has {len(items)} items)",
        )
    return items[index]


def _split(s: Stack, arg: Any, path: str) -> list[str]:
    pair = s._list(arg, path, 2, 2)
    delimiter = s._string(pair[0], f"{path}[0]")
    return _text(s, pair[1], f"{path}[1]").split(delimiter)


AZ_LETTERS = "abcdef"


def _get_azs(s: Stack, arg: Any, path: str) -> list[str]:
    region = _text(s, arg, path) if arg not in ("", None) else s.region
    count = 6 if region == "us-east-1" else 3
    return [f"{region}{letter}" for letter in AZ_LETTERS[:count]]


def _if(s: Stack, arg: Any, path: str) -> Any:
    triple = s._list(arg, path, 3, 3)
    name = s._string(triple[0], f"{path}[0]")
    return (
        s.eval(triple[1], f"{path}[1]")
        if s.condition(name, f"{path}[0]")
        else s.eval(triple[2], f"{path}[2]")
    )


def _find_in_map(s: Stack, arg: Any, path: str) -> Any:
    items = s._list(arg, path, 3, 3)
    keys = [_text(s, x, f"{path}[{i}]") for i, x in enumerate(items)]
    node: Any = s.mappings
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = "Mappings" + "".join(f".{k}" for k in keys[:i])
            raise CfnError(f"{path}[{i}]", f"{where} has no key {key!r}")
        node = node[key]
    return node


def _import_value(s: Stack, arg: Any, path: str) -> Any:
    name = _text(s, arg, path)
    raise CfnError(
        path,
        f"Fn::ImportValue {name!r} needs another stack's export, and the emulator has only "
        "this template: pass the value as a parameter instead (--parameter Key=Value)",
    )


def _base64(s: Stack, arg: Any, path: str) -> str:
    return base64.b64encode(_text(s, arg, path).encode()).decode()


def _cidr(s: Stack, arg: Any, path: str) -> list[str]:
    triple = s._list(arg, path, 3, 3)
    block, count, bits = (_text(s, x, f"{path}[{i}]") for i, x in enumerate(triple))
    try:
        net = ipaddress.ip_network(block)
        n, host_bits = int(count), int(bits)
    except ValueError as e:
        raise CfnError(path, f"Fn::Cidr: {e}") from None
    new_prefix = net.max_prefixlen - host_bits
    if not 1 <= n <= 256 or new_prefix < net.prefixlen:
        raise CfnError(path, f"Fn::Cidr cannot cut {n} blocks of /{new_prefix} from {block}")
    subnets = []
    for i, sub in enumerate(net.subnets(new_prefix=new_prefix)):
        if i == n:
            break
        subnets.append(str(sub))
    if len(subnets) < n:
        raise CfnError(path, f"Fn::Cidr: {block} holds only {len(subnets)} blocks of /{new_prefix}")
    return subnets


def _length(s: Stack, arg: Any, path: str) -> int:
    return len(s._resolved_list(arg, path))


def _to_json(s: Stack, arg: Any, path: str) -> str:
    return json.dumps(s.eval(arg, path), separators=(",", ":"))


def _transform(s: Stack, arg: Any, path: str) -> Any:
    raise CfnError(path, "Fn::Transform (macros) runs code in an AWS account; not emulated")


def _condition_fn(s: Stack, arg: Any, path: str) -> Any:
    fn = path.rsplit(".", 1)[-1]
    return s._truth({fn: arg}, path.rsplit(".", 1)[0])


_FUNCTIONS: dict[str, Callable[[Stack, Any, str], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::GetAZs": _get_azs,
    "Fn::If": _if,
    "Fn::FindInMap": _find_in_map,
    "Fn::ImportValue": _import_value,
    "Fn::Base64": _base64,
    "Fn::Cidr": _cidr,
    "Fn::Length": _length,
    "Fn::ToJsonString": _to_json,
    "Fn::Transform": _transform,
    "Fn::Equals": _condition_fn,
    "Fn::And": _condition_fn,
    "Fn::Or": _condition_fn,
    "Fn::Not": _condition_fn,
}


# -- static dependencies (for cycles and DependsOn) ----------------------------


def references(value: Any) -> set[str]:
    """Logical ids (or parameter names) a value refers to, without evaluating it."""
    found: set[str] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if len(v) == 1:
                ((k, arg),) = v.items()
                if k == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    continue
                if k == "Fn::GetAtt":
                    if isinstance(arg, str):
                        found.add(arg.partition(".")[0])
                    elif isinstance(arg, list) and arg and isinstance(arg[0], str):
                        found.add(arg[0])
                    continue
                if k == "Fn::Sub":
                    template, variables = (
                        (arg, {})
                        if isinstance(arg, str)
                        else (
                            (arg[0], arg[1])
                            if isinstance(arg, list) and len(arg) == 2
                            else ("", {})
                        )
                    )
                    if isinstance(template, str):
                        for m in SUB_VAR.finditer(template):
                            name = m.group(1).strip()
                            if name.startswith("!") or (
                                isinstance(variables, dict) and name in variables
                            ):
                                continue
                            found.add(
                                name.partition(".")[0] if not name.startswith("AWS::") else name
                            )
                    stack.append(variables)
                    continue
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, …, a], or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(edges, WHITE)
    for start in sorted(edges):
        if color[start] != WHITE:
            continue
        trail: list[str] = [start]
        iters = [iter(sorted(edges[start]))]
        color[start] = GREY
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                color[trail.pop()] = BLACK
                iters.pop()
                continue
            if nxt not in color:
                continue
            if color[nxt] == GREY:
                return [*trail[trail.index(nxt) :], nxt]
            if color[nxt] == WHITE:
                color[nxt] = GREY
                trail.append(nxt)
                iters.append(iter(sorted(edges[nxt])))
    return None
