"""The public Python API and the pytest plugin, the parts that need no root."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import hyperplane_emu
from hyperplane_emu import api
from hyperplane_emu.spec.errors import SpecError

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "private-rest-api.yaml"


def test_the_package_namespace_exports_the_handle() -> None:
    assert hyperplane_emu.up is api.up and hyperplane_emu.Topology is api.Topology
    assert set(hyperplane_emu.__all__) >= {"up", "Topology", "Response", "FlowLogRecord"}
    with pytest.raises(AttributeError):
        _ = hyperplane_emu.no_such_thing  # type: ignore[attr-defined]


def test_load_from_a_dict_an_example_name_and_a_path_agree() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    from_dict = hyperplane_emu.load(doc)
    assert from_dict.name == "private-rest"
    assert hyperplane_emu.load("private-rest-api") == hyperplane_emu.load(EXAMPLE)
    assert {e.id for e in from_dict.enis} == {e.id for e in hyperplane_emu.load(EXAMPLE).enis}


def test_name_override_renames_namespaces_and_is_checked() -> None:
    p = hyperplane_emu.load(EXAMPLE, name="other")
    assert p.name == "other" and p.hosts["client"].namespace == "he-other-client"
    with pytest.raises(ValueError, match="at most 16"):
        hyperplane_emu.load(EXAMPLE, name="x" * 17)
    with pytest.raises(ValueError, match="lower-case"):
        hyperplane_emu.load(EXAMPLE, name="Bad_Name")


def test_an_empty_ingress_means_no_rules() -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["vpcs"]["customer"]["security_groups"]["vpce"]["ingress"] = None
    doc["vpcs"]["customer"]["security_groups"]["app"]["egress"] = None
    groups = hyperplane_emu.load(doc).vpcs["customer"].security_groups
    assert [r for r in groups["vpce"].rules if r.direction == "ingress"] == []
    assert groups["app"].rules and all(r.direction == "ingress" for r in groups["app"].rules)
    doc["vpcs"]["customer"]["security_groups"]["vpce"]["ingress"] = "nope"
    with pytest.raises(SpecError, match="security_groups.vpce.ingress"):
        hyperplane_emu.load(doc)


def test_up_without_root_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.os, "geteuid", lambda: 1000)
    with pytest.raises(hyperplane_emu.NotRoot, match="needs root"):
        hyperplane_emu.up(EXAMPLE)


def test_flow_log_records_have_typed_fields() -> None:
    line = (
        "2 111122223333 eni-0abc 10.0.1.4 10.0.1.5 40000 8080 6 5 400 1700000000 1700000010 "
        "ACCEPT OK 10.0.1.4 10.0.1.5"
    )
    r = hyperplane_emu.FlowLogRecord.parse(line)
    assert (r.interface_id, r.dstport, r.protocol, r.bytes, r.action) == (
        "eni-0abc",
        8080,
        6,
        400,
        "ACCEPT",
    )
    assert r.pkt_dstaddr == "10.0.1.5"
    nodata = hyperplane_emu.FlowLogRecord.parse(
        "2 111122223333 eni-0abc - - - - - - - 1700000000 1700000060 - NODATA"
    )
    assert nodata.srcport is None and nodata.log_status == "NODATA" and nodata.pkt_srcaddr is None


def test_response_headers_are_the_final_responses() -> None:
    dump = (
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Type: a/b\r\nX-Y: 1\r\n\r\n"
    )
    headers = api._last_headers(dump)
    assert headers == {"Content-Type": "a/b", "X-Y": "1"}
    r = hyperplane_emu.Response(403, headers, b'{"message": "no"}')
    assert r.header("content-type") == "a/b" and r.json() == {"message": "no"}
    assert r.text.startswith("{") and api._last_headers("") == {}


def test_hops_keep_the_schema_fields_only() -> None:
    h = hyperplane_emu.Hop.of(
        {"time": 1.0, "flow": "a > b proto 6", "step": "nlb", "where": "eni-1",
         "action": "FORWARD", "detail": "target app1", "future_field": 1}
    )  # fmt: skip
    assert h.step == "nlb" and h.process == ""


def _run_pytest(tmp_path: Path, test_body: str, euid: int) -> subprocess.CompletedProcess[str]:
    # A conftest pretends the uid so that this runs the same as root and not.
    (tmp_path / "conftest.py").write_text(f"import os\nos.geteuid = lambda: {euid}\n")
    (tmp_path / "test_user.py").write_text(textwrap.dedent(test_body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip


def test_plugin_fails_without_root_in_one_line(tmp_path: Path) -> None:
    done = _run_pytest(
        tmp_path,
        f"""
        import pytest

        @pytest.mark.topology({str(EXAMPLE)!r}, scope="module")
        def test_orders(hyperplane):
            raise AssertionError("must not run")
        """,
        euid=1000,
    )
    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout and not re.search(r"\d+ skipped", done.stdout)
    reason = [ln for ln in done.stdout.splitlines() if "needs root" in ln]
    assert reason and "must not run" not in done.stdout


def test_plugin_refuses_a_missing_marker_and_a_bad_scope(tmp_path: Path) -> None:
    done = _run_pytest(
        tmp_path,
        """
        import pytest

        def test_no_marker(hyperplane):
            pass

        @pytest.mark.topology("basic", scope="session")
        def test_bad_scope(hyperplane):
            pass
        """,
        euid=0,
    )
    assert done.returncode == 1
    assert "needs @pytest.mark.topology" in done.stdout
    assert "scope must be one of" in done.stdout
