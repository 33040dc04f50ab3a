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

import atexit
import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import yaml

from hyperplane_emu import plan as planlib
from hyperplane_emu import spec
from hyperplane_emu.fabric.flowlog import (
    V2_FIELDS,
    V2_PKT_FIELDS,
    EniMeta,
    eni_meta,
    flow_log_setup,
    reformat,
)
from hyperplane_emu.plan.model import Plan, PlanApi, PlanEni
from hyperplane_emu.realize import netns
from hyperplane_emu.runtime import lifecycle
from hyperplane_emu.runtime.state import StateDir
from hyperplane_emu.spec import names as spec_names

Source = str | os.PathLike[str] | Mapping[str, Any]


class NotRoot(PermissionError):
    """The emulator builds network namespaces: only root can."""


# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class Eni:
    id: str
    ip: str
    kind: str
    owner: str
    vpc: str
    subnet: str
    security_groups: tuple[str, ...]
    namespace: str

    @classmethod
    def of(cls, e: PlanEni) -> Eni:
        return cls(e.id, e.ip, e.kind, e.owner, e.vpc, e.subnet, e.security_groups, e.namespace)


@dataclass(frozen=True)
class Host:
    """An emulated host: its namespace and ENIs (eth0 first)."""

    name: str
    vpc: str
    subnet: str
    namespace: str
    hostname: str
    enis: tuple[Eni, ...]

    @property
    def ip(self) -> str:
        """eth0's private address."""
        return self.enis[0].ip

    @property
    def eni(self) -> str:
        """eth0's ENI id."""
        return self.enis[0].id


@dataclass(frozen=True)
class Response:
    """An HTTP exchange as the client (curl, inside the host's namespace) saw it.

    `status` is None when no HTTP answer came back (refused, timed out, TLS
    failure); `error` then says what curl reported."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by name, case-insensitive (HTTP names are)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)


@dataclass(frozen=True)
class FlowLogRecord:
    """One VPC Flow Logs record (default format v2, plus pkt-srcaddr/pkt-dstaddr)."""

    version: int
    account_id: str
    interface_id: str
    srcaddr: str
    dstaddr: str
    srcport: int | None
    dstport: int | None
    protocol: int | None
    packets: int | None
    bytes: int | None
    start: int
    end: int
    action: str
    log_status: str
    pkt_srcaddr: str | None = None
    pkt_dstaddr: str | None = None

    fields: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Every field as the log wrote it, by AWS's name (`tcp-flags`, `vpc-id`...: a
    topology's `flow_logs` can choose custom v2-v5 formats)."""

    @classmethod
    def parse(
        cls, line: str, written: Sequence[str] = V2_FIELDS, meta: EniMeta | None = None
    ) -> FlowLogRecord:
        """A record written in the `written` fields; the v2 (+pkt) fields a custom format
        leaves out are derived where that is exact (flowlog.reformat), else None/'-'."""
        parts = line.split()
        fields = dict(zip(written, parts, strict=False))
        v2 = reformat(line, tuple(written), V2_PKT_FIELDS, meta).split(" ")
        merged = {**dict(zip(V2_PKT_FIELDS, v2, strict=False)), **fields}
        raw = {k.replace("-", "_"): v for k, v in merged.items()}

        def num(key: str) -> int | None:
            v = raw.get(key, "-")
            return None if v == "-" else int(v)

        def text(key: str) -> str | None:
            v = raw.get(key, "-")
            return None if v == "-" else v

        return cls(
            version=num("version") or 2,
            account_id=raw["account_id"],
            interface_id=raw["interface_id"],
            srcaddr=raw["srcaddr"],
            dstaddr=raw["dstaddr"],
            srcport=num("srcport"),
            dstport=num("dstport"),
            protocol=num("protocol"),
            packets=num("packets"),
            bytes=num("bytes"),
            start=num("start") or 0,
            end=num("end") or 0,
            action=raw["action"],
            log_status=raw["log_status"],
            pkt_srcaddr=text("pkt_srcaddr"),
            pkt_dstaddr=text("pkt_dstaddr"),
            fields=fields,
        )


@dataclass(frozen=True)
class Hop:
    """One decision of the fabric for a traced flow (trace.schema.json's items)."""

    time: float
    flow: str
    step: str
    where: str
    action: str
    detail: str
    eni_owner: str = ""
    vpc: str = ""
    namespace: str = ""
    process: str = ""

    @classmethod
    def of(cls, h: Mapping[str, Any]) -> Hop:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in h.items() if k in known})


@dataclass(frozen=True)
class Trace:
    response: Response
    hops: tuple[Hop, ...]

    def steps(self) -> list[str]:
        return [h.step for h in self.hops]

    def draw(self, path: str | os.PathLike[str], title: str = "trace") -> None:
        """The hops as a sequence diagram (SVG; needs Graphviz), as `trace --svg` draws."""
        from hyperplane_emu import diagram

        hops = [{k: v for k, v in dataclasses.asdict(h).items() if v != ""} for h in self.hops]
        diagram.render(diagram.trace_dot(hops, title), path)


@dataclass
class Capture:
    """A running (then finished) capture of one ENI; `path` is the pcap file."""

    eni: Eni
    path: Path
    _stop: Any = field(default=None, repr=False)

    def frames(self) -> list[bytes]:
        """The captured frames, raw (no scapy needed)."""
        from hyperplane_emu.fabric.pcapfile import read_pcap

        try:
            with open(self.path, "rb") as f:
                return [r.data for r in read_pcap(f)[1]]
        except (OSError, ValueError):
            return []

    def packets(self) -> Any:
        """The frames parsed by scapy (`scapy.plist.PacketList`)."""
        from scapy.utils import rdpcap

        return rdpcap(str(self.path))


# ---------------------------------------------------------------- the handle


class Topology:
    """A running topology. Obtain one from `hyperplane_emu.up(...)`; leave the `with`
    block (or call `down()`) to tear it down."""

    def __init__(self, p: Plan) -> None:
        self.plan = p
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
        _LIVE.discard(self)
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

    def apply(self, source: Source) -> Any:
        """Change the running topology in place (`hyperplane-emu apply`): SG rules, APIs,
        Cloud Map. Returns the runtime's ApplyReport."""
        from hyperplane_emu.runtime import apply as apply_mod

        return apply_mod.apply(self.name, _plan(source, self.name))

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


_LIVE: set[Topology] = set()


def up(source: Source, *, name: str | None = None, replace: bool = False) -> Topology:
    """Bring a topology up from a file (path), a mapping (the YAML as a dict), or an
    example's name (`"private-rest-api"`). `name` overrides the file's topology name
    (two runs of one file side by side). Use as a context manager."""
    if os.geteuid() != 0:
        raise NotRoot("hyperplane_emu.up needs root (it creates network namespaces)")
    p = _plan(source, name)
    t = Topology(lifecycle.up(p, replace=replace))
    _LIVE.add(t)
    _arm_signals()
    return t


def attach(name: str) -> Topology:
    """A handle on a topology that is already up (`hyperplane-emu up` started it);
    leaving its `with` block takes it down too."""
    from hyperplane_emu.runtime.status import read_plan

    return Topology(read_plan(name)[1])


def load(source: Source, *, name: str | None = None) -> Plan:
    """The plan (ids, addresses, names) a source would get, without root or kernel."""
    return _plan(source, name)


def _plan(source: Source | Plan, name: str | None) -> Plan:
    if isinstance(source, Plan):
        return source
    if isinstance(source, Mapping):
        topology = spec.loads(yaml.safe_dump(dict(source), sort_keys=False), "<dict>")
    else:
        path = Path(source)
        if not path.exists() and not path.suffix:
            from hyperplane_emu import examples

            path = Path(examples.path(str(source)))
        topology = spec.load(path)
    if name is not None and name != topology.name:
        if not spec_names.NAME.fullmatch(name) or len(name) > spec_names.TOPOLOGY_NAME_MAX:
            raise ValueError(
                f"topology name {name!r}: lower-case letters, digits and '-', starting with a "
                f"letter, at most {spec_names.TOPOLOGY_NAME_MAX} characters"
            )
        topology = dataclasses.replace(topology, name=name)
    return planlib.build(topology)


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


# ------------------------------------------------- teardown on the way out


def _down_all() -> None:
    # Children forked without exec (pyroute2 forks one to enter a namespace) inherit
    # atexit hooks and signal handlers: only the process that brought a topology up
    # may take it down, or a helper's exit would tear down its parent's topology.
    for t in list(_LIVE):
        if t._pid != os.getpid():
            continue
        with contextlib.suppress(Exception):
            t.down()


atexit.register(_down_all)

_armed_by = 0


def _arm_signals() -> None:
    """SIGTERM and SIGHUP (a CI runner cancelling, a closed terminal) kill a Python
    process without unwinding `with` blocks; turn them into SystemExit so the
    topologies come down. Only where nobody installed a handler, and only from the
    main thread (the only one that may)."""
    global _armed_by
    if _armed_by == os.getpid() or threading.current_thread() is not threading.main_thread():
        return
    _armed_by = os.getpid()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _armed_by:  # a forked helper: die as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise SystemExit(128 + signum)
