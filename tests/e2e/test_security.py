"""Security properties a user relies on, checked on real namespaces."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHOP, Topology

pytestmark = pytest.mark.root
CLI = [sys.executable, "-m", "hyperplane_emu.cli.main"]


def _ip_header(src: str, dst: str, payload: bytes) -> bytes:
    import struct

    from hyperplane_emu.fabric.checksum import internet_checksum

    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, 17, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )  # fmt: skip
    csum = internet_checksum(hdr)
    return hdr[:10] + csum.to_bytes(2, "big") + hdr[12:] + payload


def test_a_host_sending_as_its_neighbour_gets_nowhere_and_is_logged(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(SHOP)
    neighbour, target = t.ip("app2"), t.ip("app1")
    udp = (40000).to_bytes(2, "big") + (5000).to_bytes(2, "big") + (12).to_bytes(2, "big")
    packet = _ip_header(neighbour, target, udp + b"\0\0" + b"spoof")

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
            s.sendto(packet, (target, 0))

    before = t.fabric("status")["counters"].get("dropped.src-dst-check", 0)
    t.run_in("client", send)
    after = t.fabric("status")["counters"].get("dropped.src-dst-check", 0)
    assert after == before + 1
    records = t.flow_logs()
    assert any(r[2] == t.eni("client") and r[3] == neighbour and r[12] == "REJECT" for r in records)


def test_exec_passes_arguments_without_a_shell(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    t = topology(SHOP)
    marker = tmp_path / "pwned"
    r = subprocess.run(
        [*CLI, "exec", t.plan.name, "client", "--", "echo", f"$(touch {marker})", ";", "id"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0
    assert r.stdout.strip() == f"$(touch {marker}) ; id"
    assert not marker.exists()
    r = subprocess.run(
        [*CLI, "exec", t.plan.name, f"client; touch {marker}", "--", "true"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 1 and not marker.exists()
