"""Template bytes -> plain Python values, CloudFormation's short tags expanded, lines kept.

CloudFormation YAML writes intrinsics as tags (`!Ref X`, `!GetAtt A.B`, `!Sub ...`);
they become the long JSON form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`) so
that the rest of the package sees one shape for YAML and JSON templates alike.

The YAML is composed by the spec layer's hardened reader (`spec.yamltree`: size
limit, UTF-8, no aliases, bounded nesting, duplicate keys reported), so a hostile
template costs what a hostile topology file costs. Every value's line is kept
under its path (`Resources.OrdersNlb.Properties.Subnets[1]`) for error messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec.errors import FILE, SpecIssue
from hyperplane_emu.spec.yamltree import line_of, parse

SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!GetAZs": "Fn::GetAZs",
    "!If": "Fn::If",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!Equals": "Fn::Equals",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Not": "Fn::Not",
    "!Length": "Fn::Length",
    "!ToJsonString": "Fn::ToJsonString",
    "!Transform": "Fn::Transform",
}
_DATE_TAGS = ("tag:yaml.org,2002:timestamp",)
"""`AWSTemplateFormatVersion: 2010-09-09` unquoted is a YAML date; CloudFormation
reads it as the string it is."""


@dataclass
class Template:
    """A template as plain values, with the line of every path that had one."""

    body: dict[str, Any]
    source: str
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.lines.get(path)


class TemplateError(Exception):
    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


_TEMPLATE_HINT = re.compile(
    rb"AWSTemplateFormatVersion|[\"']?Type[\"']?\s*:\s*[\"']?(AWS|Custom)::", re.MULTILINE
)


def looks_like_template(data: bytes) -> bool:
    """Cheap first test (no parse): a CloudFormation template names AWS:: types or its
    format version; a topology file never does."""
    return bool(_TEMPLATE_HINT.search(data[: 1 << 20]))


def is_template(data: bytes) -> bool:
    """A template: a mapping with `AWSTemplateFormatVersion`, or `Resources` whose
    entries have an `AWS::`/`Custom::` `Type` (and no topology `vpcs`)."""
    if not looks_like_template(data):
        return False
    try:
        t = read(data, "<probe>")
    except TemplateError:
        # Broken, but it names AWS:: types: the template reader reports what is wrong
        # (a topology file's reader would only say that nothing is a topology key).
        return True
    body = t.body
    if "vpcs" in body:
        return False
    if "AWSTemplateFormatVersion" in body:
        return True
    resources = body.get("Resources")
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and str(r.get("Type", "")).startswith(("AWS::", "Custom::"))
        for r in resources.values()
    )


def read(data: bytes | str, source: str) -> Template:
    """Parse a YAML or JSON template; raise TemplateError with every structural issue."""
    doc = parse(data)
    if doc.root is None or doc.issues:
        text = data.decode("utf-8-sig", "replace") if isinstance(data, bytes) else data
        if text.lstrip().startswith("{"):
            # JSON that YAML 1.1 refuses (tabs, some escapes): the JSON reader, without lines.
            try:
                value = json.loads(text)
            except ValueError:
                pass
            else:
                if isinstance(value, dict):
                    return Template(value, source)
        raise TemplateError(doc.issues or [SpecIssue(FILE, "not a template")])
    lines: dict[str, int] = {}
    body = _value(doc.root, "", lines, SafeConstructor())
    if not isinstance(body, dict):
        raise TemplateError([SpecIssue(FILE, "a template is a mapping (Resources: …)", 1)])
    return Template(body, source, lines)


def _value(node: Node, path: str, lines: dict[str, int], c: SafeConstructor) -> Any:
    lines.setdefault(path, line_of(node))
    tag = node.tag
    if tag in SHORT_TAGS:
        name = SHORT_TAGS[tag]
        if isinstance(node, ScalarNode):
            inner: Any = node.value
            if name == "Fn::GetAtt":
                # `!GetAtt Res.Attr.With.Dots`: the logical id never has a dot.
                res, _, attr = node.value.partition(".")
                inner = [res, attr]
            elif name == "Fn::GetAZs" and inner is None:
                inner = ""
        else:
            inner = _plain(node, path, lines, c)
        return {name: inner}
    if tag.startswith("!"):
        raise TemplateError(
            [
                SpecIssue(
                    path or FILE,
                    f"unknown tag {tag} (not a CloudFormation intrinsic)",
                    line_of(node),
                )
            ]
        )
    return _plain(node, path, lines, c)


def _plain(node: Node, path: str, lines: dict[str, int], c: SafeConstructor) -> Any:
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key, value in node.value:
            k = str(key.value)
            sub = f"{path}.{k}" if path else k
            out[k] = _value(value, sub, lines, c)
        return out
    if isinstance(node, SequenceNode):
        return [_value(item, f"{path}[{i}]", lines, c) for i, item in enumerate(node.value)]
    if node.tag in _DATE_TAGS or node.tag.startswith("!"):
        return node.value
    return c.construct_object(node)
