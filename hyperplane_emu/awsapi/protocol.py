"""Which AWS operation a raw HTTP request is, and AWS's error shape for each protocol.

Pure: bytes and headers in, a `Call` or error bytes out. The service comes from
the SigV4 credential scope (`Credential=AKID/date/region/<service>/aws4_request`)
or the `X-Amz-Target` header; the operation from botocore's own service model
(the `Action` parameter for the query protocols, the target for JSON, the
method and URI template for REST-JSON), so what we recognise is exactly what
boto3 and the AWS CLI send.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

# Signing name -> botocore service names served (apigateway signs both versions).
SIGNING_NAMES: dict[str, tuple[str, ...]] = {
    "ec2": ("ec2",),
    "elasticloadbalancing": ("elbv2",),
    "apigateway": ("apigateway", "apigatewayv2"),
    "servicediscovery": ("servicediscovery",),
    "sts": ("sts",),
}
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    """One recognised request: botocore's service and operation names and its input."""

    service: str  # botocore name: ec2, elbv2, apigateway, apigatewayv2, servicediscovery
    operation: str  # botocore operation name: CreateVpc, PutIntegration...
    protocol: str  # query, ec2, json, rest-json
    region: str
    access_key: str
    params: dict[str, Any] = field(default_factory=dict)  # query params / JSON body
    path_params: dict[str, str] = field(default_factory=dict)  # REST URI labels
    account: str = ""  # set by the front (front.account_of): the account the call acts in


class Unrecognised(Exception):
    """Not a call of a served service; `.service`/`.operation` say what we could tell."""

    def __init__(self, message: str, service: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.service = service
        self.operation = operation


@cache
def session() -> Any:
    """One botocore session for the process: its loader caches each service model once
    (the EC2 model alone is tens of MiB as Python objects)."""
    return botocore.session.get_session()


@cache
def model(service: str) -> Any:
    return session().get_service_model(service)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], int, str, tuple[str, ...]]]:
    """(method, regex over the path, literal length, operation, URI labels), most literal first."""
    routes = []
    m = model(service)
    for name in m.operation_names:
        http = m.operation_model(name).http
        uri = http["requestUri"].split("?")[0]
        rx, labels = "", []
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                labels.append(label.rstrip("+"))
                group = f"g{len(labels) - 1}"
                rx += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
            else:
                rx += re.escape(part)
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append((http["method"], re.compile(rx + "/?$"), literal, name, tuple(labels)))
    routes.sort(key=lambda r: -r[2])
    return routes


def recognise(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Call:
    h = {k.lower(): v for k, v in headers.items()}
    scope = _SCOPE.search(h.get("authorization", ""))
    access_key, region, signing = scope.groups() if scope else ("", "us-east-1", "")
    target = h.get("x-amz-target", "")
    if not signing and target.startswith("Route53AutoNaming"):
        signing = "servicediscovery"
    if signing not in SIGNING_NAMES:
        raise Unrecognised(f"service {signing or '(unsigned request)'!r} is not emulated", signing)
    candidates = SIGNING_NAMES[signing]
    service = candidates[0]
    if signing == "apigateway":
        service = "apigatewayv2" if path.startswith("/v2/") else "apigateway"
    m = model(service)
    protocol = _protocol(m)
    if protocol in ("query", "ec2"):
        params = {k: v[-1] for k, v in parse_qs(body.decode() or query).items()}
        if query and body:
            params = {**{k: v[-1] for k, v in parse_qs(query).items()}, **params}
        action = params.get("Action", "")
        if action not in m.operation_names:
            raise Unrecognised(f"{action or '(no Action)'} is not an operation of {service}",
                               service, action)  # fmt: skip
        return Call(service, action, protocol, region, access_key, params)
    if protocol == "json":
        op = target.rpartition(".")[2]
        if op not in m.operation_names:
            raise Unrecognised(f"{op or '(no X-Amz-Target)'} is not an operation of {service}",
                               service, op)  # fmt: skip
        return Call(service, op, protocol, region, access_key, _json(body))
    for verb, rx, _, op, names in _rest_routes(service):
        if verb != method:
            continue
        hit = rx.match(path)
        if hit:
            labels = {names[int(k[1:])]: unquote(v) for k, v in hit.groupdict().items()}
            return Call(service, op, protocol, region, access_key, _json(body), labels)
    raise Unrecognised(f"{method} {path} is not an operation of {service}", service)


def _protocol(m: Any) -> str:
    # Cloud Map's model lists smithy-rpc-v2-cbor first; its JSON form (what moto
    # reads, and what `cbor` turns CBOR requests into) is the one served here.
    protocols = m.metadata.get("protocols") or [m.metadata["protocol"]]
    return "json" if "json" in protocols else str(protocols[0])


def protocol_of(service: str) -> str:
    return _protocol(model(service))


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def error(protocol: str, code: str, message: str, status: int = 400,
          service: str = "") -> tuple[int, list[tuple[str, str]], bytes]:  # fmt: skip
    """AWS's error response for a protocol: (status, headers, body)."""
    rid = str(uuid.uuid4())
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{_x(code)}</Code><Message>{_x(message)}</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        ).encode()
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body
    if protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{kind}</Type><Code>{_x(code)}</Code><Message>{_x(message)}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"),
                        ("x-amzn-RequestId", rid)], body  # fmt: skip
    # rest-json, and anything we could not place: the header botocore reads first.
    body = json.dumps({"message": message, "Message": message}).encode()
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                    ("x-amzn-RequestId", rid)], body  # fmt: skip


def not_implemented(
    protocol: str, service: str, operation: str, why: str = ""
) -> tuple[int, list[tuple[str, str]], bytes]:
    what = f"{service}:{operation}" if operation else service or "this request"
    message = f"{what} is not supported by hyperplane-emu serve" + (f": {why}" if why else "")
    return error(protocol, "NotImplemented", message, 501, service)


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ec2_filters(params: dict[str, str]) -> dict[str, list[str]]:
    """An EC2 query's `Filter.N.Name` / `Filter.N.Value.M` as name -> values."""
    filters: dict[str, list[str]] = {}
    i = 1
    while f"Filter.{i}.Name" in params:
        j, values = 1, []
        while f"Filter.{i}.Value.{j}" in params:
            values.append(params[f"Filter.{i}.Value.{j}"])
            j += 1
        filters[params[f"Filter.{i}.Name"]] = values
        i += 1
    return filters
