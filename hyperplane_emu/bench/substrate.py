"""``scripts/bench substrate``: wall time of `up` and `down` through the real runtime.

Two topologies: the PrivateLink seed shape (tests/data/good/privatelink.yaml:
two VPCs, an NLB, an endpoint, echo servers, resolvers, health checks) and a
generated one with 100 host ENIs in four subnets (no servers: it measures the
namespaces, veths, addresses and the fabric, not Python start-up of 100 echoes).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hyperplane_emu.runtime import lifecycle

SEED = Path(__file__).resolve().parents[2] / "tests" / "data" / "good" / "privatelink.yaml"


def generated(n: int = 100) -> str:
    hosts = "\n".join(f"      h{i:03d}: {{subnet: s{i % 4}}}" for i in range(n))
    subnets = "\n".join(
        f"      s{i}: {{cidr: 10.30.{i}.0/24, az: us-east-1{'abcd'[i]}}}" for i in range(4)
    )
    return (
        "name: hebench100\nregion: us-east-1\nvpcs:\n  big:\n    cidr: 10.30.0.0/16\n"
        f"    subnets:\n{subnets}\n    hosts:\n{hosts}\n"
    )


def _time(path: Path) -> tuple[float, float, int]:
    t0 = time.monotonic()
    p = lifecycle.up(path, replace=True)
    up_s = time.monotonic() - t0
    t0 = time.monotonic()
    lifecycle.down(p.name)
    return up_s, time.monotonic() - t0, len(p.enis)


def run(step: Callable[[str], None]) -> dict[str, float]:
    step("seed topology (PrivateLink)")
    seed_up, seed_down, seed_enis = _time(SEED)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "eni100.yaml"
        path.write_text(generated())
        step("generated 100-ENI topology")
        big_up, big_down, big_enis = _time(path)
    return {
        "seed_up_s": round(seed_up, 2),
        "seed_down_s": round(seed_down, 2),
        "seed_enis": seed_enis,
        "eni100_up_s": round(big_up, 2),
        "eni100_down_s": round(big_down, 2),
        "eni100_enis": big_enis,
    }


def print_table(r: dict[str, float]) -> None:
    print(f"{'topology':28}{'ENIs':>6}{'up s':>8}{'down s':>8}")
    print(
        f"{'seed (PrivateLink)':28}{r['seed_enis']:>6}"
        f"{r['seed_up_s']:>8.2f}{r['seed_down_s']:>8.2f}"
    )
    print(
        f"{'generated, 100 host ENIs':28}{r['eni100_enis']:>6}{r['eni100_up_s']:>8.2f}"
        f"{r['eni100_down_s']:>8.2f}"
    )
