"""kernelpath.load: the fabric's one decision about the kernel fast path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
import pytest
from fabric_helpers import make_plan

from hyperplane_emu.cli.main import main
from hyperplane_emu.fabric import ebpf, kernelpath
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.runtime import lifecycle


def test_off_is_asked_for_and_said() -> None:
    fab = Fabric(make_plan())
    assert kernelpath.load(fab, fab.plan, "off") is False
    assert fab.fastpath.describe() == "off (--fast-path off)"


def test_a_kernel_that_refuses_leaves_python_on_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(cls: object, ifindexes: Sequence[int], max_flows: int, obj: Path | None = None):  # type: ignore[no-untyped-def]
        raise ebpf.FastPathUnavailable("kernel refused the program: Operation not permitted")

    monkeypatch.setattr(ebpf.KernelFlows, "load", classmethod(refuse))
    monkeypatch.setattr(kernelpath.socket, "if_nametoindex", lambda name: 7)
    fab = Fabric(make_plan())
    assert kernelpath.load(fab, fab.plan, "auto") is False
    assert fab.fastpath.kernel is None
    assert fab.fastpath.describe() == "off (kernel refused the program: Operation not permitted)"
    assert "fastpath.kernel.entries" not in fab.counters


def test_the_cli_offers_the_daemon_s_modes_and_variable() -> None:
    (option,) = [p for p in main.commands["up"].params if p.name == "fast_path"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == kernelpath.MODES
    assert option.envvar == kernelpath.ENV == lifecycle.FAST_PATH_ENV
