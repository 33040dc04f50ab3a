"""No import cycles in `hyperplane_emu`, read from the source with `ast` (nothing imported).

Every import statement counts, wherever it is written: at module level, inside
a function, under `if TYPE_CHECKING:`. An import deferred into a function
still means the two modules need each other; it only hides the cycle from
Python. `from . import x` and `from pkg import name` count as an edge to
`pkg.x` when that is a module, else to `pkg` (its `__init__`). The implicit
import of parent packages is not an edge (every module would be in a cycle
with its package's `__init__`).

A cycle is reported as its strongly connected component (every module that
can reach every other) plus one concrete loop through it, to read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hyperplane_emu"

# Cycles tolerated for now (none since #14): a new one fails the test, and so does a
# listed one that is gone, until its line is deleted here.
KNOWN: frozenset[frozenset[str]] = frozenset()


def modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package `__init__`)."""
    out: dict[str, tuple[Path, bool]] = {}
    for f in sorted(root.rglob("*.py")):
        parts = list(f.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        out[".".join(parts)] = (f, is_package)
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its source)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, (path, is_package) in mods.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if target in mods:
                        graph[name].add(target)
                    elif source in mods:
                        graph[name].add(source)
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(iter(children), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def a_loop(graph: dict[str, set[str]], component: frozenset[str]) -> list[str]:
    """One concrete import loop inside `component`, first module repeated at the end."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth-first: the shortest way back to `start`
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"{sorted(component)} is not a cycle")


def describe(graph: dict[str, set[str]], component: frozenset[str]) -> str:
    return " -> ".join(m.removeprefix("hyperplane_emu.") for m in a_loop(graph, component))


def test_the_package_has_no_import_cycle_but_the_known_ones() -> None:
    graph = import_graph(PACKAGE)
    found = set(cycles(graph))
    new = sorted(found - KNOWN, key=sorted)
    gone = sorted(KNOWN - found, key=sorted)
    problems = [f"import cycle: {describe(graph, c)}" for c in new]
    problems += [
        f"KNOWN cycle {sorted(c)} no longer exists (or changed): update KNOWN in this test"
        for c in gone
    ]
    assert not problems, "\n".join(problems)


# -- the test can fail: the same machinery on small packages written here ---------------


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "hyperplane_emu"
    for rel, text in {"__init__.py": "", **files}.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_a_cycle_hidden_in_a_function_or_behind_type_checking_is_found(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "a.py": "from hyperplane_emu import b\n",
            "b.py": "def f():\n    from hyperplane_emu.c import x\n",
            "c.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import a\nx = 1\n",
            "d.py": "import hyperplane_emu.a\n",  # reaches the cycle, is not in it
        },
    )
    graph = import_graph(pkg)
    assert cycles(graph) == [
        frozenset({"hyperplane_emu.a", "hyperplane_emu.b", "hyperplane_emu.c"})
    ]
    assert describe(graph, cycles(graph)[0]) == "a -> b -> c -> a"


def test_relative_imports_in_subpackages_resolve(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "sub/__init__.py": "from .left import thing\n",
            "sub/left.py": "from ..top import y\nthing = 1\n",
            "top.py": "from .sub import left\ny = 2\n",
            "other.py": "from hyperplane_emu.sub import thing\n",  # a name: edge to sub/__init__
        },
    )
    graph = import_graph(pkg)
    assert graph["hyperplane_emu.sub"] == {"hyperplane_emu.sub.left"}
    assert graph["hyperplane_emu.other"] == {"hyperplane_emu.sub"}
    assert cycles(graph) == [frozenset({"hyperplane_emu.sub.left", "hyperplane_emu.top"})]


def test_no_cycle_no_report(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"a.py": "import hyperplane_emu.b\n", "b.py": "import os\n"})
    assert cycles(import_graph(pkg)) == []


@pytest.mark.parametrize("broken", ["fabric.core", "docsgen.reference"])
def test_a_new_cycle_in_the_real_package_would_fail(broken: str) -> None:
    graph = import_graph(PACKAGE)
    module = f"hyperplane_emu.{broken}"
    importer = next(m for m, deps in sorted(graph.items()) if module in deps)
    graph[module].add(importer)  # as if `broken` imported back what imports it
    assert set(cycles(graph)) - KNOWN, "adding a back-edge made no new cycle"
