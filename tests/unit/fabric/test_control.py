"""Control protocol (sans-IO handler, line splitting, client) against a real Driver+Fabric.

No root: the Driver is built but never opens AF_PACKET sockets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fabric_helpers import (
    ALL_EGRESS,
    APP1,
    CLIENT,
    SG_APP,
    frame,
    make_plan,
    rule,
    sg,
    tcp,
)

from hyperplane_emu.fabric.control import (
    MAX_LINE,
    ControlError,
    ControlHandler,
    LineReader,
    RequestError,
    request,
    security_group_from_json,
)
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.driver import Driver

CLIENT_ENI = "eni-00000000000000000"
APP1_ENI = "eni-00000000000000001"


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def driver(tmp_path: Path) -> Driver:
    plan = make_plan()
    clock = Clock()
    return Driver(Fabric(plan, clock_start=clock.t), plan, tmp_path, clock=clock)


@pytest.fixture
def handler(driver: Driver) -> ControlHandler:
    return ControlHandler(driver)


def ask(h: ControlHandler, **req: Any) -> dict[str, Any]:
    raw = h.handle_line(json.dumps(req).encode())
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    answer = json.loads(raw)
    assert isinstance(answer, dict)
    return answer


def syn(sport: int = 40000, dport: int = 8080) -> bytes:
    return frame(CLIENT, "10.0.1.11", tcp(sport, dport, "S"))


def test_ping(handler: ControlHandler) -> None:
    assert ask(handler, op="ping") == {"ok": True, "pong": True}


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"op": "reboot"}', "unknown op 'reboot'"),
        (b'{"noop": 1}', "unknown op None"),
        (b"\xff\xfe", "not JSON"),
        (b'{"op": "capture_start", "eni": "eni-00000000000000001"}', "path: a non-empty string"),
        (b'{"op": "capture_stop", "eni": 5}', "eni: a non-empty string"),
    ],
)
def test_bad_requests_get_an_error_answer(handler: ControlHandler, line: bytes, error: str) -> None:
    answer = json.loads(handler.handle_line(line))
    assert answer["ok"] is False
    assert error in answer["error"]


def test_too_long_request_is_refused(handler: ControlHandler) -> None:
    line = json.dumps({"op": "ping", "pad": "x" * MAX_LINE}).encode()
    answer = json.loads(handler.handle_line(line))
    assert answer == {"ok": False, "error": f"request longer than {MAX_LINE} bytes"}


def test_status_shape(handler: ControlHandler, driver: Driver) -> None:
    driver.fabric.handle(CLIENT, syn(), 1_700_000_000.0)
    st = ask(handler, op="status")
    assert st["ok"] is True
    assert st["pid"] == os.getpid()
    assert st["flows"] == 1
    assert st["counters"]["forwarded"] == 1
    assert st["counters"]["conntrack.entries"] == 1
    assert isinstance(st["uptime"], float)
    ports = {p["eni"]: p for p in st["ports"]}
    assert ports[APP1_ENI]["ifname"] == "he-tfab-f1"
    assert ports[APP1_ENI]["host"] == "app1"
    assert ports[APP1_ENI]["capture"] is None
    assert len(ports) == 5


def test_conntrack_lists_flows(handler: ControlHandler, driver: Driver) -> None:
    assert ask(handler, op="conntrack") == {"ok": True, "flows": []}
    driver.fabric.handle(CLIENT, syn(), 1_700_000_000.0)
    flows = ask(handler, op="conntrack")["flows"]
    assert len(flows) == 1
    assert flows[0]["flow"] == "10.0.1.10:40000 > 10.0.1.11:8080 proto 6"
    assert flows[0]["state"] == "SYN_SENT"
    assert flows[0]["src_eni"] == CLIENT_ENI


def _app_group_without_8080() -> dict[str, Any]:
    g = sg(SG_APP, "customer", [rule("ingress", "tcp", 9090, "10.0.0.0/16"), rule(*ALL_EGRESS)])
    out: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(g)))  # as the wire has it
    return out


def test_replace_sg_changes_the_rules_for_new_flows(
    handler: ControlHandler, driver: Driver
) -> None:
    fab = driver.fabric
    now = 1_700_000_000.0
    assert fab.handle(CLIENT, syn(40000), now)  # allowed by tcp 8080
    answer = ask(handler, op="replace_sg", sg=_app_group_without_8080())
    assert answer == {"ok": True, "sg_id": SG_APP}
    assert fab.handle(CLIENT, syn(40001), now) == []  # new flow: denied now
    assert fab.handle(CLIENT, syn(40002, 9090), now)  # the new rule works
    assert fab.counters["sg.replaced"] == 1


def test_replace_sg_unknown_group(handler: ControlHandler) -> None:
    g = _app_group_without_8080()
    g["id"] = "sg-0000000000000dead"
    answer = ask(handler, op="replace_sg", sg=g)
    assert answer == {"ok": False, "error": "unknown security group sg-0000000000000dead"}


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda g: g.pop("rules"), "sg.rules: missing"),
        (lambda g: g.update(id=7), "sg.id: wrong type int"),
        (lambda g: g["rules"][0].update(direction="sideways"), "sg.rules[0].direction"),
        (lambda g: g["rules"][0].update(protocol=True), "sg.rules[0].protocol: wrong type"),
        (lambda g: g["rules"][0].update(group_id="sg-1"), "exactly one of cidr and group_id"),
        (lambda g: g["rules"].append(3), "sg.rules[2]: an object is required"),
    ],
)
def test_replace_sg_validates(handler: ControlHandler, mutate: Any, error: str) -> None:
    g = _app_group_without_8080()
    mutate(g)
    answer = ask(handler, op="replace_sg", sg=g)
    assert answer["ok"] is False
    assert error in answer["error"]


def test_security_group_round_trip() -> None:
    g = sg(SG_APP, "customer", [rule("ingress", "udp", (5000, 5010), "sg-0def0000000000001")])
    assert security_group_from_json(json.loads(json.dumps(dataclasses.asdict(g)))) == g
    with pytest.raises(RequestError):
        security_group_from_json(None)


def test_capture_start_and_stop(handler: ControlHandler, driver: Driver, tmp_path: Path) -> None:
    path = str(tmp_path / "app1.pcap")
    assert ask(handler, op="capture_start", eni=APP1_ENI, path=path) == {
        "ok": True,
        "eni": APP1_ENI,
        "path": path,
    }
    assert ask(handler, op="status")["ports"][APP1]["capture"] == path
    again = ask(handler, op="capture_start", eni=APP1_ENI, path=path)
    assert again["ok"] is False and "already being captured" in again["error"]
    assert ask(handler, op="capture_stop", eni=APP1_ENI) == {
        "ok": True,
        "eni": APP1_ENI,
        "frames": 0,
    }
    assert Path(path).stat().st_size == 24  # the pcap header
    stopped = ask(handler, op="capture_stop", eni=APP1_ENI)
    assert stopped["ok"] is False and "not being captured" in stopped["error"]


def test_capture_errors(handler: ControlHandler, tmp_path: Path) -> None:
    unknown = ask(handler, op="capture_start", eni="eni-nope", path=str(tmp_path / "x"))
    assert unknown == {"ok": False, "error": "unknown ENI eni-nope (or not a host ENI)"}
    bad = ask(handler, op="capture_start", eni=APP1_ENI, path=str(tmp_path / "no/such/dir/x"))
    assert bad["ok"] is False and "No such file or directory" in bad["error"]


def test_flush_flow_logs_writes_files(
    handler: ControlHandler, driver: Driver, tmp_path: Path
) -> None:
    driver.fabric.handle(CLIENT, syn(), 1_700_000_000.0)
    driver.fabric.handle(CLIENT, syn(40001, 22), 1_700_000_000.0)  # app SG: no port 22
    answer = ask(handler, op="flush_flow_logs")
    assert answer["ok"] is True and answer["records"] >= 3
    app1 = (tmp_path / "flow-logs" / f"{APP1_ENI}.log").read_text().splitlines()
    client = (tmp_path / "flow-logs" / f"{CLIENT_ENI}.log").read_text().splitlines()
    assert any(" 40000 8080 6 " in x and x.endswith("ACCEPT OK") for x in app1)
    assert any(" 40001 22 6 " in x and x.endswith("REJECT OK") for x in app1)
    assert any(" 40000 8080 6 " in x and x.endswith("ACCEPT OK") for x in client)
    assert ask(handler, op="flush_flow_logs") == {"ok": True, "records": 0}


def test_line_reader_splits_and_limits() -> None:
    r = LineReader(limit=10)
    assert r.feed(b'{"a"') == []
    assert r.feed(b':1}\n{"b":2}\n{') == [b'{"a":1}', b'{"b":2}']
    assert r.feed(b"}\n") == [b"{}"]
    with pytest.raises(RequestError):
        r.feed(b"x" * 11)
    assert r.feed(b"ok\n") == [b"ok"]  # the buffer was reset
    with pytest.raises(RequestError):
        r.feed(b"y" * 11 + b"\n")


@pytest.fixture
def unix_server(tmp_path: Path, handler: ControlHandler) -> Iterator[str]:
    """A one-connection-at-a-time server answering through the handler."""
    path = str(tmp_path / "c.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                reader = LineReader()
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    lines = reader.feed(data)
                    for line in lines:
                        conn.sendall(handler.handle_line(line))
                    if lines:
                        break

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join(5)
    srv.close()


def test_client_round_trip(unix_server: str) -> None:
    assert request(unix_server, "ping") == {"ok": True, "pong": True}
    assert request(unix_server, "capture_stop", eni=APP1_ENI)["ok"] is False
    assert request(unix_server, "status")["flows"] == 0


def test_client_reports_missing_socket(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="No such file"):
        request(str(tmp_path / "none.sock"), "ping")


def test_client_times_out_on_a_silent_server(tmp_path: Path) -> None:
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)
        with pytest.raises(ControlError, match="no answer within 0.3 s"):
            request(path, "ping", timeout=0.3)


def test_client_refuses_oversized_request(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="longer than"):
        request(str(tmp_path / "x.sock"), "ping", pad="x" * MAX_LINE)
