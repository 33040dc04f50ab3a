"""`python -m hyperplane_emu.services.alb` as a process: ready file, serving, status, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from alb_helpers import alb_config, fixed

from hyperplane_emu.plan import serialize
from hyperplane_emu.services.alb.config import plan_for


def wait_for(path: Path, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while not path.exists():
        if time.monotonic() > end:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.02)


def test_process_lifecycle(tmp_path: Path) -> None:
    cfg = tmp_path / "plan.json"
    plan, key = plan_for(alb_config({}, default=fixed(200, "up")))
    cfg.write_text(serialize.to_json(plan))
    ready = tmp_path / "ready.json"
    log = tmp_path / "alb.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hyperplane_emu.services.alb",
                "--plan",
                str(cfg),
                "--load-balancer",
                key,
                "--listen-address",
                "127.0.0.1",
                "--ready-file",
                str(ready),
                "--name",
                "he-alb-test",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(ready)
        doc = json.loads(ready.read_text())
        assert doc["pid"] == proc.pid and doc["name"] == "test-alb"
        (port,) = doc["listeners"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert (r.status, r.read(), r.headers["Server"]) == (200, b"up", "awselb/2.0")
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "he-alb-test"
        os.kill(proc.pid, signal.SIGUSR1)
        end = time.monotonic() + 10
        while '"requests": 1' not in log.read_text():
            assert time.monotonic() < end, log.read_text()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not ready.exists()
        assert f"listening on http://127.0.0.1:{port}" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "plan.json"
    plan, _ = plan_for(alb_config({}))
    cfg.write_text(serialize.to_json(plan))
    done = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.services.alb", "--plan", str(cfg),
         "--load-balancer", "local/nope"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "has no ALB 'local/nope'" in done.stderr
