"""The public Python handle (`hyperplane_emu.up`) and the pytest plugin, on real packets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import hyperplane_emu
from hyperplane_emu.realize import Kernel
from hyperplane_emu.runtime.state import StateDir

pytestmark = pytest.mark.root

REPO = Path(__file__).parents[2]
PRIVATE_REST = "examples/private-rest-api.yaml"
NAME = f"papi{os.getpid() % 10000}"


def _gone(name: str) -> bool:
    prefix = f"he-{name}-"
    return not StateDir.of(name).exists() and not any(
        n.startswith(prefix) for n in Kernel().netns_list()
    )


@pytest.mark.topology(PRIVATE_REST, scope="module", name=NAME)
def test_request_through_private_api_and_vpc_link(hyperplane: hyperplane_emu.Topology) -> None:
    t = hyperplane
    url = f"https://{t.api('orders').hostname}/prod/orders"
    r = t.request("client", url, headers={"X-Probe": "python-api"})
    assert r.status == 200, r.error
    assert r.header("content-type", "").startswith("application/json")
    assert r.header("x-amzn-requestid")  # API Gateway's header, as curl saw it
    nlb = {e.ip for e in t.enis if e.kind == "nlb"}
    assert r.json()["saw_source"].split(":")[0] in nlb  # PrivateLink: the NLB's address
    # The endpoint's SG admits the `client` group only: no answer for the intruder.
    denied = t.request("intruder", url, timeout=2)
    assert denied.status is None and "curl exit" in denied.error


@pytest.mark.topology(PRIVATE_REST, scope="module", name=NAME)
def test_hosts_status_exec(hyperplane: hyperplane_emu.Topology) -> None:
    t = hyperplane
    app1 = t.hosts["app1"]
    assert app1.eni.startswith("eni-") and app1.ip.startswith("10.0.1.")
    assert app1.namespace == f"he-{NAME}-app1"
    assert t.status()["name"] == NAME
    done = t.exec("app1", "ip -4 -o addr show eth0")
    assert done.returncode == 0 and app1.ip in done.stdout
    assert t.exec("app1", ["sh", "-c", "exit 3"]).returncode == 3


@pytest.mark.topology(PRIVATE_REST, scope="module", name=NAME)
def test_flow_logs_capture_and_trace(hyperplane: hyperplane_emu.Topology) -> None:
    t = hyperplane
    app1 = t.hosts["app1"]
    with t.capture("app1", filter="tcp port 8080") as cap:
        got = t.exec("client", f"curl -s -m 3 http://{app1.ip}:8080/")
        assert got.returncode == 0
    frames = cap.frames()
    assert frames, "no frame captured on app1's ENI"
    from scapy.layers.inet import IP, TCP

    packets = [p for p in cap.packets() if p.haslayer(TCP)]
    assert any(p[IP].dst == app1.ip and p[TCP].dport == 8080 for p in packets)
    records = t.flow_logs(eni="app1")
    assert records and all(r.interface_id == app1.eni for r in records)
    assert any(r.dstaddr == app1.ip and r.dstport == 8080 and r.action == "ACCEPT"
               for r in records)  # fmt: skip
    trace = t.trace("client", f"https://{t.api('orders').hostname}/prod/orders/7")
    assert trace.response.status == 200
    assert "privatelink" in trace.steps() and "nlb" in trace.steps()
    assert all(h.action in ("ACCEPT", "FORWARD") for h in trace.hops)


def test_up_from_a_dict_apply_and_empty_ingress() -> None:
    doc: dict[str, Any] = yaml.safe_load((REPO / PRIVATE_REST).read_text())
    name = f"papd{os.getpid() % 10000}"
    with hyperplane_emu.up(doc, name=name) as t:
        url = f"https://{t.api('orders').hostname}/prod/ping"
        assert t.request("client", url).status == 200
        # `ingress:` left empty (YAML null) means no rules: the endpoint admits nobody.
        doc["vpcs"]["customer"]["security_groups"]["vpce"]["ingress"] = None
        report = t.apply(doc)
        assert report.security_groups and "vpce" in report.security_groups[0]
        assert t.request("client", url, timeout=2).status is None
    assert _gone(name)


def test_up_and_apply_of_a_template_with_parameters() -> None:
    """A CloudFormation template is told by its content; `parameters` are its
    `--parameter`s; `outputs` are its Outputs with the running ids."""
    template = REPO / "tests" / "data" / "cfn" / "private-rest-api.yaml"
    name = f"papt{os.getpid() % 10000}"
    with hyperplane_emu.up(template, name=name, parameters={"StageName": "beta"}) as t:
        assert t.translation is not None and t.hosts["client"].namespace == f"he-{name}-client"
        beta = t.outputs["InvokeUrl"]
        (api,) = t.plan.apis.values()
        assert beta == f"https://{api.hostname}/beta/orders"
        r = t.request("client", beta)
        assert r.status == 200, r.error
        assert r.json()["saw_source"].split(":")[0] in {e.ip for e in t.enis if e.kind == "nlb"}
        report = t.apply(template, parameters={"StageName": "prod"})
        assert report.apis and t.outputs["InvokeUrl"] == beta.replace("/beta/", "/prod/")
        assert t.request("client", t.outputs["InvokeUrl"]).status == 200
        assert t.request("client", beta).status == 403  # the stage is gone
    assert _gone(name)


def test_torn_down_when_the_block_raises() -> None:
    name = f"pape{os.getpid() % 10000}"
    with pytest.raises(RuntimeError, match="boom"), hyperplane_emu.up("basic", name=name):
        assert StateDir.of(name).exists()
        raise RuntimeError("boom")
    assert _gone(name)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_torn_down_on_ctrl_c_and_sigterm(sig: signal.Signals) -> None:
    name = f"paps{os.getpid() % 1000}{sig.value}"
    script = (
        "import sys, time, hyperplane_emu\n"
        f"with hyperplane_emu.up('basic', name={name!r}):\n"
        "    print('up', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while not _gone(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(name), f"{name} still up after {sig.name}"


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.topology(PRIVATE_REST, scope="module", name=NAME)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_capture_in_the_background_stops_its_tcpdump_on_signals(
    hyperplane: hyperplane_emu.Topology, sig: signal.Signals, tmp_path: Path
) -> None:
    pcap = tmp_path / "app1.pcap"

    def like_a_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` in a script does

    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperplane_emu.cli.main", "capture", hyperplane.name, "app1",
         "-w", str(pcap)],
        stderr=subprocess.PIPE, text=True, preexec_fn=like_a_background_job,
    )  # fmt: skip
    tcpdump: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while not (tcpdump and pcap.exists()) and time.monotonic() < deadline:
            tcpdump = _children(proc.pid)
            time.sleep(0.05)
        assert tcpdump, "capture started no tcpdump"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in tcpdump) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in tcpdump), f"tcpdump left running after {sig.name}"


@pytest.mark.topology(PRIVATE_REST, scope="module", name=NAME)
def test_trace_svg_draws_the_hops_of_a_real_request(
    hyperplane: hyperplane_emu.Topology, tmp_path: Path
) -> None:
    import html
    import json

    url = f"https://{hyperplane.api('orders').hostname}/prod/orders/9"
    svg = tmp_path / "trace.svg"
    done = subprocess.run(
        [sys.executable, "-m", "hyperplane_emu.cli.main", "trace", hyperplane.name, "client", url,
         "--json", "--svg", str(svg)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    hops = json.loads(done.stdout)
    text = html.unescape(svg.read_text())
    assert all(f'id="a_hop-{i}"' in text for i in range(1, len(hops) + 1))
    endpoint = next(iter(hyperplane.plan.endpoints.values()))
    assert any(h["step"] == "privatelink" for h in hops) and endpoint.id in text
    drawn = tmp_path / "api.svg"
    hyperplane.trace("client", url).draw(drawn)
    assert 'id="a_hop-1"' in html.unescape(drawn.read_text())


def test_the_ci_recipe_runs_the_docs_example_test(tmp_path: Path) -> None:
    """docs/ci.md's example test, as written, with the workflow's pytest command."""
    import re
    import shlex

    doc = (REPO / "docs" / "ci.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    (flow,) = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    command = next(ln.strip() for ln in flow.splitlines() if "-m pytest" in ln)
    argv = shlex.split(command)
    assert argv[:2] == ["sudo", "hyperplane-emu/.venv/bin/python"]
    (tmp_path / "topologies").mkdir()
    example = (REPO / PRIVATE_REST).read_text()
    name = f"ci{os.getpid() % 10000}"  # beside a demo's or another run's private-rest
    (tmp_path / "topologies" / "shop.yaml").write_text(
        example.replace("name: private-rest\n", f"name: {name}\n")
    )
    (tmp_path / "tests" / "network").mkdir(parents=True)
    (tmp_path / "tests" / "network" / "test_shop.py").write_text(code)
    done = subprocess.run(
        [sys.executable, *argv[2:], "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
    assert _gone(name)


def test_the_readme_python_quick_start_runs() -> None:
    import re

    readme = (REPO / "README.md").read_text()
    code = next(c for c in re.findall(r"```python\n(.*?)```", readme, re.S) if "up(" in c)
    assert len(code.strip().splitlines()) <= 10
    name = f"rdme{os.getpid() % 10000}"
    code = code.replace('up("examples/private-rest-api.yaml")',
                        f'up({str(REPO / PRIVATE_REST)!r}, name={name!r})')  # fmt: skip
    assert name in code
    exec(compile(code, "README.md", "exec"), {})
    assert _gone(name)


def test_ctrl_c_in_a_plugin_test_still_takes_the_topology_down(tmp_path: Path) -> None:
    """pytest stops at KeyboardInterrupt without running the test's teardown; the
    handle's exit hook still takes the topology down."""
    name = f"papk{os.getpid() % 10000}"
    (tmp_path / "test_interrupted.py").write_text(
        "import os, signal, pytest\n"
        f"@pytest.mark.topology('basic', name={name!r})\n"
        "def test_interrupted(hyperplane):\n"
        "    print('up', hyperplane.name, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert f"up {name}" in done.stdout and "KeyboardInterrupt" in done.stdout, done.stdout
    assert done.returncode == 2
    assert _gone(name)
