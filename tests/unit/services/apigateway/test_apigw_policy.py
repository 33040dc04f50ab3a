"""Resource-policy evaluation: every condition key the spec accepts, in Allow and Deny."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hyperplane_emu import plan, spec
from hyperplane_emu.plan.model import PlanPolicyStatement
from hyperplane_emu.services.apigateway.policy import (
    Decision,
    RequestContext,
    evaluate,
    masked_arn,
    request_arn,
)
from hyperplane_emu.spec import apipolicy

PREFIX = "arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5"
ARN = f"{PREFIX}/prod/GET/orders/42"
VPCE = "vpce-0abc"
VPC = "vpc-0123"
CALLER = "10.85.1.5"
NEIGHBOUR = "10.85.1.20"
# Through an endpoint: SourceVpce, SourceVpc, VpcSourceIp; never SourceIp (IAM).
VIA_VPCE = {
    "aws:sourcevpce": VPCE,
    "aws:sourcevpc": VPC,
    "aws:vpcsourceip": CALLER,
    "aws:securetransport": "true",
}
PUBLIC = {"aws:sourceip": "198.51.100.7", "aws:securetransport": "true"}


def stmt(effect: Any = "Allow", resource: Any = f"{PREFIX}/*", **keys: Any) -> PlanPolicyStatement:
    return PlanPolicyStatement(effect, (resource,), **keys)


def decide(statements: list[PlanPolicyStatement], keys: dict[str, str], arn: str = ARN) -> Decision:
    return evaluate(statements, RequestContext(arn, keys))


# (key, values, request keys that match, request keys that do not)
KEY_CASES = [
    ("source_vpce", (VPCE,), VIA_VPCE, {**VIA_VPCE, "aws:sourcevpce": "vpce-other"}),
    ("source_vpce", (VPCE,), VIA_VPCE, PUBLIC),  # absent: StringEquals is false
    ("not_source_vpce", ("vpce-other",), VIA_VPCE, {**VIA_VPCE, "aws:sourcevpce": "vpce-other"}),
    ("not_source_vpce", ("vpce-other",), PUBLIC, {**VIA_VPCE, "aws:sourcevpce": "vpce-other"}),
    ("source_vpc", (VPC,), VIA_VPCE, {**VIA_VPCE, "aws:sourcevpc": "vpc-other"}),
    ("source_vpc", (VPC,), VIA_VPCE, PUBLIC),
    ("source_ip", ("198.51.100.0/24",), PUBLIC, {**PUBLIC, "aws:sourceip": "203.0.113.9"}),
    ("source_ip", ("198.51.100.7/32",), PUBLIC, {**PUBLIC, "aws:sourceip": "198.51.100.8"}),
    # An endpoint caller has no aws:SourceIp, whatever its address.
    ("source_ip", ("10.0.0.0/8",), PUBLIC | {"aws:sourceip": "10.1.1.1"}, VIA_VPCE),
    ("vpc_source_ip", ("10.85.1.0/28",), VIA_VPCE, {**VIA_VPCE, "aws:vpcsourceip": NEIGHBOUR}),
    ("vpc_source_ip", (f"{CALLER}/32",), VIA_VPCE, {**VIA_VPCE, "aws:vpcsourceip": "10.85.1.6"}),
    # A public caller has no aws:VpcSourceIp.
    ("vpc_source_ip", ("0.0.0.0/0",), VIA_VPCE, PUBLIC),
]
KEY_IDS = [f"{k}-{i}" for i, (k, *_) in enumerate(KEY_CASES)]


@pytest.mark.parametrize(("key", "values", "hit", "miss"), KEY_CASES, ids=KEY_IDS)
def test_key_in_an_allow_statement(
    key: str, values: tuple[str, ...], hit: dict[str, str], miss: dict[str, str]
) -> None:
    allow = [stmt("Allow", **{key: values})]
    assert decide(allow, hit) is Decision.ALLOW
    assert decide(allow, miss) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(("key", "values", "hit", "miss"), KEY_CASES, ids=KEY_IDS)
def test_key_in_a_deny_statement(
    key: str, values: tuple[str, ...], hit: dict[str, str], miss: dict[str, str]
) -> None:
    # The usual shape: allow everyone, deny those the condition names.
    policy = [stmt("Allow"), stmt("Deny", **{key: values})]
    assert decide(policy, hit) is Decision.EXPLICIT_DENY
    assert decide(policy, miss) is Decision.ALLOW
    assert decide(list(reversed(policy)), hit) is Decision.EXPLICIT_DENY


def test_vpc_source_ip_allow_list_admits_one_host_only() -> None:
    """issue 16: `vpc_source_ip: [10.85.1.0/28]` used to allow every caller in the VPC."""
    policy = [stmt("Allow", vpc_source_ip=("10.85.1.0/28",))]
    assert decide(policy, VIA_VPCE) is Decision.ALLOW
    for other in ("10.85.1.16", "10.85.2.5", "10.0.0.1"):
        assert decide(policy, {**VIA_VPCE, "aws:vpcsourceip": other}) is Decision.IMPLICIT_DENY
    # The fabric did not say who the caller was: the key is absent, nothing is allowed.
    without = {k: v for k, v in VIA_VPCE.items() if k != "aws:vpcsourceip"}
    assert decide(policy, without) is Decision.IMPLICIT_DENY


def test_deny_with_only_vpc_source_ip_denies_only_that_range() -> None:
    policy = [stmt("Allow", source_vpce=(VPCE,)), stmt("Deny", vpc_source_ip=("10.85.1.16/28",))]
    assert decide(policy, VIA_VPCE) is Decision.ALLOW
    assert decide(policy, {**VIA_VPCE, "aws:vpcsourceip": NEIGHBOUR}) is Decision.EXPLICIT_DENY


def test_keys_in_one_statement_are_anded_values_ored() -> None:
    both = [stmt(source_vpce=("vpce-x", VPCE), vpc_source_ip=("10.85.1.0/28",), source_vpc=(VPC,))]
    assert decide(both, VIA_VPCE) is Decision.ALLOW
    assert decide(both, {**VIA_VPCE, "aws:sourcevpce": "vpce-y"}) is Decision.IMPLICIT_DENY
    assert decide(both, {**VIA_VPCE, "aws:vpcsourceip": NEIGHBOUR}) is Decision.IMPLICIT_DENY
    assert decide(both, {**VIA_VPCE, "aws:sourcevpc": "vpc-9"}) is Decision.IMPLICIT_DENY
    # source_vpce and not_source_vpce together: in the first list and not in the second.
    mixed = [stmt(source_vpce=(VPCE, "vpce-b"), not_source_vpce=("vpce-b",))]
    assert decide(mixed, VIA_VPCE) is Decision.ALLOW
    assert decide(mixed, {**VIA_VPCE, "aws:sourcevpce": "vpce-b"}) is Decision.IMPLICIT_DENY


def test_combined_deny_needs_every_key_to_match() -> None:
    policy = [
        stmt("Allow"),
        stmt("Deny", source_vpce=(VPCE,), vpc_source_ip=("10.85.1.16/28",)),
    ]
    assert decide(policy, VIA_VPCE) is Decision.ALLOW  # right endpoint, address outside
    assert decide(policy, {**VIA_VPCE, "aws:vpcsourceip": NEIGHBOUR}) is Decision.EXPLICIT_DENY
    other = {**VIA_VPCE, "aws:sourcevpce": "vpce-2", "aws:vpcsourceip": NEIGHBOUR}
    assert decide(policy, other) is Decision.ALLOW


def test_no_statement_applies_is_implicit_deny() -> None:
    assert decide([], VIA_VPCE) is Decision.IMPLICIT_DENY
    assert decide([stmt("Deny", source_vpce=("vpce-x",))], VIA_VPCE) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("resource", "arn", "hit"),
    [
        (f"{PREFIX}/*", ARN, True),
        (f"{PREFIX}/*/GET/orders/*", ARN, True),
        (f"{PREFIX}/*/POST/*", ARN, False),
        (f"{PREFIX}/*/GET/orders/??", ARN, True),
        (f"{PREFIX}/*/GET/orders/?", ARN, False),
        ("arn:aws:execute-api:us-east-1:111122223333:other/*", ARN, False),
        (f"{PREFIX}/*/GET/", f"{PREFIX}/prod/GET/", True),
        (f"{PREFIX}/*/get/*", ARN, False),  # resource ARNs are case-sensitive
    ],
)
def test_resource_patterns(resource: str, arn: str, hit: bool) -> None:
    want = Decision.ALLOW if hit else Decision.IMPLICIT_DENY
    assert decide([stmt(resource=resource)], VIA_VPCE, arn) is want


def test_request_arn_and_masking() -> None:
    assert request_arn(PREFIX, "prod", "GET", "/") == f"{PREFIX}/prod/GET/"
    assert request_arn(PREFIX, "prod", "POST", "/a/b") == f"{PREFIX}/prod/POST/a/b"
    assert masked_arn(f"{PREFIX}/prod/GET/") == (
        "arn:aws:execute-api:us-east-1:********3333:a1b2c3d4e5/prod/GET/"
    )
    assert masked_arn("not-an-arn") == "not-an-arn"


_effects = st.sampled_from(["Allow", "Deny"])
_vpces = st.sampled_from(["vpce-a", "vpce-b", "vpce-c"])
_keys = st.sampled_from(["source_vpce", "not_source_vpce"])


@given(
    st.lists(st.tuples(_effects, _keys, _vpces), min_size=0, max_size=6),
    st.one_of(st.none(), _vpces),
)
def test_decision_is_order_independent_and_deny_dominates(
    spec: list[tuple[str, str, str]], caller_vpce: str | None
) -> None:
    stmts = [stmt(e, **{k: (v,)}) for e, k, v in spec]
    keys = {"aws:sourcevpce": caller_vpce} if caller_vpce else {}
    forward = decide(stmts, keys)
    assert decide(list(reversed(stmts)), keys) is forward

    def applies(k: str, v: str) -> bool:
        if caller_vpce is None:
            return k == "not_source_vpce"
        return (caller_vpce == v) == (k == "source_vpce")

    hits = [e for e, k, v in spec if applies(k, v)]
    want = (
        Decision.EXPLICIT_DENY
        if "Deny" in hits
        else Decision.ALLOW
        if hits
        else Decision.IMPLICIT_DENY
    )
    assert forward is want


def test_every_condition_key_the_spec_accepts_reaches_the_data_plane() -> None:
    """issue 16: a key the spec accepts but the plan drops would be accepted and ignored."""
    modelled = {f.name for f in dataclasses.fields(PlanPolicyStatement)} - {"effect"}
    assert set(apipolicy.CONDITION_KEYS) == modelled
    good = Path(__file__).resolve().parents[3] / "data" / "good" / "private-api.yaml"
    text = good.read_text()
    topo = spec.loads(text)
    orders = next(n for n, a in topo.apis.items() if a.endpoint == "private")
    policy = (
        "[{effect: Allow, source_vpce: [customer/execute-api], source_vpc: [customer], "
        "vpc_source_ip: [10.85.1.0/28], resources: ['GET /orders/*']}, "
        "{effect: Deny, not_source_vpce: [customer/execute-api], source_ip: [203.0.113.9]}]"
    )
    doc = yaml.safe_load(text)
    doc["apis"][orders]["policy"] = yaml.safe_load(policy)
    p = plan.build(spec.loads(yaml.safe_dump(doc)))
    (api,) = [a for a in p.apis.values() if a.name == orders]
    assert api.policy is not None
    allow, deny = api.policy
    ep = next(e for e in p.endpoints.values() if e.service == "execute-api")
    assert allow.source_vpce == (ep.id,) and allow.source_vpc == (p.vpcs[ep.vpc].id,)
    assert allow.vpc_source_ip == ("10.85.1.0/28",)
    assert allow.resources == (f"{api.arn_prefix}/*/GET/orders/*",)
    assert (deny.not_source_vpce, deny.source_ip) == ((ep.id,), ("203.0.113.9/32",))
