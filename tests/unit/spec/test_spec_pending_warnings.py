"""Keys accepted before the packet walk acts on them say so in `validate` (a warning
with the path and line): issue 15's rule, no key accepted and silently ignored.
Whoever wires one into the fabric removes its warning and this case."""

from __future__ import annotations

import pytest

from hyperplane_emu import spec

BASE = """
name: pending
region: us-east-1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      nlb: {}
    hosts:
      app1: {subnet: a}
    load_balancers:
      nlb:
        type: network
        subnets: [a]
        listeners: [{port: 80, target_group: web}]
        target_groups: {web: {port: 8080, targets: [app1]}}
EXTRA
"""


@pytest.mark.parametrize(
    "extra",
    [
        "    network_acls:\n      web: {subnets: [a]}",
        "    flow_logs:\n      - {name: x, resource: vpc}",
    ],
)
def test_sections_now_emulated_do_not_warn(extra: str) -> None:
    result = spec.validate_text(BASE.replace("EXTRA", extra))
    assert result.ok and result.warnings == ()


def test_nlb_groups_and_proxy_protocol_do_not_warn() -> None:
    text = BASE.replace("EXTRA", "").replace(
        "        subnets: [a]\n        listeners",
        "        subnets: [a]\n        security_groups: [nlb]\n        listeners",
    )
    text = text.replace("targets: [app1]}", "targets: [app1], proxy_protocol_v2: true}")
    result = spec.validate_text(text)
    # Both are emulated on packets now (NLB groups judged, the PPv2 header inserted).
    assert result.ok and result.warnings == ()


def test_without_them_no_warning() -> None:
    assert spec.validate_text(BASE.replace("EXTRA", "")).warnings == ()
