"""`python -m hyperplane_emu.services.apigateway` as a real process on loopback (no root):
ready file, process name, SIGHUP reload (bad file keeps the old config), SIGTERM exit 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apigw_helpers import PUB, PUB_HOST, base_config, set_integration

from hyperplane_emu.plan import serialize
from hyperplane_emu.services.apigateway.ca import issue, make_ca
from hyperplane_emu.services.apigateway.config import plan_for

DEADLINE = 15.0


def wait_for(cond: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise TimeoutError(what)


def get(port: int, path: str, host: str = PUB_HOST, source: str = "127.0.0.1") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """(process, config file, ready file); stderr goes to `log` beside them."""
    ca = make_ca(tmp_path, "proc")
    cert, key = issue(ca, [], tmp_path)
    cfg = tmp_path / "plan.json"
    cfg.write_text(serialize.to_json(plan_for(base_config(1).apis)))
    ready = tmp_path / "ready.json"
    with (tmp_path / "log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hyperplane_emu.services.apigateway",
                "--plan",
                str(cfg),
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--listen",
                "127.0.0.1:0",
                "--listen",
                "127.0.0.1:0:tls",
                "--ready-file",
                str(ready),
                "--name",
                "he-apigw-test-long-name",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            yield proc, cfg, ready
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def test_lifecycle(gateway: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    proc, cfg, ready = gateway
    log = cfg.with_name("log")
    wait_for(lambda: ready.exists() or proc.poll() is not None, "ready file")
    assert proc.poll() is None, log.read_text()
    doc = json.loads(ready.read_text())
    assert doc["pid"] == proc.pid
    assert [x["tls"] for x in doc["listen"]] == [False, True]
    port = doc["listen"][0]["port"]
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("apigw listening on http://127.0.0.1:") and "https://" in line
    assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "he-apigw-test-l"

    assert get(port, "/prod/") == (200, b"root")

    # SIGHUP with a changed file: new behaviour on new connections.
    changed = set_integration(base_config(1), PUB, 1, mock_body="v2")
    cfg.write_text(serialize.to_json(plan_for(changed.apis)))
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: get(port, "/prod/")[1] == b"v2", "reload")

    # A broken file is refused; the running config stays.
    cfg.write_text("{broken")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "plan reload failed" in log.read_text(), "reload refusal logged")
    assert proc.poll() is None
    assert get(port, "/prod/") == (200, b"v2")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(DEADLINE) == 0
    assert not ready.exists()
    assert "apigw stopped after" in log.read_text()


def test_bad_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "plan.json"
    cfg.write_text(json.dumps({"version": 99}))
    proc = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.services.apigateway", "--plan", str(cfg)],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert b"plan.json has version 99" in proc.stderr
