"""up / down / clean: the runtime's verbs, in the order that keeps them safe.

`up` loads and plans (pure, so bad input changes nothing), then creates the
state directory and journals every object *before* creating it; on any error,
or Ctrl-C, it undoes the journal and re-raises: it finishes or rolls back.
`down` undoes a journal in reverse, ignoring what is already gone, gathering
every other error and reporting them all. `clean` runs `down` for every state
directory and then removes any `he-` namespace or `/etc/netns/he-*` directory
still there (a crash before the journal was written, a deleted state dir).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.kernelpath import ENV as FAST_PATH_ENV
from hyperplane_emu.fabric.kernelpath import MODES as FAST_PATH_MODES
from hyperplane_emu.plan.dns import WITHDRAWN_FILE
from hyperplane_emu.plan.model import Plan
from hyperplane_emu.prefix import PREFIX
from hyperplane_emu.realize import Kernel, KernelDoor, KernelError, realize, undo
from hyperplane_emu.realize.network import ETC_NETNS
from hyperplane_emu.runtime import processes
from hyperplane_emu.runtime.state import STATE_ROOT, StateDir, all_state_dirs

Progress = Callable[[str], None]
PROCESS_TOKEN = "hyperplane_emu"  # every process we start runs a module of this package
READY_TIMEOUT = 10.0


class RuntimeFailure(Exception):
    """A runtime verb could not do its job; the message says what and what to do."""


class AlreadyUp(RuntimeFailure):
    pass


class NotUp(RuntimeFailure):
    pass


@dataclass
class DownReport:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def extend(self, other: DownReport) -> None:
        self.removed.extend(other.removed)
        self.errors.extend(other.errors)


def _step_delay() -> None:
    # Test hook: slows `up` so a test can kill it at a chosen point (crash recovery).
    delay = float(os.environ.get("HE_UP_STEP_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """spec + plan: raises SpecError / PlanError, touches nothing."""
    return plan.build(spec.load(path))


def up(
    source: str | os.PathLike[str] | Plan,
    *,
    replace: bool = False,
    progress: Progress = lambda _: None,
    kernel: KernelDoor | None = None,
    root: Path | None = None,
    fast_path: str | None = None,
) -> Plan:
    """Realize `source` and start its processes; all or nothing.

    ``fast_path``: ``auto`` (established flows carried by the kernel's eBPF fast
    path when it loads) or ``off``; None: ``$HYPERPLANE_EMU_FAST_PATH``, else auto."""
    mode = fast_path or os.environ.get(FAST_PATH_ENV) or "auto"
    if mode not in FAST_PATH_MODES:
        raise RuntimeFailure(
            f"fast path {mode!r} (--fast-path or ${FAST_PATH_ENV}): "
            f"expected one of {', '.join(FAST_PATH_MODES)}"
        )
    p = source if isinstance(source, Plan) else load_plan(source)
    k = kernel or Kernel()
    state = StateDir.of(p.name, root)
    if state.exists():
        if not replace:
            raise AlreadyUp(
                f"topology {p.name!r} is already up (state in {state.path}); "
                f"use `hyperplane-emu down {p.name}` first, or `up --replace`"
            )
        progress(f"replacing running {p.name}")
        report = down(p.name, kernel=k, root=root)
        if report.errors:
            raise RuntimeFailure(
                "could not take the old topology down:\n  " + "\n  ".join(report.errors)
            )
    leftovers = [n for n in k.netns_list() if n.startswith(p.prefix)]
    if leftovers:
        raise RuntimeFailure(
            f"namespaces of {p.name!r} exist without a state directory "
            f"({', '.join(leftovers)}): a crashed run? `hyperplane-emu clean` removes them"
        )
    state.create()
    try:
        state.plan_file.write_text(plan.to_json(p))
        _realize(p, k, state, progress)
        _start_fabric(p, state, progress, mode)
        _start_resolvers(p, state, progress)
        _start_services(p, k, state, progress)
        _start_albs(p, state, progress)
        _start_api_gateway(p, state, progress)
        _start_health_checks(p, state, progress)
    except BaseException:
        progress("rolling back")
        report = _undo(state, k)
        _remove_state(state, report)
        raise
    return p


def _realize(p: Plan, k: KernelDoor, state: StateDir, progress: Progress) -> None:
    offloads = None
    if isinstance(k, Kernel):
        from hyperplane_emu.fabric.offload import disable_offloads

        offloads = disable_offloads

    def record(entry: dict[str, Any]) -> None:
        state.record(entry)
        _step_delay()

    realize(p, k, record, progress, offloads=offloads)


def _spawn(state: StateDir, name: str, argv: list[str], netns: str | None) -> int:
    state.record({"kind": "process", "name": name, "netns": netns})
    pid = processes.spawn(argv, netns, state.logs / f"{name}.log")
    state.write_pid(name, pid)
    state.record({"kind": "pid", "name": name, "pid": pid})
    _step_delay()
    return pid


def _log_tail(state: StateDir, name: str, lines: int = 15) -> str:
    try:
        text = (state.logs / f"{name}.log").read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join("    " + t for t in text.splitlines()[-lines:])


def _start_fabric(p: Plan, state: StateDir, progress: Progress, fast_path: str) -> None:
    argv = [
        sys.executable,
        "-m",
        "hyperplane_emu.fabric.daemon",
        "--state-dir",
        str(state.path),
        "--netns",
        p.fabric_namespace,
        "--fast-path",
        fast_path,
    ]
    pid = _spawn(state, "fabric", argv, None)
    _wait_ready(
        state, "fabric", pid, lambda: fabric_request(state, "ping", timeout=0.5) is not None,
        "the fabric", "did not answer",
    )  # fmt: skip
    said = fabric_request(state, "status", timeout=1.0) or {}
    progress(f"fabric running (pid {pid}; fast path {said.get('fast_path', 'unknown')})")


def _wait_ready(
    state: StateDir,
    name: str,
    pid: int,
    ready: Callable[[], bool],
    label: str,
    waiting: str,
    deadline: float | None = None,
) -> None:
    """Poll `ready` until it holds; fail with the log's tail if the process `name` dies,
    or after READY_TIMEOUT (or at `deadline`, shared by processes started together)."""
    deadline = deadline if deadline is not None else time.monotonic() + READY_TIMEOUT
    while not ready():
        if not processes.alive(pid):
            raise RuntimeFailure(f"{label} exited during start:\n{_log_tail(state, name)}")
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"{label} {waiting} within {READY_TIMEOUT:.0f} s")
        time.sleep(0.02)


def _wait_ready_files(state: StateDir, started: list[tuple[str, int, Path]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for name, pid, ready in started:
        _wait_ready(state, name, pid, ready.exists, name, "was not ready", deadline)


def _start_resolvers(p: Plan, state: StateDir, progress: Progress) -> None:
    """One Amazon DNS server per VPC, in its own namespace, serving that VPC's zone."""
    started = []
    for vname, zone_file in write_zones(p, state).items():
        resolver = next(e for e in p.enis if e.kind == "resolver" and e.vpc == vname)
        ready = zone_file.with_suffix(".ready")
        argv = [
            sys.executable, "-m", "hyperplane_emu.services.dns",
            "--zone", str(zone_file), "--listen", resolver.ip,
            "--listen", "169.254.169.253", "--name", f"he-dns-{vname}",
            "--ready-file", str(ready),
            "--withdrawn", str(state.path / WITHDRAWN_FILE),
        ]  # fmt: skip
        name = f"dns-{vname}"
        started.append((name, _spawn(state, name, argv, resolver.namespace), ready))
    _wait_ready_files(state, started)
    if started:
        progress(f"{len(started)} DNS resolvers")


def write_zones(p: Plan, state: StateDir) -> dict[str, Path]:
    """Each VPC resolver's zone file (`dns/<vpc>.json`), replaced atomically: `apply`
    rewrites them under running resolvers, which reread them on SIGHUP."""
    from hyperplane_emu.plan.dns import zone_to_json, zones

    zone_dir = state.path / "dns"
    zone_dir.mkdir(mode=0o700, exist_ok=True)
    out = {}
    for vname, zone in zones(p).items():
        f = zone_dir / f"{vname}.json"
        f.with_suffix(".tmp").write_text(zone_to_json(zone))
        f.with_suffix(".tmp").replace(f)
        out[vname] = f
    return out


def _start_albs(p: Plan, state: StateDir, progress: Progress) -> None:
    from hyperplane_emu.runtime import alb

    started = [(name, _spawn(state, name, argv, ns), ready)
               for name, argv, ns, ready in alb.prepare(p, state.path)]  # fmt: skip
    _wait_ready_files(state, started)
    if started:
        progress(f"{len(started)} ALB nodes running")


def _start_api_gateway(p: Plan, state: StateDir, progress: Progress) -> None:
    if p.api_gateway is None:
        return
    from hyperplane_emu.runtime import apigw

    argv, ready = apigw.prepare(p, state.path)
    apigw.trust(p, state.path / "apigw" / "ca.pem")
    host = p.hosts[p.api_gateway.host]
    pid = _spawn(state, "apigateway", argv, host.namespace)
    _wait_ready(state, "apigateway", pid, ready.exists, "API Gateway", "was not ready")
    progress(f"API Gateway data plane running ({len(p.apis)} APIs, pid {pid})")


def _start_health_checks(p: Plan, state: StateDir, progress: Progress) -> None:
    if not any(lb.target_groups for lb in p.load_balancers.values() if lb.kind == "nlb"):
        return
    argv = [sys.executable, "-m", "hyperplane_emu.services.healthcheck", "--state-dir",
            str(state.path)]  # fmt: skip
    pid = _spawn(state, "health", argv, None)
    progress(f"NLB health checks running (pid {pid})")


def _start_services(p: Plan, k: KernelDoor, state: StateDir, progress: Progress) -> None:
    from hyperplane_emu.runtime import apigw

    certs = apigw.host_certificates(p, state.path)
    started = []
    for h in p.hosts.values():
        for s in h.serve:
            name = f"{s.kind}-{h.name}-{s.port}"
            argv = [
                sys.executable,
                "-m",
                f"hyperplane_emu.services.{s.kind}",
                "--port",
                str(s.port),
                "--name",
                h.name,
            ]
            if s.tls:
                cert, key = certs[h.name]
                argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
            pid = _spawn(state, name, argv, h.namespace)
            started.append((name, pid, h.namespace, s.port))
    for name, pid, ns, port in started:
        _wait_listening(k, state, name, pid, ns, port)
    if started:
        progress(f"{len(started)} services listening")


def _wait_listening(
    k: KernelDoor, state: StateDir, name: str, pid: int, ns: str, port: int
) -> None:
    def probe() -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    _wait_ready(
        state, name, pid, lambda: bool(k.in_netns(ns, probe)), name,
        f"did not listen on port {port}",
    )  # fmt: skip


def fabric_request(
    state: StateDir, op: str, /, timeout: float = 2.0, **args: Any
) -> dict[str, Any] | None:
    """One control-socket request; None when the fabric is not there or not answering."""
    if not state.control_socket.exists():
        return None
    from hyperplane_emu.fabric import control

    try:
        answer = control.request(str(state.control_socket), op, timeout=timeout, **args)
    except (control.ControlError, OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


# ----------------------------------------------------------------- down


def down(name: str, *, kernel: KernelDoor | None = None, root: Path | None = None) -> DownReport:
    state = StateDir.of(name, root)
    if not state.exists():
        raise NotUp(f"topology {name!r} is not up (no {state.path})")
    report = _undo(state, kernel or Kernel())
    _remove_state(state, report)
    _remove_root_if_empty(root)
    return report


def _remove_root_if_empty(root: Path | None) -> None:
    r = root or STATE_ROOT
    with contextlib.suppress(OSError):  # not empty (another topology is up), or gone
        r.rmdir()


def _undo(state: StateDir, k: KernelDoor) -> DownReport:
    report = DownReport()
    entries = state.journal()
    # Processes first (they hold sockets in the namespaces), newest first.
    for e in reversed(entries):
        if e["kind"] == "pid":
            try:
                if processes.stop(int(e["pid"]), PROCESS_TOKEN):
                    report.removed.append(f"process {e['name']} (pid {e['pid']})")
            except OSError as err:
                report.errors.append(f"process {e['name']} (pid {e['pid']}): {err}")
    for e in reversed(entries):
        if e["kind"] == "netns":
            _remove_netns(k, e["name"], report)
        elif e["kind"] == "dir":
            try:
                if undo(e, k):
                    report.removed.append(f"directory {e['path']}")
            except (OSError, ValueError) as err:
                report.errors.append(f"directory {e['path']}: {err}")
    return report


def _remove_netns(k: KernelDoor, name: str, report: DownReport) -> None:
    # Anything still running in it (a process started before its pid was journaled,
    # a user's `exec … tcpdump`) would keep the namespace alive unseen.
    if isinstance(k, Kernel):
        for pid in processes.pids_in_netns(name):
            if pid != os.getpid() and processes.stop(pid):
                report.removed.append(f"process {pid} in {name}")
    try:
        if k.netns_delete(name):
            report.removed.append(f"namespace {name}")
    except KernelError as err:
        report.errors.append(str(err))


def _remove_state(state: StateDir, report: DownReport) -> None:
    try:
        shutil.rmtree(state.path)
    except FileNotFoundError:
        pass
    except OSError as err:
        report.errors.append(f"state directory {state.path}: {err}")


# ---------------------------------------------------------------- clean


def clean(
    *,
    prefix: str = PREFIX,
    kernel: KernelDoor | None = None,
    root: Path | None = None,
    etc_netns: str = ETC_NETNS,
) -> DownReport:
    """Remove every emulator object whose name starts with `prefix` (default: all `he-`)."""
    k = kernel or Kernel()
    report = DownReport()
    for state in all_state_dirs(root):
        if not f"{PREFIX}{state.name}-".startswith(prefix):
            continue
        report.extend(_undo(state, k))
        _remove_state(state, report)
    for name in k.netns_list():
        if name.startswith(prefix):
            _remove_netns(k, name, report)
    try:
        leftovers = sorted(os.listdir(etc_netns))
    except FileNotFoundError:
        leftovers = []
    for d in leftovers:
        if d.startswith(prefix):
            path = os.path.join(etc_netns, d)
            try:
                shutil.rmtree(path)
                report.removed.append(f"directory {path}")
            except OSError as err:
                if err.errno != errno.ENOENT:
                    report.errors.append(f"directory {path}: {err}")
    _remove_root_if_empty(root)
    return report
