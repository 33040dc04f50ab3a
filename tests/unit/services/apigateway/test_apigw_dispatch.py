"""The gateway's decisions, request by request (sans-IO): the AWS behaviour table."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from apigw_helpers import (
    ACCOUNT,
    ALLOW_VPCE,
    ARN,
    ENDPOINT_IP,
    PRIV,
    PRIV_HOST,
    PUB,
    PUB_HOST,
    VPC,
    VPCE,
    base_config,
    set_api,
    set_link,
    set_stage,
)

from hyperplane_emu.plan.model import PlanPolicyStatement
from hyperplane_emu.services.apigateway import errors
from hyperplane_emu.services.apigateway.config import EndpointInfo, GatewayConfig
from hyperplane_emu.services.apigateway.dispatch import (
    Action,
    Caller,
    ErrorAction,
    ForwardAction,
    Gateway,
    MockAction,
    condition_keys,
)

PUBLIC_IP = "198.51.100.7"


def gw(cfg: GatewayConfig | None = None) -> Gateway:
    return Gateway(cfg or base_config(upstream_port=8080))


def call(
    g: Gateway,
    target: str,
    host: str | None = PRIV_HOST,
    source: str = ENDPOINT_IP,
    method: str = "GET",
    extra: list[tuple[bytes, bytes]] | None = None,
    tls: bool = True,
) -> Action:
    headers: list[tuple[bytes, bytes]] = []
    if host is not None:
        headers.append((b"host", host.encode()))
    headers += extra or []
    return g.handle(method, target, headers, Caller(source, tls, 443), 0)


def err(action: Action) -> errors.GatewayError:
    assert isinstance(action, ErrorAction), action
    return action.error


def test_private_api_through_endpoint_is_forwarded_over_the_vpc_link() -> None:
    a = call(gw(), "/prod/orders/42?x=1")
    assert isinstance(a, ForwardAction)
    up = a.upstream
    assert (up.connect_host, up.port, up.tls, up.method, up.target) == (
        "127.0.0.1",
        8080,
        False,
        "GET",
        "/orders/42?x=1",
    )
    assert up.server_name == "orders-nlb-0123456789abcdef.elb.us-east-1.amazonaws.com"
    assert up.via_link == "abc123" and up.timeout_s == 29.0 and up.connect_timeout_s == 10.0
    h = {k.decode().lower(): v.decode() for k, v in up.headers}
    assert h["x-amzn-vpce-id"] == VPCE and h["x-amzn-vpc-id"] == VPC
    assert h["x-forwarded-for"] == ENDPOINT_IP and h["x-forwarded-proto"] == "https"
    assert h["x-amzn-trace-id"] == a.info.trace_id
    uuid.UUID(a.info.request_id)
    assert len(a.info.apigw_id) == 16 and a.info.apigw_id.endswith("=")
    assert (a.info.api_id, a.info.stage, a.info.resource) == (PRIV, "prod", "/orders/{id}")


def test_greedy_proxy_path_goes_into_the_uri() -> None:
    a = call(gw(), "/prod/items/a/b%20c?q", method="DELETE")
    assert isinstance(a, ForwardAction)
    assert a.upstream.target == "/v1/a/b%20c?q" and a.upstream.method == "DELETE"


def test_private_api_from_a_public_caller_is_forbidden() -> None:
    e = err(call(gw(), "/prod/orders/42", source=PUBLIC_IP))
    assert (e.status, e.body, e.error_type) == (
        403,
        b'{"message":"Forbidden"}',
        "ForbiddenException",
    )


def test_regional_api_through_an_endpoint_is_forbidden() -> None:
    # The private-DNS pitfall: *.execute-api resolves to the endpoint inside the VPC.
    e = err(call(gw(), "/prod/anything", host=PUB_HOST))
    assert e.body == b'{"message":"Forbidden"}'
    assert "private APIs" in e.reason
    a = call(gw(), "/prod/anything", host=PUB_HOST, source=PUBLIC_IP)
    assert isinstance(a, ForwardAction)
    assert not any(k.lower() == b"x-amzn-vpce-id" for k, _ in a.upstream.headers)


@pytest.mark.parametrize(
    ("host", "extra"),
    [
        (f"{PRIV}-{VPCE}.execute-api.us-east-1.amazonaws.com", []),
        (
            f"{VPCE}-abcdefgh.execute-api.us-east-1.vpce.amazonaws.com",
            [(b"x-apigw-api-id", PRIV.encode())],
        ),
        ("10.0.1.70", [(b"x-apigw-api-id", PRIV.encode())]),
    ],
)
def test_invoke_url_forms(host: str, extra: list[tuple[bytes, bytes]]) -> None:
    assert isinstance(call(gw(), "/prod/ping", host=host, extra=extra), MockAction)


def test_a_vpce_name_of_an_endpoint_not_associated_is_forbidden() -> None:
    """Issue 16 item 5: `<api-id>-<vpce-id>` exists for vpcEndpointIds only; a client
    forcing another endpoint's name (Host header) gets 403 Forbidden."""
    other = "vpce-0fff000000000000f"
    e = err(call(gw(), "/prod/ping", host=f"{PRIV}-{other}.execute-api.us-east-1.amazonaws.com"))
    assert (e.status, e.body, e.error_type) == (
        403,
        b'{"message":"Forbidden"}',
        "ForbiddenException",
    )
    assert other in e.reason


@pytest.mark.parametrize(
    ("host", "extra"),
    [
        ("zzzzzzzzzz.execute-api.us-east-1.amazonaws.com", []),
        (f"{VPCE}-abcdefgh.execute-api.us-east-1.vpce.amazonaws.com", []),
        (None, []),
        ("example.com", [(b"x-apigw-api-id", b"nosuchapi")]),
    ],
)
def test_unknown_or_unnamed_api_is_forbidden(
    host: str | None, extra: list[tuple[bytes, bytes]]
) -> None:
    e = err(call(gw(), "/prod/ping", host=host, extra=extra))
    f = errors.FORBIDDEN
    assert (e.status, e.body, e.error_type) == (f.status, f.body, f.error_type)


@pytest.mark.parametrize("target", ["/dev/orders/1", "/", "/dev"])
def test_a_stage_that_does_not_exist_is_forbidden(target: str) -> None:
    """Issue 16 item 5: no such stage (the bare `/` included) answers 403 Forbidden, as
    public captures of a path without its stage show (OWASP/Serverless-Goat#14)."""
    e = err(call(gw(), target))
    assert (e.status, e.body, e.error_type) == (
        403,
        b'{"message":"Forbidden"}',
        "ForbiddenException",
    )


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/prod/nothing"),  # unknown resource
        ("POST", "/prod/orders/1"),  # no such method on the resource
        ("HEAD", "/prod/orders/1"),  # HEAD is not GET
        ("GET", "/prod/items"),  # greedy needs a segment
    ],
)
def test_missing_authentication_token(method: str, target: str) -> None:
    e = err(call(gw(), target, method=method))
    assert (e.status, e.body, e.error_type) == (
        403,
        b'{"message":"Missing Authentication Token"}',
        "MissingAuthenticationTokenException",
    )


def test_policy_implicit_and_explicit_denial_bodies() -> None:
    raw = base_config()
    raw = dataclasses.replace(
        raw, endpoints={**raw.endpoints, "127.0.0.6": EndpointInfo("vpce-other", VPC)}
    )
    e = err(call(gw(raw), "/prod/orders/42", source="127.0.0.6"))
    assert e.status == 403 and e.error_type == "AccessDeniedException"
    assert json.loads(e.body) == {
        "Message": "User: anonymous is not authorized to perform: execute-api:Invoke on "
        f"resource: arn:aws:execute-api:us-east-1:********{ACCOUNT[-4:]}:{PRIV}/prod/GET/orders/42"
    }
    deny = PlanPolicyStatement("Deny", (f"{ARN}:{PRIV}/*/GET/orders/*",))
    raw = set_api(raw, PRIV, policy=(*ALLOW_VPCE, deny))
    e = err(call(gw(raw), "/prod/orders/42"))
    assert json.loads(e.body)["Message"].endswith("/prod/GET/orders/42 with an explicit deny")
    assert e.reason == "explicit deny"
    assert isinstance(call(gw(raw), "/prod/ping"), MockAction)  # not covered by the Deny


def test_private_api_without_a_policy_is_denied() -> None:
    raw = base_config()
    raw = set_api(raw, PRIV, policy=None)
    e = err(call(gw(raw), "/prod/ping"))
    assert e.status == 403 and e.body.startswith(b'{"Message":"User: anonymous')
    assert e.body.endswith(f'{PRIV}/prod/GET/ping"}}'.encode())


def test_regional_api_policy_sees_source_ip() -> None:
    raw = base_config()
    allow = PlanPolicyStatement("Allow", (f"{ARN}:{PUB}/*",), source_ip=("198.51.100.0/24",))
    raw = set_api(raw, PUB, policy=(allow,))
    assert isinstance(call(gw(raw), "/prod/", host=PUB_HOST, source=PUBLIC_IP), MockAction)
    e = err(call(gw(raw), "/prod/", host=PUB_HOST, source="203.0.113.1"))
    assert e.error_type == "AccessDeniedException"
    assert b"/prod/GET/" in e.body


def test_missing_token_is_checked_before_the_policy() -> None:
    raw = base_config()
    raw = set_api(raw, PRIV, policy=None)
    assert err(call(gw(raw), "/prod/nothing")).error_type == "MissingAuthenticationTokenException"


def test_mock_and_configuration_failures() -> None:
    a = call(gw(), "/prod/ping")
    assert isinstance(a, MockAction) and (a.status, a.body) == (200, b'{"pong":true}')
    raw = base_config()
    raw = set_link(raw, PRIV, "abc123", status="PENDING")
    g = gw(raw)
    assert any("PENDING" in p for p in g.problems)
    e = err(call(g, "/prod/orders/1"))
    assert (e.status, e.body, e.error_type) == (
        500,
        b'{"message": "Internal server error"}',
        "InternalServerErrorException",
    )
    raw = base_config()
    raw = set_stage(raw, PRIV, "beta", {})  # no vpcLinkId there
    g = gw(raw)
    assert isinstance(call(g, "/prod/orders/1"), ForwardAction)
    assert err(call(g, "/beta/orders/1")).status == 500


def test_condition_keys() -> None:
    k = condition_keys(
        Caller("10.0.0.1", False, 80),
        EndpointInfo(VPCE, VPC),
        [(b"user-agent", b"ua"), (b"referer", b"r")],
    )
    # issue 16: execute-api is HTTPS only, so aws:SecureTransport is always true.
    assert k == {
        "aws:securetransport": "true",
        "aws:sourcevpce": VPCE,
        "aws:sourcevpc": VPC,
        "aws:useragent": "ua",
        "aws:referer": "r",
    }
    k = condition_keys(
        Caller("10.255.1.9", True, 443, vpc_source_ip="10.0.1.5"), EndpointInfo(VPCE, VPC), []
    )
    assert k["aws:vpcsourceip"] == "10.0.1.5" and "aws:sourceip" not in k
    k = condition_keys(Caller("1.2.3.4", True, 443), None, [])
    assert k == {"aws:securetransport": "true", "aws:sourceip": "1.2.3.4"}
