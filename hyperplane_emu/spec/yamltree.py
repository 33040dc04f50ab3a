"""Bytes -> YAML node tree, safely, with every node's line kept.

We never build Python objects from the whole document: the node tree keeps
the marks (line numbers) that messages need, and walking it ourselves lets us
see what `yaml.safe_load` hides — duplicate keys (PyYAML keeps the last one
silently) and non-scalar keys.

Hostile input is refused before it costs anything:
- more than `MAX_BYTES` bytes, or bytes that are not UTF-8;
- YAML aliases (`*name`), refused altogether: the node tree shares aliased
  nodes, so a handful of aliases can expand to billions of nodes on the walk
  (the "billion laughs"); a topology file never needs them;
- nesting deeper than `MAX_DEPTH` (the composer recurses per level).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec.errors import FILE, SpecIssue

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
ALIAS_TAG = "tag:hyperplane-emu,2025:refused-alias"
_ALIAS_MESSAGE = "YAML alias"


@dataclass
class Document:
    """The outcome of parsing: a root node, or the issues that prevented it."""

    root: Node | None
    issues: list[SpecIssue] = field(default_factory=list)
    aliases: int = 0
    """Aliases found (and refused); their placeholders make the tree unfit to walk."""


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader's composer with aliases replaced by markers and a depth bound."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            # Keep walking so that every alias is reported, each at its path.
            event = self.get_event()
            return ScalarNode(ALIAS_TAG, event.anchor, event.start_mark, event.end_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse(data: bytes | str) -> Document:
    """Decode and compose one YAML document; structural issues come back, never raise."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return Document(None, [SpecIssue(FILE, f"file is {size} bytes; the limit is {MAX_BYTES}")])
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            bad_line = data[: e.start].count(b"\n") + 1
            return Document(None, [SpecIssue(FILE, f"not UTF-8 text (byte {e.start})", bad_line)])
    else:
        text = data
    try:
        root = yaml.compose(text, Loader=_Loader)  # _Loader is a SafeLoader
    except _TooDeep as e:
        return Document(None, [SpecIssue(FILE, f"nested deeper than {MAX_DEPTH} levels", e.line)])
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        problem = " ".join(p for p in (e.context, e.problem) if p)
        at = mark.line + 1 if mark is not None else None
        return Document(None, [SpecIssue(FILE, f"YAML syntax: {problem}", at)])
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        # PyYAML gives the offending character as its code point.
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "?")
        message = f"character U+{code:04X} is not allowed in a YAML file (binary data?)"
        return Document(None, [SpecIssue(FILE, message, line)])
    except (yaml.YAMLError, RecursionError) as e:  # defensive: any other parser failure
        return Document(None, [SpecIssue(FILE, f"YAML: {type(e).__name__}: {e}")])
    if root is None:
        return Document(None, [SpecIssue(FILE, "the file is empty (no YAML document)", 1)])
    issues = list(_structure_issues(root))
    aliases = sum(1 for issue in issues if issue.message.startswith(_ALIAS_MESSAGE))
    return Document(root, issues, aliases)


def _structure_issues(root: Node) -> Iterator[SpecIssue]:
    """Aliases, non-scalar keys and duplicate keys anywhere in the tree.

    Iterative, so that a wide or deep (but bounded) tree cannot blow the stack.
    """
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, ScalarNode) and node.tag == ALIAS_TAG:
            yield SpecIssue(
                path or FILE,
                f"{_ALIAS_MESSAGE} *{node.value} is not supported (aliases are refused "
                "altogether); write the value out",
                line_of(node),
            )
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.tag == ALIAS_TAG:
                    stack.append((key, path))  # reported as an alias, at this mapping
                    continue
                if not isinstance(key, ScalarNode):
                    yield SpecIssue(
                        path or FILE, "mapping keys must be plain scalars", line_of(key)
                    )
                    continue
                key_path = join(path, key.value)
                if key.value in first_line:
                    yield SpecIssue(
                        key_path,
                        f"duplicate key {key.value!r} (first at line {first_line[key.value]})",
                        line_of(key),
                    )
                else:
                    first_line[key.value] = line_of(key)
                stack.append((value, key_path))
