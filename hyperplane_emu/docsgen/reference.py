"""docs/reference.md: every topology-file key, generated from the spec layer.

What comes from where, so that the page cannot drift from the loader:
- the keys of each mapping are the spec modules' own tuples (`LB_KEYS`,
  `sections.VPC_SECTIONS`, …), named in `reference_tree` and resolved here;
- defaults and allowed values come from the `spec.model` dataclasses (field
  defaults, `Literal` types) and their field docstrings and comments, read
  with `ast` from model.py;
- the loader itself is the judge: `verify()` loads `every-key.yaml` with
  `MapView.check_keys` recorded and compares every (path, allowed keys,
  required keys) it was called with against the tree. A key the loader
  accepts but the tree does not document, or the reverse, stops generation.

Only the words that the code cannot say (why a default differs, what a shape
means) are written by hand, in `reference_tree`, with the `Key`/`Section`
records of `sections` (a leaf module, so the tree and this generator do not
import each other). No root, no I/O but reading model.py and the corpus file.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperplane_emu import spec
from hyperplane_emu.docsgen.reference_tree import TREE
from hyperplane_emu.docsgen.sections import Key, Section
from hyperplane_emu.spec import model, nodes

CORPUS = Path(__file__).with_name("every-key.yaml")
MODEL_SOURCE = Path(model.__file__)
OUTPUT = Path("docs/reference.md")
DOTTED_PLACEHOLDERS = frozenset({"route", "namespace"})
"""Names that may contain dots (`GET /a.json`, `shop.internal`), so their placeholder
matches across dots; every other placeholder is one dot-free segment."""


class ReferenceError(Exception):
    """The tree and the loader disagree; the message lists every difference."""


# -- resolving the spec's tuples -------------------------------------------------


def _resolve(ref: str) -> tuple[str, ...]:
    if ref.startswith("="):
        return tuple(ref[1:].split(","))
    module_name, _, attr = ref.rpartition(".")
    value = getattr(importlib.import_module(f"hyperplane_emu.spec.{module_name}"), attr)
    return tuple(value)  # a tuple, or a dict's keys in order


def section_keys(section: Section) -> tuple[str, ...]:
    """Accepted keys in the loader's order (refused ones excluded)."""
    keys: list[str] = []
    for ref in section.keys:
        keys.extend(k for k in _resolve(ref) if k not in keys)
    return tuple(keys)


def refused_keys(section: Section) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for ref in section.refused:
        module_name, _, attr = ref.rpartition(".")
        table = getattr(importlib.import_module(f"hyperplane_emu.spec.{module_name}"), attr)
        reasons.update(table)
    return reasons


# -- the model's own words -------------------------------------------------------


@dataclass(frozen=True)
class FieldDoc:
    comment: str
    docstring: str

    @property
    def text(self) -> str:
        return " ".join(part for part in (self.comment, self.docstring) if part)


def _clean(text: str) -> str:
    return " ".join(text.split())


def model_docs(source: str | None = None) -> dict[str, tuple[str, dict[str, FieldDoc]]]:
    """Class name -> (class docstring, field -> its trailing comment and docstring)."""
    text = source if source is not None else MODEL_SOURCE.read_text()
    lines = text.splitlines()
    result: dict[str, tuple[str, dict[str, FieldDoc]]] = {}
    for node in ast.parse(text).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, FieldDoc] = {}
        body = node.body
        for i, stmt in enumerate(body):
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            line = lines[stmt.end_lineno - 1] if stmt.end_lineno else ""
            comment = _trailing_comment(line)
            docstring = ""
            nxt = body[i + 1] if i + 1 < len(body) else None
            if (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docstring = _clean(nxt.value.value)
            fields[stmt.target.id] = FieldDoc(comment, docstring)
        result[node.name] = (_clean(ast.get_docstring(node) or ""), fields)
    return result


def _trailing_comment(line: str) -> str:
    """The `# …` after code on a line, ignoring `#` inside strings."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return _clean(line[i + 1 :])
    return ""


def _model_field(section: Section, key: str) -> dataclasses.Field[Any] | None:
    if section.model is None:
        return None
    written = section.docs.get(key, Key()).field
    name = key if written is None else written
    if not name:  # "" marks a key with no field of its own (a shorthand)
        return None
    for f in dataclasses.fields(section.model):
        if f.name == name:
            return f
    return None


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return ""
    if value == "":
        return '`""`'
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def _default(section: Section, key: str, required: bool) -> str:
    if required:
        return "required"
    override = section.docs.get(key, Key()).default
    if override is not None:
        return override
    f = _model_field(section, key)
    if f is None:
        return ""
    if section.defaults is not None:
        return _format_value(getattr(section.defaults, f.name))
    if f.default is dataclasses.MISSING:
        return ""
    return _format_value(f.default)


def _type_words(hint: object) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return " | ".join(_type_words(a) for a in real)
    if hint is bool:
        return "`true` | `false`"
    if hint is int:
        return "integer"
    if hint is str:
        return "string"
    if origin is tuple:
        inner = args[0] if args else str
        return f"list of {_type_words(inner)}" if inner is not str else "list of strings"
    if origin is dict:
        return "mapping"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    return ""


def _values(section: Section, key: str) -> str:
    override = section.docs.get(key, Key()).values
    if override is not None:
        return override
    f = _model_field(section, key)
    if f is None or section.model is None:
        return ""
    hints = typing.get_type_hints(section.model, vars(model))
    return _type_words(hints[f.name])


def _meaning(section: Section, key: str, docs: dict[str, tuple[str, dict[str, FieldDoc]]]) -> str:
    parts: list[str] = []
    f = _model_field(section, key)
    if f is not None and section.model is not None:
        field_doc = docs[section.model.__name__][1].get(f.name)
        # "None: …" describes the absent key, which the default column already says.
        if field_doc is not None and field_doc.text and not field_doc.text.startswith("None:"):
            parts.append(field_doc.text)
    hand = section.docs.get(key, Key()).text
    if hand:
        parts.append(hand)
    return " ".join(_sentence(p) for p in parts)


def _sentence(text: str) -> str:
    """Model comments are fragments (`a key of LoadBalancer.target_groups`); in a
    table cell next to other sentences they read better capitalised and closed."""
    if re.match(r"[a-z]+[ ,:;]", text):  # a plain word; never `tcp.idle…` or `dns_private`
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ")")) else text + "."


# -- checking against the loader -------------------------------------------------


@dataclass
class Recorded:
    """What `check_keys` was called with while loading the corpus."""

    calls: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)


def record(path: Path = CORPUS) -> Recorded:
    """Load `path` with `MapView.check_keys` recorded; the file must be valid."""
    recorded = Recorded()
    original = nodes.MapView.check_keys

    def spy(view: nodes.MapView, allowed: Any, required: Any = ()) -> None:
        recorded.calls.append((view.path, tuple(allowed), tuple(required)))
        original(view, allowed, required)

    nodes.MapView.check_keys = spy  # type: ignore[method-assign,assignment]
    try:
        result = spec.validate(path)
    finally:
        nodes.MapView.check_keys = original  # type: ignore[method-assign]
    if not result.ok:
        issues = "\n".join(f"  {issue}" for issue in result.issues)
        raise ReferenceError(f"{path} must be a valid topology:\n{issues}")
    return recorded


def pattern_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    for token in re.split(r"(<[a-z_-]+>|\[\])", pattern):
        if token == "[]":
            out.append(r"\[\d+\]")
        elif token.startswith("<"):
            out.append(".+?" if token[1:-1] in DOTTED_PLACEHOLDERS else r"[^.\[]+")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def _patterns(section: Section) -> tuple[str, ...]:
    return (section.pattern, *section.also)


def verify(tree: tuple[Section, ...], recorded: Recorded) -> None:
    """Every recorded call matches one section; every section was seen."""
    problems: list[str] = []
    seen: set[int] = set()
    docs = model_docs()
    regexes = [(i, pattern_regex(p)) for i, s in enumerate(tree) for p in _patterns(s)]
    for path, allowed, required in recorded.calls:
        at_path = [i for i, rx in regexes if rx.fullmatch(path)]
        if not at_path:
            problems.append(f"{path or '(top level)'}: no section of the reference has this path")
            continue
        matched = False
        for i in at_path:
            section = tree[i]
            accepted = set(section_keys(section)) | set(refused_keys(section))
            if accepted == set(allowed) and set(required) in map(set, section.required):
                # Several may match (NLB and ALB target groups accept the same
                # keys, the ALB refusing some): each is then right about the call.
                seen.add(i)
                matched = True
        if not matched:
            wanted = ", ".join(allowed)
            sections = "; ".join(
                f"{tree[i].title}: {', '.join(section_keys(tree[i]))} "
                f"(refused {', '.join(refused_keys(tree[i])) or 'none'}, "
                f"required {tree[i].required})"
                for i in at_path
            )
            problems.append(
                f"{path or '(top level)'}: the loader accepts {wanted} (required "
                f"{', '.join(required) or 'none'}); the reference says {sections}"
            )
    for i, section in enumerate(tree):
        stale = set(section.docs) - set(section_keys(section))
        if stale:
            problems.append(f"{_display(section.pattern)}: documents unknown keys {sorted(stale)}")
        for key in section_keys(section):
            if not _meaning(section, key, docs) and not _children(tree, section, key):
                problems.append(f"{_display(section.pattern)}.{key}: no description (add a Key)")
        if i not in seen:
            problems.append(f"{section.pattern}: never checked while loading {CORPUS.name}")
    if problems:
        raise ReferenceError("the reference and the loader disagree:\n  " + "\n  ".join(problems))


# -- rendering -------------------------------------------------------------------


def anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _display(pattern: str) -> str:
    return pattern or "(top level)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _children(tree: tuple[Section, ...], section: Section, key: str) -> list[Section]:
    base = f"{section.pattern}.{key}" if section.pattern else key
    out = []
    for other in tree:
        for pattern in _patterns(other):
            rest = pattern[len(base) :] if pattern.startswith(base) else None
            if (
                rest is not None
                and re.fullmatch(r"(\[\]|\.<[a-z_-]+>)?", rest)
                and other is not section
            ):
                out.append(other)
                break
    return out


def _rows(
    tree: tuple[Section, ...], section: Section, docs: dict[str, tuple[str, dict[str, FieldDoc]]]
) -> Iterator[str]:
    always = set.intersection(*map(set, section.required)) if section.required else set()
    for key in section_keys(section):
        meaning = _meaning(section, key, docs)
        links = [
            f"[{child.title}](#{anchor(child.title)})" for child in _children(tree, section, key)
        ]
        values = _values(section, key)
        if links:
            values = (
                (values + "; " if values and values != "mapping" else "")
                + "see "
                + ", ".join(links)
            )
        cells = (f"`{key}`", _default(section, key, key in always), values, meaning)
        yield "| " + " | ".join(_cell(c) for c in cells) + " |"


def render(tree: tuple[Section, ...] | None = None, recorded: Recorded | None = None) -> str:
    """The whole page; raises ReferenceError if the tree and the loader disagree."""
    if tree is None:
        tree = TREE
    verify(tree, recorded if recorded is not None else record())
    docs = model_docs()
    out = [
        "# Topology file reference",
        "",
        "<!-- Generated by `python -m hyperplane_emu.docsgen reference`; do not edit. -->",
        "",
        "Every key of a topology file, mapping by mapping, generated from the spec layer",
        "(`hyperplane_emu/spec`): the keys are the loader's own tuples, defaults and values",
        "come from the `spec.model` dataclasses and their comments, and the generator",
        "refuses to run when the loader accepts a key this page does not list",
        "(`tests/unit/test_docs_reference.py` keeps the committed page identical).",
        "[topology.md](topology.md) explains the same keys with examples and AWS context.",
        "",
        "In paths, `<name>` is a name you choose and `[]` an item of a list. *required*",
        "means the loader reports the key as missing; an empty default means there is",
        "none (the key is optional and absent means absent).",
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{s.title}](#{anchor(s.title)}): `{_display(s.pattern)}`" for s in tree]
    for section in tree:
        out += ["", f'<a id="{anchor(section.title)}"></a>', ""]
        out.append(f"## `{_display(section.pattern)}` — {section.title}")
        out.append("")
        for extra in section.also:
            out.append(f"Also at `{extra}`.")
            out.append("")
        class_doc = (
            docs[section.model.__name__][0]
            if section.model is not None and section.model_intro
            else ""
        )
        intro = " ".join(p for p in (section.intro, class_doc) if p)
        if intro:
            out += [intro, ""]
        sources = ", ".join(
            f"`spec.{ref}`" if not ref.startswith("=") else "written inline in the loader"
            for ref in section.keys
        )
        model_name = f"; model `spec.model.{section.model.__name__}`" if section.model else ""
        out += [f"Keys: {sources}{model_name}.", ""]
        if len(section.required) > 1:
            alternatives = " or ".join(
                "{" + ", ".join(r) + "}" if r else "nothing" for r in section.required
            )
            out += [f"Required: {alternatives}, depending on the other keys written.", ""]
        out += ["| key | default | values | meaning |", "|---|---|---|---|"]
        out += list(_rows(tree, section, docs))
        refused = refused_keys(section)
        if refused:
            out += ["", "Recognised and refused, with the reason the loader gives:", ""]
            out += [f"- `{key}`: {reason}" for key, reason in refused.items()]
    return "\n".join(out) + "\n"


def write(path: Path = OUTPUT) -> Path:
    path.write_text(render())
    return path
