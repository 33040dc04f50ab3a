"""End-to-end fixtures: real topologies, brought up through the public handle
(`hyperplane_emu.up`, the same one the pytest plugin's `hyperplane` fixture gives
users), always torn down."""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import hyperplane_emu
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime import lifecycle

_ids = itertools.count()

# The fabric's modes: the kernel's eBPF fast path carries established flows (the
# default, every e2e test) or Python carries every packet (`--fast-path off`, the
# fallback when the kernel cannot load the program). The modules whose subject is
# the data path itself run in both; the rest (API Gateway, CLI, AWS API, templates)
# exercise the same fabric in the default mode only, to keep the suite within its
# ten minutes (as do test_privatelink and test_target_failure, 25-30 s each, and
# test_fabric_daemon, whose module-scoped daemon cannot change modes).
# HYPERPLANE_EMU_FAST_PATH=off set from outside (`HYPERPLANE_EMU_FAST_PATH=off
# scripts/test`) runs the whole suite in that mode.
BOTH_MODES = frozenset(
    {
        "test_traffic",
        "test_flowlogs_e2e",
        "test_nacl_e2e",
        "test_ppv2_e2e",
        "test_security",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in BOTH_MODES and "fast_path" in metafunc.fixturenames:
        metafunc.parametrize("fast_path", ["kernel", "python"], indirect=True)


@pytest.fixture(autouse=True)
def fast_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fabric mode this test runs in: "kernel" or "python" (its id in the test name)."""
    mode: str | None = getattr(request, "param", None)
    if mode is not None:
        monkeypatch.setenv(lifecycle.FAST_PATH_ENV, "off" if mode == "python" else "auto")
        return mode
    return "python" if os.environ.get(lifecycle.FAST_PATH_ENV) == "off" else "kernel"


class Topology:
    """A running topology and the ways tests poke at it: the public handle
    (`self.handle`, whose methods are reachable here too: `request`, `trace`,
    `capture`, `exec`...) plus the socket-level helpers these tests grew up with."""

    def __init__(self, handle: hyperplane_emu.Topology) -> None:
        self.handle = handle
        self.plan = handle.plan
        self.kernel = Kernel()
        self.state = handle.state

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def ip(self, host: str) -> str:
        return next(e.ip for e in self.plan.enis if e.owner == host)

    def eni(self, host: str) -> str:
        return next(e.id for e in self.plan.enis if e.owner == host)

    def run_in(self, host: str, fn: Callable[[], Any]) -> Any:
        return self.kernel.in_netns(self.plan.hosts[host].namespace, fn)

    def connect(self, host: str, ip: str, port: int, timeout: float = 2.0) -> str:
        """'connected', 'refused' or 'timeout' for a TCP connect from `host`."""

        def go() -> str:
            with socket.socket() as s:
                s.settimeout(timeout)
                try:
                    s.connect((ip, port))
                except ConnectionRefusedError:
                    return "refused"
                except TimeoutError:
                    return "timeout"
                return "connected"

        return str(self.run_in(host, go))

    def http_get(self, host: str, ip: str, port: int, path: str = "/") -> bytes:
        def go() -> bytes:
            with socket.create_connection((ip, port), timeout=3) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
                chunks = []
                while True:
                    b = s.recv(65536)
                    if not b:
                        return b"".join(chunks)
                    chunks.append(b)

        return bytes(self.run_in(host, go))

    def udp_echo(self, host: str, ip: str, port: int, payload: bytes) -> bytes | None:
        def go() -> bytes | None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(payload, (ip, port))
                try:
                    return s.recv(65536)
                except TimeoutError:
                    return None

        return self.run_in(host, go)  # type: ignore[no-any-return]

    def fabric(self, op: str, **args: Any) -> dict[str, Any]:
        try:
            return self.handle.fabric(op, **args)
        except lifecycle.RuntimeFailure as e:
            raise AssertionError(str(e)) from None

    def dropped(self, reason: str) -> int:
        """The fabric's `dropped.<reason>` counter (0 before the first such drop)."""
        return int(self.fabric("status")["counters"].get(f"dropped.{reason}", 0))

    def rejected(self, eni: str, src: str, dport: int | None = None) -> list[list[str]]:
        """REJECT flow-log records on `eni` from `src` (to `dport`, when given)."""
        return [
            r
            for r in self.flow_logs()
            if r[2] == eni and r[3] == src and r[12] == "REJECT"
            and (dport is None or r[6] == str(dport))
        ]  # fmt: skip

    def flow_logs(self) -> list[list[str]]:
        self.fabric("flush_flow_logs")
        lines = []
        for f in sorted(self.state.flow_logs.glob("*.log")):
            lines += [ln.split() for ln in f.read_text().splitlines() if ln]
        return lines


def unique_name(stem: str) -> str:
    return f"{stem}{os.getpid() % 1000}{next(_ids)}"[:16]


@pytest.fixture
def topology(tmp_path: Path, fast_path: str) -> Iterator[Callable[[str], Topology]]:
    """`topology(yaml_text)` brings it up (name replaced by a unique one); all go down after.

    In the "kernel" mode the fast path must really be on: a machine that cannot load
    the eBPF program would otherwise pass these tests on the Python path alone."""
    started: list[hyperplane_emu.Topology] = []

    def make(text: str) -> Topology:
        name = unique_name("t")
        text = text.replace("NAME", name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        handle = hyperplane_emu.up(path)
        started.append(handle)
        t = Topology(handle)
        said = str(t.fabric("status").get("fast_path", ""))
        assert said.startswith("on" if fast_path == "kernel" else "off"), (fast_path, said)
        return t

    yield make
    for handle in started:
        try:
            handle.down()  # a no-op when the test took it down itself
        except lifecycle.RuntimeFailure as e:
            raise AssertionError(str(e)) from None


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


SHOP = """
name: NAME
region: us-east-1
accounts: {customer: "111122223333"}
vpcs:
  customer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      app:
        ingress:
          - {port: 8080, source: 10.0.0.0/16}
          - {protocol: udp, port: 5000, source: 10.0.0.0/16}
          - {protocol: icmp, source: 10.0.0.0/16}
    hosts:
      client: {subnet: a}
      app1: {subnet: a, security_groups: [app], serve: [echo:8080, echo:9090]}
      app2: {subnet: b, security_groups: [app], serve: echo:8080}
"""
