"""docs/reference.md is generated from the spec layer and cannot drift.

The committed page equals a fresh rendering, byte for byte; and the check
that makes a rendering possible (the tree agrees with the loader's own key
checks) fails when the loader gains a key, loses one or changes what is
required — shown here by changing them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hyperplane_emu.docsgen import reference
from hyperplane_emu.docsgen.reference import Key, ReferenceError, Section
from hyperplane_emu.docsgen.reference_tree import TREE
from hyperplane_emu.spec import hosts, model

REPO = Path(__file__).resolve().parents[2]


def test_committed_reference_is_what_the_spec_generates() -> None:
    committed = (REPO / "docs/reference.md").read_text()
    assert committed == reference.render(), (
        "docs/reference.md is stale: run `python -m hyperplane_emu.docsgen reference`"
    )


def test_every_spec_key_tuple_is_used_by_the_reference() -> None:
    """A new `*_KEYS` tuple in the spec (a new mapping) must get a section."""
    import importlib
    import pkgutil

    from hyperplane_emu import spec

    used = {ref for section in TREE for ref in (*section.keys, *section.refused)}
    missing = []
    for info in pkgutil.iter_modules(spec.__path__):
        module = importlib.import_module(f"hyperplane_emu.spec.{info.name}")
        for name, value in vars(module).items():
            is_keys = name == "KEYS" or name.endswith("_KEYS")
            if is_keys and isinstance(value, tuple | dict) and f"{info.name}.{name}" not in used:
                missing.append(f"{info.name}.{name}")
    assert not missing, f"spec key tuples with no section in reference_tree: {missing}"


def test_a_key_the_loader_gains_stops_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts, "HOST_KEYS", (*hosts.HOST_KEYS, "ami"))
    recorded = reference.record()
    tree = tuple(s for s in TREE if s.title != "host (instance)")
    host = next(s for s in TREE if s.title == "host (instance)")
    # The tree names the tuple, so it lists the new key too — without a meaning.
    with pytest.raises(ReferenceError, match=r"hosts\.<host>\.ami: no description"):
        reference.verify((*tree, host), recorded)


def test_a_key_the_tree_lists_but_the_loader_refuses_stops_it() -> None:
    host = next(s for s in TREE if s.title == "host (instance)")
    wrong = dataclasses.replace(
        host, keys=(*host.keys, "=ami"), docs={**host.docs, "ami": Key("an image")}
    )
    tree = tuple(wrong if s is host else s for s in TREE)
    with pytest.raises(ReferenceError, match=r"vpcs\.customer\.hosts\.\w+: the loader accepts"):
        reference.verify(tree, reference.record())


def test_a_wrong_required_set_stops_it() -> None:
    host = next(s for s in TREE if s.title == "host (instance)")
    wrong = dataclasses.replace(host, required=(("subnet", "private_ip"),))
    tree = tuple(wrong if s is host else s for s in TREE)
    with pytest.raises(ReferenceError, match="required subnet"):
        reference.verify(tree, reference.record())


def test_a_section_the_corpus_never_reaches_stops_it() -> None:
    ghost = Section(
        pattern="vpcs.<vpc>.ghosts.<ghost>", title="ghost", keys=("=x",), docs={"x": Key("x")}
    )
    with pytest.raises(ReferenceError, match="ghosts.<ghost>: never checked"):
        reference.verify((*TREE, ghost), reference.record())


def test_stale_hand_docs_stop_it() -> None:
    host = next(s for s in TREE if s.title == "host (instance)")
    wrong = dataclasses.replace(host, docs={**host.docs, "ami": Key("gone")})
    tree = tuple(wrong if s is host else s for s in TREE)
    with pytest.raises(ReferenceError, match=r"documents unknown keys \['ami'\]"):
        reference.verify(tree, reference.record())


def test_defaults_and_values_come_from_the_model() -> None:
    page = reference.render()
    settings = model.Settings()
    assert f"| `conntrack_max` | `{settings.conntrack_max}` |" in page
    assert (
        f"| `idle_timeout` | `{model.Listener.__dataclass_fields__['idle_timeout'].default}` |"
        in page
    )
    assert "`rest` | `http`".replace("|", "\\|") in page  # Literal values of Api.type


def test_model_docs_reads_comments_and_field_docstrings() -> None:
    source = '''
class Thing:
    """A thing."""

    size: int = 3  # bytes, "#" inside quotes is kept
    name: str = ""
    """What it is called."""
'''
    docs = reference.model_docs(source)
    class_doc, fields = docs["Thing"]
    assert class_doc == "A thing."
    assert fields["size"].comment == 'bytes, "#" inside quotes is kept'
    assert fields["name"].docstring == "What it is called."


def test_patterns_match_names_with_dots_only_where_allowed() -> None:
    route = reference.pattern_regex("apis.<api>.routes.<route>.integration")
    assert route.fullmatch("apis.a.routes.GET /v1.json.integration")
    host = reference.pattern_regex("vpcs.<vpc>.hosts.<host>")
    assert not host.fullmatch("vpcs.a.hosts.b.c")
    listener = reference.pattern_regex("vpcs.<vpc>.load_balancers.<lb>.listeners[]")
    assert listener.fullmatch("vpcs.a.load_balancers.n.listeners[12]")
