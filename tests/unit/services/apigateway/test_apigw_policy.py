"""Resource-policy evaluation: IAM semantics for anonymous callers of execute-api."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperplane_emu.services.apigateway.policy import (
    Decision,
    PolicyError,
    RequestContext,
    masked_arn,
    parse_policy,
    request_arn,
)

PREFIX = "arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5"
ARN = f"{PREFIX}/prod/GET/orders/42"
VPCE = "vpce-0abc"
VIA_VPCE = {"aws:sourcevpce": VPCE, "aws:sourcevpc": "vpc-1", "aws:securetransport": "true"}
PUBLIC = {"aws:sourceip": "198.51.100.7", "aws:securetransport": "false"}


def stmt(effect: str = "Allow", resource: Any = "execute-api:/*", **extra: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "Effect": effect,
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": resource,
    }
    s.update(extra)
    return s


def decide(statements: list[dict[str, Any]], keys: dict[str, str], arn: str = ARN) -> Decision:
    policy = parse_policy({"Version": "2012-10-17", "Statement": statements}, arn_prefix=PREFIX)
    return policy.evaluate(RequestContext(arn, keys))


def test_allow_by_source_vpce() -> None:
    s = stmt(Condition={"StringEquals": {"aws:SourceVpce": VPCE}})
    assert decide([s], VIA_VPCE) is Decision.ALLOW
    assert decide([s], {**VIA_VPCE, "aws:sourcevpce": "vpce-other"}) is Decision.IMPLICIT_DENY
    assert decide([s], PUBLIC) is Decision.IMPLICIT_DENY  # key absent: positive op false


def test_explicit_deny_wins_whatever_the_order() -> None:
    allow = stmt()
    deny = stmt("Deny", Condition={"StringNotEquals": {"aws:SourceVpce": VPCE}})
    for order in ([allow, deny], [deny, allow]):
        assert decide(order, VIA_VPCE) is Decision.ALLOW
        assert decide(order, {**VIA_VPCE, "aws:sourcevpce": "vpce-x"}) is Decision.EXPLICIT_DENY
        # A public caller has no aws:SourceVpce: StringNotEquals holds, the Deny applies.
        assert decide(order, PUBLIC) is Decision.EXPLICIT_DENY


def test_no_statement_applies_is_implicit_deny() -> None:
    assert decide([stmt(resource=f"{PREFIX}/test/*")], VIA_VPCE) is Decision.IMPLICIT_DENY
    assert decide([], VIA_VPCE) is Decision.IMPLICIT_DENY


def test_absent_source_ip_for_endpoint_callers() -> None:
    ip = stmt(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})
    not_ip = stmt(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert decide([ip], VIA_VPCE) is Decision.IMPLICIT_DENY
    assert decide([not_ip], VIA_VPCE) is Decision.ALLOW
    assert decide([ip], PUBLIC) is Decision.ALLOW
    assert decide([not_ip], {**PUBLIC, "aws:sourceip": "10.1.2.3"}) is Decision.IMPLICIT_DENY
    if_exists = stmt(Condition={"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}})
    assert decide([if_exists], VIA_VPCE) is Decision.ALLOW
    assert decide([if_exists], PUBLIC) is Decision.IMPLICIT_DENY


def test_ip_address_single_address_and_cidr_list() -> None:
    s = stmt(Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.1", "198.51.100.0/24"]}})
    assert decide([s], PUBLIC) is Decision.ALLOW
    assert decide([s], {"aws:sourceip": "192.0.2.1"}) is Decision.ALLOW
    assert decide([s], {"aws:sourceip": "192.0.2.2"}) is Decision.IMPLICIT_DENY


def test_values_are_ored_keys_and_operators_anded() -> None:
    s = stmt(
        Condition={
            "StringEquals": {"aws:SourceVpce": ["vpce-x", VPCE], "aws:SourceVpc": "vpc-1"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    )
    assert decide([s], VIA_VPCE) is Decision.ALLOW
    assert decide([s], {**VIA_VPCE, "aws:sourcevpc": "vpc-2"}) is Decision.IMPLICIT_DENY
    assert decide([s], {**VIA_VPCE, "aws:securetransport": "false"}) is Decision.IMPLICIT_DENY


def test_negated_operator_matches_none_of_the_values() -> None:
    deny = stmt("Deny", Condition={"StringNotEquals": {"aws:SourceVpce": [VPCE, "vpce-b"]}})
    both = [stmt(), deny]
    assert decide(both, VIA_VPCE) is Decision.ALLOW
    assert decide(both, {**VIA_VPCE, "aws:sourcevpce": "vpce-b"}) is Decision.ALLOW
    assert decide(both, {**VIA_VPCE, "aws:sourcevpce": "vpce-c"}) is Decision.EXPLICIT_DENY


def test_condition_key_names_are_case_insensitive_values_are_not() -> None:
    s = stmt(Condition={"StringEquals": {"AWS:SOURCEVPCE": VPCE}})
    assert decide([s], VIA_VPCE) is Decision.ALLOW
    s = stmt(Condition={"StringEquals": {"aws:SourceVpce": VPCE.upper()}})
    assert decide([s], VIA_VPCE) is Decision.IMPLICIT_DENY
    s = stmt(Condition={"StringEqualsIgnoreCase": {"aws:SourceVpce": VPCE.upper()}})
    assert decide([s], VIA_VPCE) is Decision.ALLOW


def test_string_like_wildcards() -> None:
    s = stmt(Condition={"StringLike": {"aws:SourceVpce": "vpce-0a?c*"}})
    assert decide([s], VIA_VPCE) is Decision.ALLOW
    assert decide([s], {"aws:sourcevpce": "vpce-1abc"}) is Decision.IMPLICIT_DENY
    s = stmt("Deny", Condition={"StringNotLike": {"aws:SourceVpce": "vpce-0*"}})
    assert decide([stmt(), s], VIA_VPCE) is Decision.ALLOW
    assert decide([stmt(), s], {"aws:sourcevpce": "vpce-9"}) is Decision.EXPLICIT_DENY


def test_null_operator() -> None:
    present = stmt(Condition={"Null": {"aws:SourceVpce": "false"}})
    absent = stmt(Condition={"Null": {"aws:SourceVpce": "true"}})
    assert decide([present], VIA_VPCE) is Decision.ALLOW
    assert decide([present], PUBLIC) is Decision.IMPLICIT_DENY
    assert decide([absent], PUBLIC) is Decision.ALLOW


def test_set_operators_with_an_absent_key() -> None:
    any_v = stmt(Condition={"ForAnyValue:StringNotEquals": {"aws:SourceVpce": "vpce-x"}})
    all_v = stmt(Condition={"ForAllValues:StringEquals": {"aws:SourceVpce": "vpce-x"}})
    assert decide([any_v], PUBLIC) is Decision.IMPLICIT_DENY
    assert decide([all_v], PUBLIC) is Decision.ALLOW
    assert decide([all_v], VIA_VPCE) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("resource", "arn", "hit"),
    [
        ("execute-api:/*", ARN, True),
        ("execute-api:/prod/GET/orders/*", ARN, True),
        ("execute-api:/prod/POST/*", ARN, False),
        ("execute-api:/*/GET/orders/??", ARN, True),
        ("execute-api:/*/GET/orders/?", ARN, False),
        (f"{PREFIX}/*", ARN, True),
        ("arn:aws:execute-api:*:*:*", ARN, True),
        ("arn:aws:execute-api:us-east-1:111122223333:other/*", ARN, False),
        ("*", ARN, True),
        ("execute-api:/prod/GET/", f"{PREFIX}/prod/GET/", True),
        ("execute-api:/prod/get/*", ARN, False),  # resource ARNs are case-sensitive
    ],
)
def test_resource_patterns(resource: str, arn: str, hit: bool) -> None:
    want = Decision.ALLOW if hit else Decision.IMPLICIT_DENY
    assert decide([stmt(resource=resource)], VIA_VPCE, arn) is want


def test_not_resource_and_not_action_and_action_forms() -> None:
    s = stmt()
    del s["Resource"]
    s["NotResource"] = "execute-api:/prod/GET/admin/*"
    assert decide([s], VIA_VPCE) is Decision.ALLOW
    assert decide([s], VIA_VPCE, f"{PREFIX}/prod/GET/admin/x") is Decision.IMPLICIT_DENY
    for action in ("execute-api:*", "*", "EXECUTE-API:invoke", ["s3:GetObject", "execute-api:I*"]):
        assert decide([stmt(Action=action)], VIA_VPCE) is Decision.ALLOW, action
    assert decide([stmt(Action="execute-api:ManageConnections")], VIA_VPCE) is (
        Decision.IMPLICIT_DENY
    )
    s = stmt()
    del s["Action"]
    s["NotAction"] = "execute-api:ManageConnections"
    assert decide([s], VIA_VPCE) is Decision.ALLOW


@pytest.mark.parametrize(
    ("principal", "anonymous"),
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": ["arn:aws:iam::111122223333:root", "*"]}, True),
        ({"AWS": "arn:aws:iam::111122223333:root"}, False),
        ({"AWS": "111122223333"}, False),
        ({"Service": "lambda.amazonaws.com"}, False),
    ],
)
def test_principals_an_anonymous_caller_matches(principal: Any, anonymous: bool) -> None:
    want = Decision.ALLOW if anonymous else Decision.IMPLICIT_DENY
    assert decide([stmt(Principal=principal)], VIA_VPCE) is want


def test_not_principal() -> None:
    s = stmt("Deny")
    del s["Principal"]
    s["NotPrincipal"] = {"AWS": "arn:aws:iam::111122223333:role/ops"}
    assert decide([stmt(), s], VIA_VPCE) is Decision.EXPLICIT_DENY


def test_statement_may_be_a_single_object_and_policy_a_json_string() -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": stmt()})
    policy = parse_policy(doc, arn_prefix=PREFIX)
    assert policy.evaluate(RequestContext(ARN, VIA_VPCE)) is Decision.ALLOW


def test_bad_policy_lists_every_problem_with_its_path() -> None:
    bad = {
        "Statement": [
            {"Effect": "Permit", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"},
            stmt(Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}),
            stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}),
            {"Effect": "Allow", "Principal": "*", "Resource": "*"},
            stmt(Condition={"Null": {"aws:SourceVpce": "maybe"}}),
        ]
    }
    with pytest.raises(PolicyError) as exc:
        parse_policy(bad, arn_prefix=PREFIX, path="apis.x.policy")
    errs = exc.value.errors
    assert len(errs) == 5, errs
    assert errs[0].startswith("apis.x.policy.Statement[0].Effect:")
    assert "DateGreaterThan" in errs[1] and errs[1].startswith("apis.x.policy.Statement[1]")
    assert "10.0.0.0/33" in errs[2]
    assert "Action" in errs[3]
    assert "Null" in errs[4]
    with pytest.raises(PolicyError):
        parse_policy({"Version": "2012-10-17"}, arn_prefix=PREFIX)
    with pytest.raises(PolicyError):
        parse_policy("{not json", arn_prefix=PREFIX)


def test_request_arn_and_masking() -> None:
    assert request_arn(PREFIX, "prod", "GET", "/") == f"{PREFIX}/prod/GET/"
    assert request_arn(PREFIX, "prod", "POST", "/a/b") == f"{PREFIX}/prod/POST/a/b"
    assert masked_arn(f"{PREFIX}/prod/GET/") == (
        "arn:aws:execute-api:us-east-1:********3333:a1b2c3d4e5/prod/GET/"
    )
    assert masked_arn("not-an-arn") == "not-an-arn"


_effects = st.sampled_from(["Allow", "Deny"])
_vpces = st.sampled_from(["vpce-a", "vpce-b", "vpce-c"])
_ops = st.sampled_from(["StringEquals", "StringNotEquals"])


@given(
    st.lists(st.tuples(_effects, _ops, _vpces), min_size=0, max_size=6),
    st.one_of(st.none(), _vpces),
)
def test_decision_is_order_independent_and_deny_dominates(
    spec: list[tuple[str, str, str]], caller_vpce: str | None
) -> None:
    stmts = [stmt(e, Condition={op: {"aws:SourceVpce": v}}) for e, op, v in spec]
    keys = {"aws:sourcevpce": caller_vpce} if caller_vpce else {}
    forward = decide(stmts, keys)
    assert decide(list(reversed(stmts)), keys) is forward

    def applies(op: str, v: str) -> bool:
        if caller_vpce is None:
            return op == "StringNotEquals"
        return (caller_vpce == v) == (op == "StringEquals")

    hits = [e for e, op, v in spec if applies(op, v)]
    want = (
        Decision.EXPLICIT_DENY
        if "Deny" in hits
        else Decision.ALLOW
        if hits
        else Decision.IMPLICIT_DENY
    )
    assert forward is want
