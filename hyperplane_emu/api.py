"""The public Python handle: a live topology in a `with` block, for tests and scripts.

    import hyperplane_emu

    with hyperplane_emu.up("examples/private-rest-api.yaml") as topo:
        api = topo.api("orders")
        r = topo.request("client", f"https://{api.hostname}/prod/orders")
        assert r.status == 200 and r.json()["saw_source"].startswith("10.0.")
        assert any(rec.action == "ACCEPT" for rec in topo.flow_logs(eni="app1"))

The habit is moto's `mock_aws` and Mininet's `net.get('h1').cmd()`: a few lines
give a real topology (namespaces, the fabric, the services) to assert against,
and leaving the block (normally, by an exception, by Ctrl-C or by SIGTERM)
tears it down. Every method is a thin layer over the same runtime functions
the CLI verbs call, so what a test sees is what `hyperplane-emu` shows.
Needs root, like every verb that touches network namespaces.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from hyperplane_emu.api_exit import LIVE, arm_signals
from hyperplane_emu.api_records import Capture, Eni, FlowLogRecord, Hop, Host, Response, Trace
from hyperplane_emu.api_source import Source, plan_of
from hyperplane_emu.api_source import load as load_source
from hyperplane_emu.cfn.translation import Translation
from hyperplane_emu.fabric.flowlog import (
    V2_FIELDS,
    eni_meta,
    flow_log_setup,
)
from hyperplane_emu.plan.model import Plan, PlanApi, PlanEni
from hyperplane_emu.realize import netns
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir

__all__ = [
    "Capture",
    "Eni",
    "FlowLogRecord",
    "Hop",
    "Host",
    "NotRoot",
    "Response",
    "Source",
    "Topology",
    "Trace",
    "attach",
    "load",
    "up",
]
"""The records (api_records.py) and `Source` (api_source.py) are re-exported: this
module is what `hyperplane_emu.__getattr__` reads them from."""


class NotRoot(PermissionError):
    """The emulator builds network namespaces: only root can."""


# ---------------------------------------------------------------- the handle


class Topology:
    """A running topology. Obtain one from `hyperplane_emu.up(...)`; leave the `with`
    block (or call `down()`) to tear it down."""

    def __init__(self, p: Plan, translation: Translation | None = None) -> None:
        self.plan = p
        self.translation = translation
        """For a CloudFormation template: what was skipped, the logical id -> topology
        name map, the Outputs (see `outputs`); None for a topology file."""
        self.name = p.name
        self.state = StateDir.of(p.name)
        self._pid = os.getpid()
        self._down = False
        self._hosts = {
            h.name: Host(
                h.name, h.vpc, h.subnet, h.namespace, h.hostname,
                tuple(Eni.of(self._plan_eni(i)) for i in h.enis),
            )
            for h in p.hosts.values()
        }  # fmt: skip

    # ---- lifetime

    def __enter__(self) -> Topology:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    def down(self) -> lifecycle.DownReport:
        """Tear it down (idempotent). Raises RuntimeFailure if something is left."""
        if self._down:
            return lifecycle.DownReport()
        self._down = True
        LIVE.discard(self)
        if not self.state.exists():
            return lifecycle.DownReport()
        report = lifecycle.down(self.name)
        if report.errors:
            raise lifecycle.RuntimeFailure(
                f"{self.name}: down left objects behind:\n  " + "\n  ".join(report.errors)
            )
        return report

    # ---- what is there

    @property
    def outputs(self) -> dict[str, str]:
        """A template's Outputs with the running topology's ids and addresses (what
        `hyperplane-emu up template.yaml` prints); {} for a topology file."""
        if self.translation is None:
            return {}
        from hyperplane_emu import cfn

        return cfn.outputs_for(self.translation, self.plan)

    @property
    def hosts(self) -> Mapping[str, Host]:
        return self._hosts

    @property
    def enis(self) -> list[Eni]:
        return [Eni.of(e) for e in self.plan.enis]

    def eni(self, ref: str) -> Eni:
        """An ENI by id or by owner (a host name takes its eth0)."""
        return Eni.of(self._find_eni(ref))

    def api(self, name: str) -> PlanApi:
        """An API Gateway API by its name in the file (or its id)."""
        for a in self.plan.apis.values():
            if name in (a.name, a.id):
                return a
        raise KeyError(f"{self.name} has no API {name!r} (APIs: {', '.join(self._api_names())})")

    def status(self) -> dict[str, Any]:
        """What `hyperplane-emu status NAME --json` prints."""
        from hyperplane_emu.runtime.status import status

        return status(self.name)

    # ---- doing things

    def exec(
        self,
        host: str,
        cmd: str | Sequence[str],
        *,
        input: str | None = None,  # noqa: A002 - subprocess's name
        timeout: float = 30.0,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` in `host`'s namespace (its resolv.conf and CA bundle too), like
        `hyperplane-emu exec`. A string runs through `sh -c`; a list runs as is."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return subprocess.run(
            netns.exec_argv(self._namespace(host), argv),
            input=input, capture_output=True, text=True, timeout=timeout, check=check,
        )  # fmt: skip

    def request(
        self,
        host: str,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        timeout: float = 10.0,
    ) -> Response:
        """One HTTP(S) request from `host` with curl in its namespace, so names resolve
        through the VPC's resolver (private DNS included) and TLS is checked against
        the topology's CA."""
        with tempfile.TemporaryDirectory(prefix="he-request-") as d:
            head, out, data = Path(d, "head"), Path(d, "body"), Path(d, "data")
            argv = ["curl", "-sS", "-X", method, "-m", f"{timeout:g}", "-D", str(head),
                    "-o", str(out), "-w", "%{http_code}"]  # fmt: skip
            ca = self.state.path / "apigw" / "ca.pem"
            if ca.exists():
                argv += ["--cacert", str(ca)]
            for k, v in (headers or {}).items():
                argv += ["-H", f"{k}: {v}"]
            if body is not None:
                data.write_bytes(body.encode() if isinstance(body, str) else body)
                argv += ["--data-binary", f"@{data}"]
            r = self.exec(host, [*argv, url], timeout=timeout + 10)
            code = r.stdout.strip()
            status = int(code) if code.isdigit() and code != "000" else None
            return Response(
                status,
                _last_headers(head.read_text(errors="replace") if head.exists() else ""),
                out.read_bytes() if out.exists() else b"",
                "" if r.returncode == 0 else f"curl exit {r.returncode}: {r.stderr.strip()}",
            )

    def trace(
        self,
        host: str,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> Trace:
        """`request` with the fabric tracing its flows: every hop it decided."""
        self._namespace(host)
        response, hops = _traced(
            self.plan, host,
            lambda: self.request(host, url, method=method, headers=headers, body=body),
        )  # fmt: skip
        return Trace(response, tuple(Hop.of(h) for h in hops))

    def flow_logs(self, eni: str | None = None, *, flush: bool = True) -> list[FlowLogRecord]:
        """VPC Flow Logs records written so far (all ENIs, or one: id or host name).
        `flush` closes the current aggregation window first, so recent flows show."""
        if flush:
            self.fabric("flush_flow_logs")
        wanted = self._find_eni(eni).id if eni else None
        written, _, _ = flow_log_setup(self.plan)
        metas = eni_meta(self.plan)
        records = []
        for f in sorted(self.state.flow_logs.glob("*.log")):
            if wanted and f.stem != wanted:
                continue
            fields, meta = written.get(f.stem, V2_FIELDS), metas.get(f.stem)
            records += [
                FlowLogRecord.parse(ln, fields, meta) for ln in f.read_text().splitlines() if ln
            ]
        return records

    @contextlib.contextmanager
    def capture(
        self,
        eni: str,
        *,
        filter: str = "",
        path: str | os.PathLike[str] | None = None,  # noqa: A002
    ) -> Iterator[Capture]:
        """Capture one ENI (id or host name) while the block runs, into `path` (default:
        under the state directory, which `down` removes: pass a path to keep it).
        Host ENIs are captured on their veth (tcpdump, `filter` is a pcap filter);
        endpoint and NLB ENIs as the fabric mirrors them (`filter` ignored)."""
        target = self._find_eni(eni)
        if path is None:
            out = self.state.path / "captures"
            out.mkdir(mode=0o700, exist_ok=True)
            path = out / f"{target.id}-{time.monotonic_ns()}.pcap"
        path = Path(path).absolute()
        cap = Capture(Eni.of(target), path)
        if target.port < 0 or target.kind == "nlb":
            answer = self.fabric("capture_start", eni=target.id, path=str(path))
            if not answer.get("ok"):
                raise lifecycle.RuntimeFailure(f"the fabric refused the capture: {answer}")
            try:
                yield cap
            finally:
                self.fabric("capture_stop", eni=target.id)
            return
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            raise lifecycle.RuntimeFailure("tcpdump is not installed (scripts/setup installs it)")
        proc = subprocess.Popen(
            netns.exec_argv(target.namespace, [tcpdump, "-i", target.ifname, "-U",
                            "--immediate-mode", "-n", "-s", "0", "-w", str(path),
                            *shlex.split(filter)]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_capturing(proc, path)
            yield cap
        finally:
            # --immediate-mode: without it libpcap hands packets over per ring block (up
            # to a second late), and tcpdump drops what is still in the ring at SIGTERM.
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()

    def apply(self, source: Source, *, parameters: Mapping[str, str] | None = None) -> Any:
        """Change the running topology in place (`hyperplane-emu apply`): SG rules, APIs,
        Cloud Map. `source` as for `up` (a template too). Returns the runtime's
        ApplyReport."""
        from hyperplane_emu.runtime import apply as apply_mod

        loaded = load_source(source, self.name, parameters)
        report = apply_mod.apply(self.name, loaded.plan)
        self.plan = loaded.plan
        if loaded.translation is not None:
            self.translation = loaded.translation
        return report

    def fabric(self, op: str, **args: Any) -> dict[str, Any]:
        """One request on the fabric's control socket (docs/architecture.md lists them)."""
        answer = lifecycle.fabric_request(self.state, op, timeout=5.0, **args)
        if answer is None:
            raise lifecycle.RuntimeFailure(f"{self.name}: the fabric did not answer {op!r}")
        return answer

    # ---- helpers

    def _plan_eni(self, eni_id: str) -> PlanEni:
        return next(e for e in self.plan.enis if e.id == eni_id)

    def _find_eni(self, ref: str) -> PlanEni:
        for e in self.plan.enis:
            if ref in (e.id, e.owner):
                return e
        known = ", ".join(f"{e.owner} ({e.id})" for e in self.plan.enis)
        raise KeyError(f"{self.name} has no ENI {ref!r}; ENIs: {known}")

    def _namespace(self, host: str) -> str:
        if host == "fabric":
            return self.plan.fabric_namespace
        if host not in self.plan.hosts:
            raise KeyError(f"{self.name} has no host {host!r} (hosts: {', '.join(self.hosts)})")
        return self.plan.hosts[host].namespace

    def _api_names(self) -> list[str]:
        return [a.name for a in self.plan.apis.values()]

    def __repr__(self) -> str:
        return f"<hyperplane_emu.Topology {self.name} ({len(self.hosts)} hosts)>"


# ------------------------------------------------------------------- up


def up(
    source: Source,
    *,
    name: str | None = None,
    replace: bool = False,
    parameters: Mapping[str, str] | None = None,
    fast_path: str | None = None,
) -> Topology:
    """Bring a topology up from a file (path), a mapping (the YAML as a dict), an
    example's name (`"private-rest-api"`), or a CloudFormation/SAM/CDK template (told
    by its content, as the CLI does; `parameters` are its `--parameter` values).
    `name` overrides the topology name (two runs of one file side by side);
    `fast_path` is `up --fast-path` (`"auto"`, `"off"`; default: the environment's
    HYPERPLANE_EMU_FAST_PATH, else auto). Use as a context manager."""
    if os.geteuid() != 0:
        raise NotRoot("hyperplane_emu.up needs root (it creates network namespaces)")
    loaded = load_source(source, name, parameters)
    p = lifecycle.up(loaded.plan, replace=replace, fast_path=fast_path)
    t = Topology(p, loaded.translation)
    LIVE.add(t)
    arm_signals()
    return t


def attach(name: str) -> Topology:
    """A handle on a topology that is already up (`hyperplane-emu up` started it);
    leaving its `with` block takes it down too."""
    from hyperplane_emu.runtime.status import read_plan

    return Topology(read_plan(name)[1])


def load(
    source: Source, *, name: str | None = None, parameters: Mapping[str, str] | None = None
) -> Plan:
    """The plan (ids, addresses, names) a source would get, without root or kernel."""
    return plan_of(source, name, parameters)


def _traced(p: Plan, host: str, action: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The one call into the trace machinery (which brackets trace_start/stop and
    names the traced addresses)."""
    from hyperplane_emu.runtime.trace import traced

    return traced(p, host, action)


def _last_headers(text: str) -> dict[str, str]:
    """Headers of the final response in a curl -D dump (after 100-continue or redirects)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if not blocks:
        return {}
    out: dict[str, str] = {}
    for line in blocks[-1].splitlines()[1:]:
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _wait_capturing(proc: subprocess.Popen[bytes], path: Path, timeout: float = 5.0) -> None:
    """tcpdump writes the pcap header once its capture handle is active."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size >= 24):
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise lifecycle.RuntimeFailure(f"tcpdump exited ({proc.returncode}): {err.strip()}")
        if time.monotonic() > deadline:
            raise lifecycle.RuntimeFailure(f"tcpdump did not start within {timeout:.0f} s")
        time.sleep(0.02)
