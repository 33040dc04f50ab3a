"""The microbenchmark measures what it claims: the fast path and the new-flow path."""

from __future__ import annotations

from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.microbench import bench_plan, established, new_flows


def test_established_run_takes_the_fast_path() -> None:
    fab = Fabric(bench_plan())
    assert established(fab, 1500, 50) > 0
    assert fab._fast_forwarded == 50
    assert fab.counters["conntrack.entries"] == 1


def test_new_flow_run_creates_flows() -> None:
    fab = Fabric(bench_plan())
    assert new_flows(fab, 200) > 0
    c = fab.counters
    assert c["conntrack.created"] == 200 and c["forwarded"] == 200
    assert not [k for k in c if k.startswith("dropped.")]
