"""Output that survives a pipe: no id or address cut when stdout is not a terminal,
and `--json` on every verb that prints a list."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import click
import pytest

from hyperplane_emu.cli import render
from hyperplane_emu.cli import trace as trace_view
from hyperplane_emu.cli.main import main

LONG_ARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/orders/0123456789abcdef"
ENI = "eni-0123456789abcdef0"
VPCE = "vpce-0fedcba9876543210"


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """stdout is a file; the terminal (if any) says 40 columns."""
    out = io.StringIO()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr(render.console, "file", out)
    yield out


def _status() -> dict[str, Any]:
    return {
        "name": "shop", "region": "us-east-1", "state_dir": "/run/hyperplane-emu/shop",
        "fabric": {"health": "running", "pid": 1, "namespace": "he-shop-fabric",
                   "counters": {"forwarded": 3}},
        "vpcs": [{"name": "customer", "id": "vpc-0123456789abcdef0", "cidr": "10.0.0.0/16",
                  "account": "111122223333",
                  "subnets": [{"name": "a", "id": "subnet-0123456789abcdef0",
                               "cidr": "10.0.1.0/24", "az": "us-east-1a"}],
                  "security_groups": [{"name": "app", "id": "sg-0123456789abcdef0", "rules": 2}]}],
        "enis": [{"owner": "app1-with-a-long-name", "id": ENI, "vpc": "customer", "subnet": "a",
                  "ip": "10.0.101.254", "security_groups": ["app (sg-0123456789abcdef0)"],
                  "namespace": "he-shop-app1-with-a-long-name", "namespace_present": True,
                  "ifname": "eth0", "fabric_ifname": "he-shop-app1-e0"}],
        "processes": [{"name": "echo-app1-with-a-long-name-8080", "pid": 4242, "alive": True}],
        "load_balancers": [{"name": "orders-nlb", "kind": "nlb",
                            "dns_name": "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com",
                            "target_groups": {LONG_ARN: [{"id": "app1", "port": 8080,
                                              "az": "us-east-1a", "health": "healthy",
                                              "reason": ""}]}}],
        "endpoints": [{"endpoint": VPCE, "name": "execute-api",
                       "service": "com.amazonaws.us-east-1.execute-api",
                       "consumer_account": "111122223333", "state": "available"}],
        "apis": [{"id": "a1b2c3d4e5", "name": "orders", "type": "rest", "endpoint": "private",
                  "invoke_urls": ["https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"],
                  "vpc_links": []}],
    }  # fmt: skip


def test_status_tables_keep_every_id_whole_in_a_pipe(piped: io.StringIO) -> None:
    render.status(_status())
    text = piped.getvalue()
    for whole in (ENI, VPCE, LONG_ARN, "10.0.101.254", "he-shop-app1-with-a-long-name/eth0",
                  "subnet-0123456789abcdef0", "sg-0123456789abcdef0",
                  "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod",
                  "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com"):  # fmt: skip
        assert whole in text, whole
    assert "…" not in text and "\x1b[" not in text  # no ellipsis, no colour codes


def test_trace_table_keeps_flows_whole_in_a_pipe(piped: io.StringIO) -> None:
    flow = "10.0.1.4:51234 > 10.255.0.10:443 proto 6"
    trace_view.table("https://x/prod/orders", "HTTP 200", [
        {"time": 1.0, "flow": flow, "step": "privatelink", "where": VPCE, "action": "FORWARD",
         "detail": "endpoint execute-api -> API Gateway's VPC, source rewritten to 10.255.0.4"},
    ])  # fmt: skip
    assert flow in piped.getvalue() and "source rewritten to 10.255.0.4" in piped.getvalue()


def test_a_terminal_keeps_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    console = render.PipeSafeConsole(force_terminal=True)
    assert console.width == 40
    assert render.PipeSafeConsole(file=io.StringIO()).width == render.PIPE_WIDTH


# Verbs that print one thing, a stream that is not a list (pcap, a command's own
# output), or a report of their own (demo); `export` prints a topology file, `serve` a log.
NOT_LISTS = {"up", "exec", "capture", "accept", "reject", "demo", "diagram", "export", "serve"}


@pytest.mark.parametrize("verb", sorted(main.commands))
def test_every_list_printing_verb_has_json(verb: str) -> None:
    command = main.commands[verb]
    options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
    if verb in NOT_LISTS:
        return
    assert "--json" in options, f"`{verb}` prints a list but has no --json"
