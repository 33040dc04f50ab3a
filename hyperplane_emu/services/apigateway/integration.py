"""Integration requests and responses: what goes to the backend, what comes back (pure).

`resolve(integration, stage, links)` turns a route's integration into a `Resolved`
once per stage (stage variables substituted, VPC link looked up), so the per
request work is string substitution and header lists. A configuration problem
(unknown stage variable, missing or unavailable VPC link) is kept as
`Resolved.failure` and answered 500 at request time, as AWS does ("Execution
failed due to configuration error").

Headers (REST APIs, HTTP_PROXY; docs/apigateway.md lists the sources):

- dropped from the client request: hop-by-hop fields (RFC 9110 §7.6.1 and
  whatever `Connection` names), `Expect`, `Max-Forwards`, `Content-Length`
  (recomputed);
- overwritten: `Host` (the uri's host, knowledge center
  "forward-host-header-api-gateway"), `User-Agent: AmazonAPIGateway_<api-id>`,
  `X-Amzn-Apigateway-Api-Id`, `X-Forwarded-Proto`, `X-Forwarded-Port`, and for
  private APIs `x-amzn-vpce-id`, `x-amzn-vpc-id`, `x-amzn-vpce-config`;
- appended: `X-Forwarded-For` gets the caller address as API Gateway saw it;
- `X-Amzn-Trace-Id`: the client's when it carries a `Root=`, else a new one.

Backend response: hop-by-hop fields dropped; `Connection`, `Content-Length`,
`Date`, `Server`, `Authorization`, `Content-MD5` and `WWW-Authenticate` are
kept as `x-amzn-Remapped-<Name>` (API Gateway sets its own); then
`x-amzn-RequestId`, `x-amz-apigw-id` and `X-Amzn-Trace-Id` are added.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import formatdate
from urllib.parse import urlsplit

from hyperplane_emu.plan.model import PlanIntegration, PlanStage
from hyperplane_emu.services.apigateway.config import (
    STAGE_VAR_REF,
    URI_PARAM,
    EndpointInfo,
    VpcLink,
)
from hyperplane_emu.services.httpio import HOP_BY_HOP, connection_tokens

Headers = list[tuple[bytes, bytes]]

_REQUEST_DROP = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"expect",
    b"max-forwards",
    b"user-agent",
    b"x-forwarded-proto",
    b"x-forwarded-port",
    b"x-amzn-apigateway-api-id",
    b"x-amzn-vpce-id",
    b"x-amzn-vpc-id",
    b"x-amzn-vpce-config",
    b"x-amzn-trace-id",
    b"x-forwarded-for",
}
# Response fields API Gateway renames rather than forwards (it sends its own).
REMAPPED = {
    b"authorization": b"x-amzn-Remapped-Authorization",
    b"connection": b"x-amzn-Remapped-Connection",
    b"content-length": b"x-amzn-Remapped-Content-Length",
    b"content-md5": b"x-amzn-Remapped-Content-MD5",
    b"date": b"x-amzn-Remapped-Date",
    b"server": b"x-amzn-Remapped-Server",
    b"www-authenticate": b"x-amzn-Remapped-WWW-Authenticate",
}
_RESPONSE_DROP = HOP_BY_HOP - {b"connection"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Resolved:
    """A route's integration for one stage."""

    type: str  # HTTP_PROXY | HTTP | MOCK
    timeout_s: float
    mock_status: int = 200
    mock_body: bytes = b""
    failure: str | None = None  # configuration error -> 500
    tls: bool = False
    uri_host: str = ""  # Host header and TLS server name
    port: int = 80
    host_header: str = ""
    path_template: str = "/"
    query_template: str = ""
    connect_host: str = ""  # the VPC link's address, or uri_host to resolve (INTERNET)
    via_link: str | None = None  # VPC link id
    tls_skip_verification: bool = False  # tlsConfig.insecureSkipVerification


def substitute_stage_vars(text: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    """`${stageVariables.x}` -> value; returns (text, names that are not defined)."""
    missing: list[str] = []

    def repl(m: object) -> str:
        name = m.group(1)  # type: ignore[attr-defined]
        if name not in variables:
            missing.append(name)
            return ""
        return variables[name]

    return STAGE_VAR_REF.sub(repl, text), missing


def resolve(integ: PlanIntegration, stage: PlanStage, links: Mapping[str, VpcLink]) -> Resolved:
    timeout_s = integ.timeout_ms / 1000.0
    if integ.type == "MOCK":
        return Resolved("MOCK", timeout_s, integ.mock_status, integ.mock_body.encode("utf-8"))
    uri, missing = substitute_stage_vars(integ.uri or "", stage.variables)
    if missing:
        return Resolved(integ.type, timeout_s, failure=f"undefined stage variable(s) {missing}")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as e:
        return Resolved(integ.type, timeout_s, failure=f"bad uri {uri!r}: {e}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Resolved(integ.type, timeout_s, failure=f"bad uri {uri!r}")
    tls = parts.scheme == "https"
    default_port = 443 if tls else 80
    port = port or default_port
    host = parts.hostname
    host_header = host if port == default_port else f"{host}:{port}"
    target = Resolved(
        integ.type,
        timeout_s,
        tls=tls,
        uri_host=host,
        port=port,
        host_header=host_header,
        path_template=parts.path or "/",
        query_template=parts.query,
        connect_host=host,
        tls_skip_verification=integ.tls_skip_verification,
    )
    if integ.connection_type != "VPC_LINK":
        return target
    link_id, missing = substitute_stage_vars(integ.connection_id or "", stage.variables)
    if missing or not link_id:
        return Resolved(
            integ.type, timeout_s, failure=f"connection_id: undefined stage variable(s) {missing}"
        )
    link = links.get(link_id)
    if link is None:
        return Resolved(integ.type, timeout_s, failure=f"VPC link {link_id} does not exist")
    if link.status != "AVAILABLE" or not link.address:
        return Resolved(
            integ.type, timeout_s, failure=f"VPC link {link_id} is {link.status}, not AVAILABLE"
        )
    if integ.targets:
        # A VPC link V2: connect to the link's front for this integration target (the
        # fabric's VPC-to-VPC NAT takes it out of the link's ENI); the uri sets Host only.
        t = integ.targets[0]
        return replace(target, connect_host=t.address, port=t.port, via_link=link_id)
    return replace(target, connect_host=link.address, via_link=link_id)


def build_target(resolved: Resolved, raw_params: Mapping[str, str], client_query: str) -> str:
    """Request target for the backend: the uri path with `{param}`s filled, plus queries.

    Values go in as the client sent them (still percent-encoded), so a greedy
    `{proxy}` keeps its slashes and nothing is decoded twice.
    """
    path = resolved.path_template
    if "{" in path:
        path = URI_PARAM.sub(lambda m: raw_params.get(m.group(1), ""), path)
    query = resolved.query_template
    if "{" in query:
        query = URI_PARAM.sub(lambda m: raw_params.get(m.group(1), ""), query)
    if client_query:
        query = f"{query}&{client_query}" if query else client_query
    return f"{path}?{query}" if query else path


def new_trace_id() -> str:
    # X-Ray format: Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>.
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def trace_id_of(client_headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in client_headers:
        if name == b"x-amzn-trace-id" and b"Root=" in value:
            return value.decode("latin-1")
    return new_trace_id()


def request_headers(
    client_headers: Sequence[tuple[bytes, bytes]],
    *,
    resolved: Resolved,
    api_id: str,
    caller_ip: str,
    proto: str,
    listener_port: int,
    trace_id: str,
    endpoint: EndpointInfo | None,
    private: bool,
    body_length: int,
    method: str = "GET",
) -> Headers:
    """The integration request's header list (names as API Gateway spells them)."""
    nominated = connection_tokens(client_headers)
    out: Headers = [(b"Host", resolved.host_header.encode("ascii"))]
    xff = b""
    for name, value in client_headers:
        if name == b"x-forwarded-for":
            xff = value if not xff else xff + b", " + value
            continue
        if name in _REQUEST_DROP or name in nominated:
            continue
        out.append((name, value))
    caller = caller_ip.encode()
    out.append((b"X-Forwarded-For", xff + b", " + caller if xff else caller))
    out.append((b"X-Forwarded-Proto", proto.encode()))
    out.append((b"X-Forwarded-Port", str(listener_port).encode()))
    out.append((b"X-Amzn-Trace-Id", trace_id.encode("latin-1")))
    out.append((b"User-Agent", f"AmazonAPIGateway_{api_id}".encode()))
    out.append((b"X-Amzn-Apigateway-Api-Id", api_id.encode()))
    if private and endpoint is not None:
        out.append((b"x-amzn-vpce-id", endpoint.vpce.encode()))
        out.append((b"x-amzn-vpc-id", endpoint.vpc.encode()))
        out.append((b"x-amzn-vpce-config", b"1" if endpoint.private_dns else b"0"))
    if body_length or method in _BODY_METHODS:
        # Stated even when zero for methods that carry a body: some servers
        # answer 411 Length Required to a bodiless POST without it.
        out.append((b"Content-Length", str(body_length).encode()))
    return out


_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """IMF-fixdate, recomputed once a second (it is on every response)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


def gateway_headers(request_id: str, apigw_id: str) -> Headers:
    return [
        (b"Date", http_date()),
        (b"x-amzn-RequestId", request_id.encode()),
        (b"x-amz-apigw-id", apigw_id.encode()),
    ]


def response_headers(
    upstream: Sequence[tuple[bytes, bytes]],
    *,
    request_id: str,
    apigw_id: str,
    trace_id: str,
    body_length: int | None,
) -> Headers:
    """The method response's headers from the integration response's.

    `body_length` None: a HEAD answer, whose Content-Length (if the backend
    sent one) is kept as the length a GET would have had.
    """
    nominated = connection_tokens(upstream)
    out = gateway_headers(request_id, apigw_id)
    head_length: bytes | None = None
    for name, value in upstream:
        remap = REMAPPED.get(name)
        if remap is not None:
            out.append((remap, value))
            if name == b"content-length":
                head_length = value
            continue
        if name in _RESPONSE_DROP or name in nominated or name == b"x-amzn-trace-id":
            continue
        out.append((name, value))
    out.append((b"X-Amzn-Trace-Id", trace_id.encode("latin-1")))
    if body_length is not None:
        out.append((b"Content-Length", str(body_length).encode()))
    elif head_length is not None:
        out.append((b"Content-Length", head_length))
    return out


def error_headers(request_id: str, apigw_id: str, error_type: str, length: int) -> Headers:
    out = gateway_headers(request_id, apigw_id)
    out.append((b"Content-Type", b"application/json"))
    out.append((b"Content-Length", str(length).encode()))
    out.append((b"x-amzn-ErrorType", error_type.encode()))
    return out
