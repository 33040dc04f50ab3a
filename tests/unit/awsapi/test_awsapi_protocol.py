"""Recognising operations from raw requests, and AWS's error shapes (pure)."""

from __future__ import annotations

import json

import pytest

from hyperplane_emu.awsapi import protocol
from hyperplane_emu.awsapi.protocol import Unrecognised

pytest.importorskip("botocore")


def auth(service: str, key: str = "AKIDEXAMPLE") -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/eu-west-1/{service}/"
        "aws4_request, SignedHeaders=host, Signature=x"
    }


def test_ec2_query_action_and_region_from_the_credential_scope() -> None:
    c = protocol.recognise(
        "POST", "/", "", auth("ec2"), b"Action=CreateVpc&CidrBlock=10.0.0.0%2F16"
    )
    assert (c.service, c.operation, c.protocol, c.region) == (
        "ec2",
        "CreateVpc",
        "ec2",
        "eu-west-1",
    )
    assert c.params["CidrBlock"] == "10.0.0.0/16"


def test_elbv2_is_the_elasticloadbalancing_signing_name() -> None:
    c = protocol.recognise(
        "POST",
        "/",
        "",
        auth("elasticloadbalancing"),
        b"Action=DescribeLoadBalancers&Version=2015-12-01",
    )
    assert (c.service, c.operation, c.protocol) == ("elbv2", "DescribeLoadBalancers", "query")


def test_rest_json_by_method_and_uri_template_with_labels() -> None:
    c = protocol.recognise(
        "PUT",
        "/restapis/abc123/resources/r1/methods/GET/integration",
        "",
        auth("apigateway"),
        json.dumps({"connectionId": "x"}).encode(),
    )
    assert c.operation == "PutIntegration"
    assert c.path_params == {"restapi_id": "abc123", "resource_id": "r1", "http_method": "GET"}
    assert c.params == {"connectionId": "x"}


def test_apigateway_v2_by_its_path_prefix() -> None:
    c = protocol.recognise("POST", "/v2/apis/abc/integrations", "", auth("apigateway"), b"{}")
    assert (c.service, c.operation) == ("apigatewayv2", "CreateIntegration")


def test_the_most_literal_template_wins() -> None:
    c = protocol.recognise("GET", "/restapis/abc/resources", "", auth("apigateway"), b"")
    assert c.operation == "GetResources"


def test_cloud_map_by_target_header() -> None:
    headers = {
        **auth("servicediscovery"),
        "X-Amz-Target": "Route53AutoNaming_v20170314.ListNamespaces",
    }
    c = protocol.recognise("POST", "/", "", headers, b"{}")
    assert (c.service, c.operation, c.protocol) == ("servicediscovery", "ListNamespaces", "json")


@pytest.mark.parametrize(
    ("service", "body", "needle"),
    [
        ("s3", b"", "'s3' is not emulated"),
        ("ec2", b"Action=NoSuchThing", "NoSuchThing is not an operation of ec2"),
        ("", b"", "unsigned"),
    ],
)
def test_unrecognised_requests_say_what_they_were(service: str, body: bytes, needle: str) -> None:
    headers = auth(service) if service else {}
    with pytest.raises(Unrecognised, match=needle):
        protocol.recognise("POST", "/", "", headers, body)


def test_error_shapes_per_protocol() -> None:
    status, headers, body = protocol.error("ec2", "InvalidVpcID.NotFound", "no <vpc>")
    assert status == 400 and b"<Response><Errors><Error><Code>InvalidVpcID.NotFound" in body
    assert b"no &lt;vpc&gt;" in body
    status, headers, body = protocol.error("query", "ValidationError", "bad")
    assert b"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError" in body
    status, headers, body = protocol.error("json", "ServiceNotFound", "gone")
    assert json.loads(body) == {"__type": "ServiceNotFound", "message": "gone"}
    status, headers, body = protocol.error("rest-json", "NotFoundException", "gone", 404)
    assert ("x-amzn-ErrorType", "NotFoundException") in headers and status == 404


def test_not_implemented_names_the_operation_and_is_not_retried() -> None:
    status, _, body = protocol.not_implemented("ec2", "ec2", "CreateTransitGateway")
    assert status == 501  # botocore retries 500/502/503/504, not 501
    assert b"<Code>NotImplemented</Code>" in body and b"ec2:CreateTransitGateway" in body
