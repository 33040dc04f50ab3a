"""One health-check parser for NLB and ALB target groups, each with AWS's own rules."""

from __future__ import annotations

import pytest
import yaml

from hyperplane_emu.spec import healthchecks
from hyperplane_emu.spec.healthchecks import ALB, NLB, CheckRules
from hyperplane_emu.spec.model import HealthCheck
from hyperplane_emu.spec.nodes import Ctx


def parse(text: str, rules: CheckRules) -> tuple[HealthCheck | None, list[tuple[str, str]]]:
    ctx = Ctx()
    node = yaml.compose(text)
    assert node is not None
    check = healthchecks.parse(ctx, node, "hc", rules)
    return check, [(i.path, i.message) for i in ctx.issues]


def test_defaults_are_aws_own_per_load_balancer() -> None:
    # NLB: TCP, 10 s timeout (6 s for HTTP), codes 200-399; ALB: HTTP, 5 s, code 200.
    assert NLB.default() == HealthCheck()
    assert NLB.default() == HealthCheck(protocol="tcp", timeout=10, matcher="200-399")
    assert ALB.default() == HealthCheck(protocol="http", timeout=5, matcher="200")
    for rules in (NLB, ALB):
        d = rules.default()
        assert (d.interval, d.healthy_threshold, d.unhealthy_threshold, d.path, d.port) == (
            30, 5, 2, "/", None
        )  # fmt: skip
        assert parse("null", rules) == (d, [])
        assert parse("{}", rules) == (d, [])


def test_nlb_http_check_takes_the_http_timeout_and_the_nlb_matcher() -> None:
    check, issues = parse("{protocol: http, path: /health}", NLB)
    assert issues == []
    assert check == HealthCheck(protocol="http", path="/health", timeout=6, matcher="200-399")


def test_a_default_timeout_never_exceeds_the_interval_written() -> None:
    assert parse("{interval: 3}", NLB)[0] == HealthCheck(interval=3, timeout=3)
    assert parse("{interval: 2}", ALB)[0] == HealthCheck(
        protocol="http", interval=2, timeout=2, matcher="200"
    )


HTTP_ONLY = "applies to http health checks only (AWS)"


@pytest.mark.parametrize(
    ("text", "rules", "path", "message"),
    [
        ("{protocol: tcp, path: /x}", NLB, "hc.path", f"path {HTTP_ONLY}"),
        ("{matcher: 200}", NLB, "hc.matcher", f"matcher {HTTP_ONLY}"),
        ("{matcher: 550}", ALB, "hc.matcher", "ALB health checks accept codes 200-499"),
        ("{protocol: http, matcher: 600}", NLB, "hc.matcher", "health checks accept codes 200-599"),
        ("{matcher: 299-200}", ALB, "hc.matcher", "matcher range 299-200 runs backwards"),
        ("{protocol: tcp}", ALB, "hc.protocol", "TCP checks are for NLBs"),
        ("{protocol: https}", NLB, "hc.protocol", "HTTPS health checks are not emulated"),
        ("{timeout: 9, interval: 5}", ALB, "hc.timeout", "9 s is longer than the interval 5 s"),
        ("{port: http}", NLB, "hc.port", "1..65535"),
        ("{path: health}", ALB, "hc.path", "health check path 'health' must start with '/'"),
    ],
)  # fmt: skip
def test_each_load_balancer_refuses_by_its_own_rules(
    text: str, rules: CheckRules, path: str, message: str
) -> None:
    check, issues = parse(text, rules)
    assert check is None
    assert [p for p, _ in issues] == [path], issues
    assert message in issues[0][1]


def test_the_same_matcher_is_healthy_on_an_nlb_and_refused_on_an_alb() -> None:
    assert parse("{protocol: http, matcher: '200-599'}", NLB)[1] == []
    assert parse("{matcher: '200-599'}", ALB)[1] == [
        ("hc.matcher", "matcher '200-599': ALB health checks accept codes 200-499")
    ]


@pytest.mark.parametrize(
    ("matcher", "status", "healthy"),
    [
        ("200", 200, True), ("200", 204, False), ("200,202", 202, True),
        ("200-299", 299, True), ("200-299", 300, False), ("200-299,404", 404, True),
        ("200-399", 199, False),
    ],
)  # fmt: skip
def test_matches_counts_a_status_by_the_matcher(matcher: str, status: int, healthy: bool) -> None:
    assert healthchecks.matches(matcher, status) is healthy
