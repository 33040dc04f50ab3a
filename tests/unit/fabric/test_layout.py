"""The fabric's rooms stay rooms: no import cycle among its modules, the core stays
a packet walk, and every drop reason is documented under its wire string."""

from __future__ import annotations

import ast
from pathlib import Path

from hyperplane_emu.fabric.reasons import DropReason

FABRIC = Path(__file__).resolve().parents[3] / "hyperplane_emu" / "fabric"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "fabric.md"


def _module(path: Path) -> str:
    rel = path.relative_to(FABRIC).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts) or "__init__"


def _imports(path: Path) -> set[str]:
    """Fabric modules `path` imports, TYPE_CHECKING blocks included (a cycle is a cycle)."""
    here = _module(path)
    parts = [] if here == "__init__" else here.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # from .x import y / from .. import z
            base = package[: len(package) - (node.level - 1)]
        elif (node.module or "").startswith("hyperplane_emu.fabric"):
            base = []
        else:
            continue
        module = (node.module or "").removeprefix("hyperplane_emu.fabric").lstrip(".")
        target = base + [p for p in module.split(".") if p]
        if module:
            out.add(".".join(target))
        # `from . import a` imports module a (names that are not modules are ignored later)
        out.update(".".join([*target, a.name]) for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in FABRIC.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(g[m]):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_finder_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_fabric() -> None:
    g = graph()
    assert {"core", "tables", "nlb", "paths", "paths.vgw"} <= set(g)
    assert "core" in g["microbench"]  # the parser does see imports
    assert _cycle(g) is None


def test_only_tools_and_the_io_side_import_the_core() -> None:
    importers = {m for m, deps in graph().items() if "core" in deps}
    assert importers <= {"driver", "daemon", "microbench"}


def test_the_core_stays_a_packet_walk() -> None:
    assert len((FABRIC / "core.py").read_text().splitlines()) < 700


def test_every_drop_reason_is_documented() -> None:
    text = DOCS.read_text()
    missing = [r.value for r in DropReason if f"`{r.value}`" not in text]
    assert not missing
