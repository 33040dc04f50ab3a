"""Substrate end to end: `up` builds what the plan says; `down` and `clean` leave nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHOP, Topology, unique_name, wait_for

from hyperplane_emu.fabric.offload import get_offloads
from hyperplane_emu.realize import Kernel, netns
from hyperplane_emu.runtime import lifecycle, processes
from hyperplane_emu.runtime.state import STATE_ROOT, StateDir

pytestmark = pytest.mark.root
CLI = [sys.executable, "-m", "hyperplane_emu.cli.main"]


def leftovers(prefix: str) -> list[str]:
    k = Kernel()
    found = [f"netns {n}" for n in k.netns_list() if n.startswith(prefix)]
    if os.path.isdir("/etc/netns"):
        found += [f"/etc/netns/{d}" for d in os.listdir("/etc/netns") if d.startswith(prefix)]
    name = prefix[3:-1]
    if (STATE_ROOT / name).exists():
        found.append(str(STATE_ROOT / name))
    for pid in os.listdir("/proc"):
        if (
            pid.isdigit()
            and any(name in a for a in processes.cmdline(int(pid)))
            and any("hyperplane_emu" in a for a in processes.cmdline(int(pid)))
        ):
            found.append(f"process {pid} {processes.cmdline(int(pid))}")
    return found


def test_up_builds_exactly_the_plan(topology: Callable[[str], Topology]) -> None:
    t = topology(SHOP)
    p = t.plan
    k = t.kernel
    assert set(k.netns_list()) >= {p.fabric_namespace, *(h.namespace for h in p.hosts.values())}
    assert {e.kind for e in p.enis} == {"host", "resolver"}
    status = lifecycle.fabric_request(t.state, "status")
    assert status is not None
    fast_path = str(status["fast_path"])
    for e in p.enis:
        with k.session(e.namespace) as s:
            links = {ln.ifname: ln for ln in s.links()}
            eth = links[e.ifname]
            assert (eth.mac, eth.mtu, eth.up, eth.kind) == (e.mac, 9001, True, "veth")
            addresses = [(a.ip, a.prefixlen) for a in s.addresses() if a.ifname == "eth0"]
            routes = {r.dst: r for r in s.routes()}
            if e.kind == "resolver":
                assert addresses == [(e.ip, 16), ("169.254.169.253", 32)]
                assert "0.0.0.0/0" not in routes
                continue
            assert addresses == [(e.ip, e.prefixlen)]
            assert routes["0.0.0.0/0"].gateway == p.hosts[e.owner].gateway
            assert routes["0.0.0.0/0"].ifname == "eth0"
        with k.session(p.fabric_namespace) as s:
            fab = {ln.ifname: ln for ln in s.links()}[e.fabric_ifname]
            assert (fab.mac, fab.mtu, fab.up) == (e.fabric_mac, 9001, True)
            assert s.addresses() == [a for a in s.addresses() if a.ifname == "lo"]
        # The fabric sets both ends: offloads on when the kernel carries established
        # flows (TSO super-frames at kernel speed), off when every frame is Python's.
        on = fast_path.startswith("on")
        assert get_offloads(e.ifname, e.namespace) == {
            "tso": on, "gso": on, "gro": False, "tx-checksum": on
        }  # fmt: skip
        assert k.read_sysctl(e.namespace, "net.ipv6.conf.eth0.disable_ipv6") == "1"
        resolv = Path(f"/etc/netns/{e.namespace}/resolv.conf").read_text()
        assert resolv.startswith("nameserver 10.0.0.2\n")
    assert k.read_sysctl(p.fabric_namespace, "net.ipv4.ip_forward") == "0"
    assert t.state.plan_file.exists()
    assert oct(t.state.control_socket.stat().st_mode & 0o777) == "0o600"
    assert oct(t.state.path.stat().st_mode & 0o777) == "0o700"


def test_exec_runs_in_the_host_namespace_and_passes_the_exit_code(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(SHOP)
    r = subprocess.run(
        [*CLI, "exec", t.plan.name, "client", "--", "sh", "-c", "cat /etc/resolv.conf; exit 7"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 7
    assert "nameserver 10.0.0.2" in r.stdout
    r = subprocess.run(
        [*CLI, "exec", t.plan.name, "client", "--", "cat", "/sys/class/net/eth0/address"],
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip() == next(e.mac for e in t.plan.enis if e.owner == "client")
    r = subprocess.run(
        [*CLI, "exec", t.plan.name, "nobody", "--", "true"], capture_output=True, text=True
    )
    assert r.returncode == 1 and "no host 'nobody'" in r.stderr


def test_up_of_a_running_name_is_refused_and_changes_nothing(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    t = topology(SHOP)
    path = tmp_path / "again.yaml"
    path.write_text(SHOP.replace("NAME", t.plan.name))
    before = t.state.journal()
    r = subprocess.run([*CLI, "up", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "already up" in r.stderr and "Traceback" not in r.stderr
    assert t.state.journal() == before
    assert t.fabric("ping")["ok"]


def test_bad_file_is_refused_with_paths_and_creates_nothing(tmp_path: Path) -> None:
    name = unique_name("bad")
    path = tmp_path / "bad.yaml"
    path.write_text(SHOP.replace("NAME", name).replace("10.0.2.0/24", "10.9.2.0/24"))
    r = subprocess.run([*CLI, "up", str(path)], capture_output=True, text=True)
    assert r.returncode == 2  # bad input, as opposed to 1: refused by the host or emulator
    assert "vpcs.customer.subnets.b.cidr" in r.stderr
    assert leftovers(f"he-{name}-") == []


def test_failure_mid_up_rolls_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_name("rb")
    path = tmp_path / "rb.yaml"
    path.write_text(SHOP.replace("NAME", name))

    def broken(*a: object) -> None:
        raise lifecycle.RuntimeFailure("injected: services would not start")

    monkeypatch.setattr(lifecycle, "_start_services", broken)
    with pytest.raises(lifecycle.RuntimeFailure, match="injected"):
        lifecycle.up(path)
    assert leftovers(f"he-{name}-") == []


def test_down_leaves_nothing_even_with_a_user_process_inside(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(SHOP)
    prefix = t.plan.prefix
    ns = t.plan.hosts["client"].namespace
    # A user's long-running tool inside a host (as with `exec … tcpdump`).
    sleeper = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "300"])
    try:
        wait_for(lambda: sleeper.pid in processes.pids_in_netns(ns), what="sleeper in netns")
        report = lifecycle.down(t.plan.name)
        assert not report.errors
        assert sleeper.wait(timeout=5) is not None
        assert leftovers(prefix) == []
        with pytest.raises(lifecycle.NotUp):
            lifecycle.down(t.plan.name)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_clean_after_the_runtime_was_killed_mid_up(tmp_path: Path) -> None:
    name = unique_name("crash")
    path = tmp_path / "crash.yaml"
    path.write_text(SHOP.replace("NAME", name))
    state = StateDir.of(name)
    env = {**os.environ, "HE_UP_STEP_DELAY": "0.3"}
    proc = subprocess.Popen([*CLI, "up", str(path)], env=env, stderr=subprocess.DEVNULL)
    # Kill once the fabric process was started: namespaces, veths and a process exist.
    wait_for(
        lambda: any(e["kind"] == "pid" for e in state.journal()), timeout=20, what="fabric pid"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert leftovers(f"he-{name}-"), "the kill came too late to leave anything behind"
    report = lifecycle.clean(prefix=f"he-{name}-")
    assert not report.errors
    assert leftovers(f"he-{name}-") == []


def test_clean_removes_namespaces_without_a_state_directory() -> None:
    name = unique_name("orphan")
    k = Kernel()
    k.netns_create(f"he-{name}-x")
    os.makedirs(f"/etc/netns/he-{name}-x", exist_ok=True)
    report = lifecycle.clean(prefix=f"he-{name}-")
    assert f"namespace he-{name}-x" in report.removed
    assert leftovers(f"he-{name}-") == []


def test_commands_that_need_root_say_so_in_one_line(tmp_path: Path) -> None:
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *CLI, "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "needs root" in r.stderr, r.stderr


def test_a_dead_fabric_shows_in_status_and_down_still_cleans(
    topology: Callable[[str], Topology],
) -> None:
    t = topology(SHOP)
    pid = t.state.read_pids()["fabric"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not processes.alive(pid), what="fabric gone")
    r = subprocess.run([*CLI, "status", t.plan.name, "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["fabric"]["health"] == "dead"
    assert {p["name"]: p["alive"] for p in d["processes"]}["fabric"] is False
    report = lifecycle.down(t.plan.name)
    assert not report.errors
    assert leftovers(t.plan.prefix) == []


def test_the_one_way_into_a_namespace_moves_only_what_it_says(tmp_path: Path) -> None:
    name = f"he-{unique_name('ns')}-x"
    k = Kernel()
    k.netns_create(name)
    try:
        here = os.stat("/proc/thread-self/ns/net").st_ino
        there = netns.inode(name)
        assert there is not None and there[1] != here

        def me() -> int:
            return os.stat("/proc/thread-self/ns/net").st_ino

        with netns.entered(name):
            assert me() == there[1]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        assert me() == here  # the thread came back, the socket stayed
        with sock:
            sock.bind(("127.0.0.1", 0))  # lo is down in a fresh namespace: still bindable
        assert netns.run_in(name, me) == there[1] and me() == here
        with pytest.raises(ZeroDivisionError):
            netns.run_in(name, lambda: 1 // 0)
        with netns.child_entry(name) as preexec:
            out = subprocess.run(
                ["readlink", "/proc/self/ns/net"], preexec_fn=preexec, capture_output=True,
                text=True, check=True,
            )  # fmt: skip
        assert out.stdout.strip() == f"net:[{there[1]}]"
        with pytest.raises(FileNotFoundError):  # never creates one; fails before any fork
            netns.enter(name + "-missing")
        with pytest.raises(FileNotFoundError), netns.child_entry(name + "-missing"):
            pass
        assert me() == here
    finally:
        k.netns_delete(name)
