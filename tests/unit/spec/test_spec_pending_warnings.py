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
    ("extra", "path"),
    [
        (
            "    network_acls:\n      web: {subnets: [a]}",
            "vpcs.v.network_acls",
        ),
        ("    flow_logs:\n      - {name: x, resource: vpc}", "vpcs.v.flow_logs"),
    ],
)
def test_pending_sections_warn(extra: str, path: str) -> None:
    result = spec.validate_text(BASE.replace("EXTRA", extra))
    assert result.ok
    assert [(w.path, "not emulated yet" in w.message) for w in result.warnings] == [(path, True)]


def test_pending_nlb_keys_warn() -> None:
    text = BASE.replace("EXTRA", "").replace(
        "        subnets: [a]\n        listeners",
        "        subnets: [a]\n        security_groups: [nlb]\n        listeners",
    )
    text = text.replace("targets: [app1]}", "targets: [app1], proxy_protocol_v2: true}")
    result = spec.validate_text(text)
    assert result.ok
    assert sorted(w.path for w in result.warnings) == [
        "vpcs.v.load_balancers.nlb.security_groups",
    ]  # proxy_protocol_v2 is emulated: no warning
    assert all("not emulated yet" in w.message and w.line for w in result.warnings)


def test_without_them_no_warning() -> None:
    assert spec.validate_text(BASE.replace("EXTRA", "")).warnings == ()
