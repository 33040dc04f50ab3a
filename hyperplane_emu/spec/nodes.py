"""Typed reads from the YAML node tree, each recording an issue instead of raising.

Every accessor takes the node and its path, returns the value or `None`, and
on a problem records a `SpecIssue` with that path and the node's line. Callers
then carry on with what is valid, so one run reports every problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec.errors import SpecIssue
from hyperplane_emu.spec.yamltree import ALIAS_TAG, join, line_of

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
_KINDS = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    NULL: "nothing (null)",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
}


_FAILED = object()


def describe(node: Node) -> str:
    """How a node reads to a user: `a list`, `the string 'x'`, `an integer 7`."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == STR:
        return f"the string {node.value!r}"
    kind = _KINDS.get(node.tag, f"a value tagged {node.tag}")
    return kind if node.tag == NULL else f"{kind} {node.value}"


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Ctx:
    """Collects issues and warnings for one load."""

    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []
        self.warnings: list[SpecIssue] = []
        # One constructor per load: it caches constructed scalars by node.
        self._constructor = SafeConstructor()
        self.declared: dict[str, frozenset[str] | None] = {}
        """Section path (`vpcs`, `vpcs.p.load_balancers`) -> every name written in it,
        valid or not; None when the section itself was unreadable. Sections read
        later check references against it, so that a broken declaration is
        reported once and not again at each reference (see `spec.refs`)."""

    def error(self, path: str, node: Node | None, message: str) -> None:
        self.issues.append(SpecIssue(path, message, line_of(node) if node is not None else None))

    def warn(self, path: str, node: Node | None, message: str) -> None:
        self.warnings.append(SpecIssue(path, message, line_of(node) if node is not None else None))

    # -- scalars -------------------------------------------------------------

    def _scalar(self, node: Node, path: str, wanted: str) -> object:
        """The scalar's Python value, or `_FAILED` once the issue is recorded."""
        if not isinstance(node, ScalarNode):
            self.error(path, node, f"expected {wanted}, got {describe(node)}")
            return _FAILED
        try:
            return self._constructor.construct_object(node)
        except Exception:  # any tag or literal PyYAML cannot build (`!foo`, bad dates)
            self.error(path, node, f"expected {wanted}, got {describe(node)}")
            return _FAILED

    def text(self, node: Node, path: str, wanted: str = "a string") -> str | None:
        value = self._scalar(node, path, wanted)
        if value is _FAILED:
            return None
        if not isinstance(value, str):
            self.error(path, node, f"expected {wanted}, got {describe(node)}")
            return None
        return value

    def integer(self, node: Node, path: str, low: int, high: int) -> int | None:
        wanted = f"an integer {low}..{high}"
        value = self._scalar(node, path, wanted)
        if value is _FAILED:
            return None
        # bool is an int in Python; `true` is not a number in a topology file.
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(path, node, f"expected {wanted}, got {describe(node)}")
            return None
        if not low <= value <= high:
            self.error(path, node, f"{value} is out of range {low}..{high}")
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self._scalar(node, path, "true or false")
        if value is _FAILED:
            return None
        if not isinstance(value, bool):
            self.error(path, node, f"expected true or false, got {describe(node)}")
            return None
        return value

    # -- collections -----------------------------------------------------------

    def mapping(self, node: Node, path: str, *, null_ok: bool = False) -> MapView | None:
        """A mapping view; `null_ok` reads an empty value (`hosts:`) as `{}`."""
        if null_ok and isinstance(node, ScalarNode) and node.tag == NULL:
            return MapView(self, MappingNode("tag:yaml.org,2002:map", [], node.start_mark), path)
        if not isinstance(node, MappingNode):
            self.error(path, node, f"expected a mapping, got {describe(node)}")
            return None
        return MapView(self, node, path)

    def sequence(self, node: Node, path: str) -> list[tuple[str, Node]] | None:
        """The items of a list as (path, node)."""
        if not isinstance(node, SequenceNode):
            self.error(path, node, f"expected a list, got {describe(node)}")
            return None
        return [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]


class MapView:
    """A mapping node read by key; duplicate keys (already reported) keep the last."""

    def __init__(self, ctx: Ctx, node: MappingNode, path: str) -> None:
        self.ctx = ctx
        self.node = node
        self.path = path
        self._entries: dict[str, tuple[ScalarNode, Node]] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != ALIAS_TAG:  # others: see yamltree
                self._entries[key.value] = (key, value)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def path_of(self, key: str) -> str:
        return join(self.path, key)

    def get(self, key: str) -> Node | None:
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def key_node(self, key: str) -> ScalarNode:
        return self._entries[key][0]

    def items(self) -> Iterator[tuple[str, str, Node]]:
        """(key, path, value node) in file order."""
        for key, (_, value) in self._entries.items():
            yield key, self.path_of(key), value

    def check_keys(self, allowed: Collection[str], required: Collection[str] = ()) -> None:
        """Report unknown keys (with a suggestion) and missing required ones."""
        for key, (key_node, _) in self._entries.items():
            if key not in allowed:
                self.ctx.error(
                    self.path_of(key), key_node, f"unknown key {key!r}{did_you_mean(key, allowed)}"
                )
        for key in required:
            if key not in self._entries:
                self.ctx.error(self.path_of(key), self.node, f"required key {key!r} is missing")
