"""The demo is the README's main job and a smoke test: it must pass, and fail when AWS would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hyperplane_emu.cli import demo
from hyperplane_emu.realize import Kernel

pytestmark = pytest.mark.root


def test_demo_all_scenarios_pass_and_leave_nothing(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.cli.main", "demo", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert r.stdout.count("as AWS does") == len(demo.SCENARIOS)
    assert "two PrivateLink" in r.stdout
    assert list(tmp_path.glob("*.pcap")) and list((tmp_path / "flow-logs").glob("*.log"))
    assert not [n for n in Kernel().netns_list() if n.startswith("he-private-rest-")]


def test_a_target_sg_that_blocks_the_nlb_fails_the_demo_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    text = demo.EXAMPLE.read_text()
    assert "- {port: 8080, source: 10.0.0.0/16}" in text
    broken.write_text(text.replace("- {port: 8080, source: 10.0.0.0/16}",
                                   "- {port: 8080, source: 10.9.0.0/16}"))  # fmt: skip
    monkeypatch.setattr(demo, "EXAMPLE", broken)
    monkeypatch.setattr(demo, "EXAMPLES", tmp_path)
    assert demo.run(scenario="vpc-link", out=tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "demo: vpc-link: regional API via VPC link did not answer" in err, err
