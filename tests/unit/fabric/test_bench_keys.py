"""scripts/bench fabric's JSON: today's keys stay, the fast path's are added (#20)."""

from __future__ import annotations

from hyperplane_emu.bench.fabric import Figures, Result


def figures(scale: float) -> Figures:
    return Figures(
        gbps={1500: 2.0 * scale, 9001: 4.0 * scale}, pps={64: 100.0 * scale, 1500: 80.0 * scale}
    )


def test_keys_of_both_comparisons_and_their_ratios() -> None:
    r = Result(figures(1.0), figures(0.25), {}, 90.0, kernel_on=figures(2.0), fast=figures(2.2))
    r.flows_per_s, r.flows_per_s_python, r.map_gbps = 18_000.4, 21_000.0, {10_000: 4.1}
    j = r.as_json()
    # today's keys: the Python path against the kernel, offloads off
    assert (j["ratio_1500"], j["ratio_9001"], j["ratio_pps_64"]) == (0.25, 0.25, 0.25)
    assert j["fabric_gbps_1500"] == 0.5 and j["kernel_pps_1500"] == 80
    # the fast path against the kernel with offloads on
    assert (j["ratio_1500_on"], j["ratio_9001_on"], j["ratio_pps_1500_on"]) == (1.1, 1.1, 1.1)
    assert j["fast_gbps_9001"] == 8.8 and j["kernel_on_gbps_9001"] == 8.0
    assert j["flows_per_s"] == 18_000 and j["map_gbps_1500"] == {"10000": 4.1}
    assert j["targets"]["ratio_1500_on >= 0.9"] and not j["targets"]["flows_per_s >= 20000"]


def test_without_the_fast_path_only_todays_keys() -> None:
    j = Result(figures(1.0), figures(0.5), {}, 30.0).as_json()
    assert "ratio_1500_on" not in j and j["ratio_9001"] == 0.5
    assert not j["targets"]["ratio_9001_on >= 0.9"]
