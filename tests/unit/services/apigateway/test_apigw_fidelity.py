"""Issue 16, items 2-7: how API Gateway's data plane matches AWS where it used to differ.

Each test names the AWS page (or public capture) it follows; docs/apigateway.md has the
same list.
"""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu import plan, spec
from hyperplane_emu.services.apigateway import config

GOOD = Path(__file__).resolve().parents[3] / "data" / "good"


def private_plan() -> plan.Plan:
    return plan.build(spec.loads((GOOD / "private-api.yaml").read_text()))


def test_the_data_plane_listens_on_https_443_only() -> None:
    """Item 2: execute-api answers HTTPS only; port 80 has no listener, so a plain HTTP
    connect is refused (codewisdom.io, "HTTP to HTTPS Redirection for API Gateway":
    regional endpoints only listen on 443, port 80 gets ERR_CONNECTION_REFUSED)."""
    p = private_plan()
    assert p.api_gateway is not None and 80 in p.api_gateway.ports  # the fabric still carries it
    cfg = config.from_plan(p, "cert.pem", "key.pem")
    assert [(li.port, li.tls) for li in cfg.listen] == [(443, True)]
