"""`diagram` and `trace --svg`: the DOT text (pure) and the SVG Graphviz makes of it."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hyperplane_emu
from hyperplane_emu import diagram
from hyperplane_emu.cli.main import main


@pytest.fixture
def dot_binary() -> None:
    if shutil.which("dot") is None:
        if os.geteuid() == 0:
            pytest.fail("Graphviz's dot is missing although scripts/setup installs graphviz")
        pytest.skip("Graphviz is not installed (sudo scripts/setup installs it)")


def _svg_ids(svg: str) -> set[str]:
    # Graphviz writes "-" in ids as &#45;, and the ids of HTML cells as a_<id>.
    ids = {html.unescape(i) for i in re.findall(r'\bid="([^"]+)"', svg)}
    return ids | {i[2:] for i in ids if i.startswith("a_")}


def test_topology_dot_names_every_vpc_subnet_eni_endpoint_and_link() -> None:
    p = hyperplane_emu.load("private-rest-api")
    dot = diagram.topology_dot(p)
    for v in p.vpcs.values():
        assert f'"cluster_{v.name}"' in dot and v.id in dot and v.cidr in dot
        for s in v.subnets.values():
            assert s.id in dot
    shown = {e for e in p.enis if e.kind in ("host", "apigw", "nlb", "vpce")}
    for e in shown:
        assert f"{e.id} {e.ip}" in dot, e
    for ep in p.endpoints.values():
        assert f"privatelink-{ep.id}" in dot
    for svc in p.endpoint_services.values():
        assert svc.id in dot
    for api in p.apis.values():
        assert api.id in dot
        for link in api.vpc_links.values():
            assert f"vpclink-{link.id}" in dot


def test_http_api_dot_draws_the_hyperplane_enis_to_alb_nlb_and_cloud_map() -> None:
    p = hyperplane_emu.load("http-api-vpc-link")
    dot = diagram.topology_dot(p)
    link = next(iter(p.vpc_links_v2.values()))
    assert f'"vpclink/{link.id}" -> "lb/customer/orders-alb"' in dot
    assert f'"vpclink/{link.id}" -> "lb/customer/stock-nlb"' in dot
    assert f'"vpclink/{link.id}" -> "host/pay1"' in dot  # a Cloud Map instance
    assert '"lb/customer/stock-nlb" -> "host/stock1"' in dot  # an ip target, by address
    assert "ALB orders-alb" in dot and "NLB stock-nlb" in dot


def test_quoting_survives_quotes_and_backslashes() -> None:
    assert diagram.q('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


HOPS: list[dict[str, Any]] = [
    {"time": 1.0, "flow": "10.0.1.4:5000 > 10.0.1.7:443 proto 6", "step": "egress-sg",
     "where": "eni-0client", "action": "ACCEPT", "detail": "sg-1 <all>", "eni_owner": "host client",
     "vpc": "customer"},
    {"time": 1.001, "flow": "10.0.1.4:5000 > 10.0.1.7:443 proto 6", "step": "privatelink",
     "where": "vpce-0abc", "action": "FORWARD", "detail": "vpce-0abc -> execute-api & back"},
    {"time": 1.002, "flow": "10.255.1.5:1 > 10.255.1.4:443 proto 6", "step": "deliver",
     "where": "eni-0apigw", "action": "FORWARD", "detail": "port 5",
     "process": "he-apigw pid 7 (hyperplane_emu.services.apigateway)"},
    {"time": 1.003, "flow": "10.255.1.4:443 > 10.255.1.5:1 proto 6", "step": "reply",
     "where": "eni-0client", "action": "FORWARD", "detail": "reverse-translated"},
    {"time": 1.004, "flow": "10.0.1.4:5001 > 10.0.1.9:80 proto 6", "step": "drop",
     "where": "eni-0other", "action": "REJECT", "detail": "no rule allows it"},
]  # fmt: skip


def test_trace_dot_has_one_column_per_place_and_one_row_per_hop() -> None:
    dot = diagram.trace_dot(HOPS, "trace client")
    for w in ("eni-0client", "vpce-0abc", "eni-0apigw", "eni-0other"):
        assert dot.count(f'ID="{w}"') == 1
    assert [int(n) for n in re.findall(r'ID="hop-(\d+)"', dot)] == [1, 2, 3, 4, 5]
    assert 'TITLE="5. drop REJECT: no rule allows it"' in dot
    assert "&gt;" in dot and "&amp; back" in dot and "<all>" not in dot  # escaped
    # hop 3 goes right (vpce -> apigw), hop 4 back left to the client.
    assert re.search(r'ID="hop-3" [^>]*COLSPAN="2"[^>]*ALIGN="RIGHT"', dot)
    assert re.search(r'ID="hop-4" [^>]*COLSPAN="3"[^>]*ALIGN="LEFT"', dot)
    assert re.search(r'ID="hop-5" [^>]*COLSPAN="4" [^>]*COLOR="red"', dot)


def test_svgs_hold_the_ids(dot_binary: None, tmp_path: Path) -> None:
    p = hyperplane_emu.load("private-rest-api")
    out = tmp_path / "t.svg"
    diagram.render(diagram.topology_dot(p), out)
    ids = _svg_ids(out.read_text())
    assert {v.id for v in p.vpcs.values()} <= ids
    assert {ep.id for ep in p.endpoints.values()} <= ids
    assert {s.id for s in p.endpoint_services.values()} <= ids
    text = html.unescape(out.read_text())
    assert all(e.id in text for e in p.enis if e.kind in ("host", "nlb", "vpce"))
    diagram.render(diagram.trace_dot(HOPS), tmp_path / "s.svg")
    ids = _svg_ids((tmp_path / "s.svg").read_text())
    assert {f"hop-{i}" for i in range(1, 6)} | {"eni-0client", "vpce-0abc"} <= ids


def test_diagram_verb_draws_a_file_without_root(dot_binary: None, tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "examples" / "http-api-vpc-link.yaml"
    out = tmp_path / "http.svg"
    r = CliRunner().invoke(main, ["diagram", str(example), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert next(iter(hyperplane_emu.load(example).vpc_links_v2.values())).id in out.read_text()
    r = CliRunner().invoke(main, ["diagram", "basic", "--format", "dot"])
    assert r.exit_code == 0 and r.output.startswith('digraph "basic"')
    r = CliRunner().invoke(main, ["diagram", "no-such-thing"])
    assert r.exit_code == 1 and "neither a file" in r.output


def test_missing_graphviz_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda _: None)
    r = CliRunner().invoke(main, ["diagram", "basic", "-o", str(tmp_path / "x.svg")])
    assert r.exit_code == 1 and "apt-get install graphviz" in r.output
