"""pytest plugin (entry point `pytest11`): a live topology per test or per module.

    import pytest

    @pytest.mark.topology("examples/private-rest-api.yaml", scope="module")
    def test_orders(hyperplane):
        api = hyperplane.api("orders")
        r = hyperplane.request("client", f"https://{api.hostname}/prod/orders")
        assert r.status == 200

The marker (on a test, a class or a module's `pytestmark`) names the topology: a
path (relative to the current directory, the rootdir or the test's file), a dict,
or an example's name. `scope="function"` (default) gives each test its own
topology; `scope="module"` shares one per module and file. `name=` overrides the
file's topology name (to run beside another copy).

Without root the fixture FAILS with one line: a skip would let a CI job without
root go green while nothing was tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hyperplane_emu import api

MARKER = "topology"
SCOPES = ("function", "module")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f'{MARKER}(source, scope="function"|"module", name=None): the topology the '
        "`hyperplane` fixture brings up (a YAML path, a dict or an example name)",
    )


class _Shared:
    """Module-scoped topologies, keyed by what the marker says."""

    def __init__(self) -> None:
        self.live: dict[tuple[str, str | None], api.Topology] = {}

    def close(self) -> None:
        errors = []
        for t in self.live.values():
            try:
                t.down()
            except Exception as e:  # noqa: BLE001 - every topology must get its chance
                errors.append(str(e))
        self.live.clear()
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def _hyperplane_module() -> Iterator[_Shared]:
    shared = _Shared()
    yield shared
    shared.close()


@pytest.fixture
def hyperplane(
    request: pytest.FixtureRequest, _hyperplane_module: _Shared
) -> Iterator[api.Topology]:
    """The running topology named by the test's `@pytest.mark.topology(...)`."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        pytest.fail(
            f'the hyperplane fixture needs @pytest.mark.{MARKER}("topology.yaml") on the test',
            pytrace=False,
        )
    source, scope, name = _arguments(marker, request)
    if os.geteuid() != 0:
        pytest.fail(
            "hyperplane-emu needs root (it builds network namespaces): run pytest as root "
            "(sudo, a root CI job); this fails rather than skips so CI cannot pass untested",
            pytrace=False,
        )
    if scope == "module":
        key = (repr(source), name)
        topo = _hyperplane_module.live.get(key)
        if topo is None:
            topo = _hyperplane_module.live[key] = _up(source, name)
        yield topo
        return
    topo = _up(source, name)
    try:
        yield topo
    finally:
        topo.down()


def _up(source: api.Source, name: str | None) -> api.Topology:
    try:
        return api.up(source, name=name)
    except Exception as e:  # noqa: BLE001 - one readable line, not a runtime traceback
        pytest.fail(f"hyperplane-emu could not bring up {source!s}: {e}", pytrace=False)


def _arguments(
    marker: pytest.Mark, request: pytest.FixtureRequest
) -> tuple[api.Source, str, str | None]:
    scope = marker.kwargs.get("scope", "function")
    if scope not in SCOPES:
        pytest.fail(f"@pytest.mark.{MARKER}: scope must be one of {SCOPES}, not {scope!r}")
    name = marker.kwargs.get("name")
    source: Any = marker.args[0]
    if isinstance(source, Mapping):
        return source, scope, name
    return _resolve(str(source), request), scope, name


def _resolve(text: str, request: pytest.FixtureRequest) -> str:
    path = Path(text)
    if path.is_absolute():
        return text
    for base in (Path.cwd(), request.config.rootpath, Path(str(request.node.path)).parent):
        if (base / path).exists():
            return str(base / path)
    return text  # an example's name, or a path api.up will report as missing
