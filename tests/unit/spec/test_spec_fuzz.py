"""Whatever the input, `loads` returns a Topology or raises SpecError, nothing else.

Three generators, from shallow to deep: raw bytes and text (the reader and the
YAML parser), arbitrary YAML trees (the type checks), and a valid topology with
random values planted at random places (the semantic checks behind them).
`HE_FUZZ_EXAMPLES` raises the example count for long runs.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperplane_emu import spec
from hyperplane_emu.spec import SpecError

EXAMPLES = int(os.environ.get("HE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = Path(__file__).resolve().parents[2] / "data" / "good"
BASE: dict[str, Any] = yaml.safe_load((GOOD / "shop.yaml").read_text())


def load_or_spec_error(data: str | bytes) -> None:
    try:
        topology = spec.loads(data)
    except SpecError as e:
        assert e.issues, "a SpecError always carries at least one issue"
        for issue in e.issues:
            assert isinstance(issue.path, str) and issue.message
            str(issue)
    else:
        assert isinstance(topology, spec.Topology)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    load_or_spec_error(data)


@FUZZ
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    load_or_spec_error(text)


WORDS = st.sampled_from(
    [
        "name",
        "region",
        "vpcs",
        "cidr",
        "subnets",
        "az",
        "hosts",
        "security_groups",
        "ingress",
        "egress",
        "port",
        "protocol",
        "source",
        "destination",
        "serve",
        "private_ip",
        "accounts",
        "settings",
        "a",
        "default",
        "sg/default",
        "10.0.0.0/16",
        "us-east-1a",
        "echo:80",
        "apis",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    WORDS,
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(WORDS, st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=40,
)


@FUZZ
@given(TREES)
def test_random_yaml_trees(tree: object) -> None:
    load_or_spec_error(yaml.safe_dump(tree))


def paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


ALL_PATHS = paths(BASE)[1:]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), TREES), min_size=1, max_size=4))
def test_valid_file_with_planted_values(plants: list[tuple[tuple[object, ...], object]]) -> None:
    doc = copy.deepcopy(BASE)
    for path, value in plants:
        parent: Any = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier plant replaced part of this path
    load_or_spec_error(yaml.safe_dump(doc))
