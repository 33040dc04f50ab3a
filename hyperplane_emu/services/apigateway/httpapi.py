"""HTTP API (v2) integrations: where a request goes and what it carries (pure).

`resolve_http(integration, stage, links)` runs once per route and stage (stage
variables substituted, VPC link checked, targets filtered); per request the
server only picks a target, fills the path and builds header lists.
docs/apigateway.md ("HTTP APIs") gives the source of every rule; in short:

- **Where**: `VPC_LINK` connects to one of the integration's `targets` (the
  link's front addresses for an ALB/NLB listener or the Cloud Map service's
  instances): a random healthy one per request, as API Gateway spreads
  requests over the healthy instances DiscoverInstances returns (Developer
  Guide, "Private integrations for HTTP APIs"); a Cloud Map uri's query
  (`cloud_map/ns/svc?stage=prod`) filters instances by attribute, as
  DiscoverInstances' QueryParameters do. `INTERNET` connects to the uri's host.
- **Path**: `overwrite_path` when set (`$request.path` = the path without the
  stage, `$request.path.<name>` = a path parameter); else over a VPC link the
  request's own path, *stage segment included* (the uri is a listener ARN with
  no path; the well-known reason for `overwrite:path = $request.path`); else
  the uri's path with `{name}` / `{name+}` filled, and for the `$default`
  route the uri's path followed by the whole request path. The client's
  query string always follows.
- **Headers**: hop-by-hop fields dropped; `Host` is the uri's for `INTERNET`
  and the client's own over a VPC link; `Forwarded: [by=<gateway>;]for=<client>;
  host=<client's Host>;proto=<scheme>` (RFC 7239, appended to the client's),
  `Via: HTTP/1.1 AmazonAPIGateway`, `X-Amzn-Trace-Id`; a client's
  `X-Forwarded-*` become `Forwarded` elements before ours (known-issues page),
  never passed as sent; unlike REST APIs no `User-Agent` rewrite, no
  `X-Amzn-Apigateway-Api-Id`.
- **Response**: the backend's headers pass (no `x-amzn-Remapped-*`), minus
  hop-by-hop, `Date` and `Content-Length` (API Gateway's own), plus
  `apigw-requestid`.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from hyperplane_emu.plan.model import PlanIntegration, PlanIntegrationTarget, PlanStage
from hyperplane_emu.services.apigateway.config import VpcLink
from hyperplane_emu.services.apigateway.httproutes import DEFAULT
from hyperplane_emu.services.apigateway.integration import (
    Headers,
    http_date,
    substitute_stage_vars,
)
from hyperplane_emu.services.httpio import HOP_BY_HOP, connection_tokens

VIA = b"HTTP/1.1 AmazonAPIGateway"
# `{name}` or `{name+}` in an HTTP API integration uri (the guide writes `{proxy+}`).
URI_PARAM = re.compile(r"(?<!\$)\{([A-Za-z0-9._-]+)\+?\}")
# Parameter-mapping references: `$request.path`, `$request.path.id`,
# `$stageVariables.x`, `$context.x`, each also as `${…}`.
MAPPING_REF = re.compile(
    r"\$\{([A-Za-z0-9_.-]+)\}|\$((?:request|stageVariables|context)(?:\.[A-Za-z0-9_-]+)*)"
)
_REQUEST_DROP = HOP_BY_HOP | {
    b"content-length",
    b"expect",
    b"max-forwards",
    b"x-amzn-trace-id",
}
_RESPONSE_DROP = HOP_BY_HOP | {b"date", b"content-length", b"apigw-requestid"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class HttpResolved:
    """A route's integration on one stage."""

    timeout_s: float
    failure: str | None = None  # answered 503 Service Unavailable
    via_link: str | None = None
    tls: bool = False
    # INTERNET: where to connect and what Host says; over a link both come per target.
    connect_host: str = ""
    port: int = 80
    host_header: str = ""
    server_name: str = ""
    path_template: str = "/"
    query_template: str = ""
    targets: tuple[PlanIntegrationTarget, ...] = ()  # healthy targets that pass the uri's filters
    overwrite_path: str | None = None  # stage variables already substituted


def mapping_refs(template: str) -> list[str]:
    """The names a parameter-mapping value refers to (`request.path.id`, …)."""
    return [m.group(1) or m.group(2) for m in MAPPING_REF.finditer(template)]


def _stage_vars_in_mapping(template: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if not name.startswith("stageVariables."):
            return m.group(0)
        var = name.split(".", 1)[1]
        if var not in variables:
            missing.append(var)
            return ""
        return variables[var]

    return MAPPING_REF.sub(repl, template), missing


def cloud_map_filters(uri: str) -> dict[str, str]:
    """`cloud_map/ns/svc?stage=prod&color=blue` -> {"stage": "prod", "color": "blue"}."""
    if "://" in uri:
        return {}
    _, _, query = uri.partition("?")
    return dict(parse_qsl(query, keep_blank_values=True))


def resolve_http(
    integ: PlanIntegration, stage: PlanStage, links: Mapping[str, VpcLink]
) -> HttpResolved:
    timeout_s = integ.timeout_ms / 1000.0
    overwrite = None
    if integ.overwrite_path is not None:
        overwrite, missing = _stage_vars_in_mapping(integ.overwrite_path, stage.variables)
        if missing:
            return HttpResolved(timeout_s, failure=f"overwrite_path: undefined {missing}")
    uri, missing = substitute_stage_vars(integ.uri or "", stage.variables)
    if missing:
        return HttpResolved(timeout_s, failure=f"uri: undefined stage variable(s) {missing}")
    if integ.connection_type == "VPC_LINK":
        return _resolve_link(integ, stage, links, uri, timeout_s, overwrite)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as e:
        return HttpResolved(timeout_s, failure=f"bad uri {uri!r}: {e}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return HttpResolved(timeout_s, failure=f"bad uri {uri!r}")
    tls = parts.scheme == "https"
    default_port = 443 if tls else 80
    port = port or default_port
    host = parts.hostname
    return HttpResolved(
        timeout_s,
        tls=tls,
        connect_host=host,
        port=port,
        host_header=host if port == default_port else f"{host}:{port}",
        server_name=host,
        path_template=parts.path or "/",
        query_template=parts.query,
        overwrite_path=overwrite,
    )


def _resolve_link(
    integ: PlanIntegration,
    stage: PlanStage,
    links: Mapping[str, VpcLink],
    uri: str,
    timeout_s: float,
    overwrite: str | None,
) -> HttpResolved:
    link_id, missing = substitute_stage_vars(integ.connection_id or "", stage.variables)
    if missing or not link_id:
        return HttpResolved(timeout_s, failure=f"connection_id: undefined {missing}")
    link = links.get(link_id)
    if link is None:
        return HttpResolved(timeout_s, failure=f"VPC link {link_id} does not exist")
    if link.status != "AVAILABLE":
        return HttpResolved(timeout_s, failure=f"VPC link {link_id} is {link.status}")
    filters = cloud_map_filters(uri)
    matching = [
        t for t in integ.targets if all(t.attributes.get(k) == v for k, v in filters.items())
    ]
    healthy = tuple(t for t in matching if t.healthy)
    if not healthy:
        why = f"{len(matching)} unhealthy" if matching else "none"
        return HttpResolved(
            timeout_s, failure=f"VPC link {link_id}: no healthy target for {uri} ({why})"
        )
    # Private integrations speak plain HTTP unless they have a TLS configuration
    # (AWS::ApiGatewayV2::Integration TlsConfig: "If you specify a TLS configuration,
    # private integration traffic uses the HTTPS protocol"); then the name sent and
    # verified is serverNameToVerify.
    tls = uri.startswith("https://") or integ.tls_server_name is not None
    return HttpResolved(
        timeout_s,
        via_link=link_id,
        tls=tls,
        targets=healthy,
        overwrite_path=overwrite,
        server_name=integ.tls_server_name or "",
    )


def choose_target(resolved: HttpResolved, rng: random.Random) -> PlanIntegrationTarget:
    """A random healthy target (AWS: spread over the healthy instances, order unspecified)."""
    targets = resolved.targets
    return targets[0] if len(targets) == 1 else targets[rng.randrange(len(targets))]


def fill_mapping(template: str, route_path: str, raw_params: Mapping[str, str]) -> str:
    """A path mapping with `$request.path` / `$request.path.<name>` filled (raw values)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name == "request.path":
            return route_path
        if name.startswith("request.path."):
            return raw_params.get(name[len("request.path.") :], "")
        return m.group(0)

    path = MAPPING_REF.sub(repl, template)
    return path if path.startswith("/") else "/" + path


def backend_target(
    resolved: HttpResolved,
    *,
    route_key: str,
    full_path: str,
    route_path: str,
    raw_params: Mapping[str, str],
    client_query: str,
) -> str:
    """The integration request's target (path and query)."""
    query = ""
    if resolved.overwrite_path is not None:
        path = fill_mapping(resolved.overwrite_path, route_path, raw_params)
    elif resolved.via_link is not None:
        path = full_path or "/"
    else:
        if route_key == DEFAULT:
            path = resolved.path_template.rstrip("/") + (full_path or "/")
        else:
            path = URI_PARAM.sub(lambda m: raw_params.get(m.group(1), ""), resolved.path_template)
        query = URI_PARAM.sub(lambda m: raw_params.get(m.group(1), ""), resolved.query_template)
    if client_query:
        query = f"{query}&{client_query}" if query else client_query
    return f"{path}?{query}" if query else path


def _node(address: str) -> str:
    """RFC 7239 node: IPv6 addresses are bracketed and quoted."""
    try:
        if ipaddress.ip_address(address).version == 6:
            return f'"[{address}]"'
    except ValueError:
        pass
    return address


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_X_FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port")


def _value(text: str) -> str:
    """An RFC 7239 value: a token as is, anything else as a quoted-string."""
    if _TOKEN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _for_node(text: str) -> str:
    """A client-sent X-Forwarded-For entry as an RFC 7239 node (IPv6 bracketed)."""
    try:
        if ipaddress.ip_address(text).version == 6:
            return f'"[{text}]"'
        return text
    except ValueError:
        return _value(text)  # "unknown", an obfuscated id, or junk: quoted, never trusted


def translate_x_forwarded(fields: Mapping[bytes, list[bytes]]) -> bytes:
    """Client `X-Forwarded-*` headers as `Forwarded` elements (b"" when there are none).

    AWS: "HTTP APIs translate incoming X-Forwarded-* headers into a standard Forwarded
    header and will append the egress IP, Host and protocol" (Developer Guide, "Amazon
    API Gateway important notes", HTTP APIs). The captured shape (pbojinov/request-ip#70:
    `for=<xff>,for=<client>;by=…;host=…;proto=https`) shows each X-Forwarded-For entry
    as a `for=` element. X-Forwarded-Proto and -Host (with -Port, RFC 7239 has no port
    parameter of its own) describe the last hop, so they join the last element (our
    reading of RFC 7239 §7.4's transition advice)."""
    fors = [
        part.strip()
        for value in fields.get(b"x-forwarded-for", ())
        for part in value.decode("latin-1").split(",")
        if part.strip()
    ]
    elements = [f"for={_for_node(ip)}" for ip in fors]
    extra: list[str] = []
    protos = fields.get(b"x-forwarded-proto")
    if protos:
        extra.append(f"proto={_value(protos[-1].decode('latin-1').strip())}")
    hosts = fields.get(b"x-forwarded-host")
    ports = fields.get(b"x-forwarded-port")
    if hosts:
        host = hosts[-1].decode("latin-1").strip()
        if ports:
            host = f"{host}:{ports[-1].decode('latin-1').strip()}"
        extra.append(f"host={_value(host)}")
    if extra:
        if elements:
            elements[-1] += ";" + ";".join(extra)
        else:
            elements.append(";".join(extra))
    return ", ".join(elements).encode("latin-1")


def forwarded(client_ip: str, host: str, proto: str, by: str | None) -> bytes:
    parts = [f"by={_node(by)}"] if by else []
    parts.append(f"for={_node(client_ip)}")
    if host:
        parts.append(f"host={host}")
    parts.append(f"proto={proto}")
    return ";".join(parts).encode("latin-1")


def http_request_headers(
    client_headers: Sequence[tuple[bytes, bytes]],
    *,
    host_header: str,
    client_ip: str,
    gateway_ip: str | None,
    proto: str,
    trace_id: str,
    body_length: int,
    method: str,
) -> Headers:
    """The integration request's headers; `host_header` "" keeps the client's Host."""
    nominated = connection_tokens(client_headers)
    client_host = b""
    fwd = via = b""
    x_forwarded: dict[bytes, list[bytes]] = {}
    out: Headers = []
    for name, value in client_headers:
        if name == b"host":
            client_host = client_host or value
            continue
        if name == b"forwarded":
            fwd = fwd + b", " + value if fwd else value
            continue
        if name in _X_FORWARDED:
            # Never passed as sent: a backend trusting X-Forwarded-For would trust
            # the client. Translated into Forwarded below.
            x_forwarded.setdefault(name, []).append(value)
            continue
        if name == b"via":
            via = via + b", " + value if via else value
            continue
        if name in _REQUEST_DROP or name in nominated:
            continue
        out.append((name, value))
    host = host_header.encode("latin-1") if host_header else client_host
    translated = translate_x_forwarded(x_forwarded)
    if translated:
        fwd = fwd + b", " + translated if fwd else translated
    ours = forwarded(client_ip, client_host.decode("latin-1"), proto, gateway_ip)
    head: Headers = [(b"Host", host)] if host else []
    out = head + out
    out.append((b"Forwarded", fwd + b", " + ours if fwd else ours))
    out.append((b"Via", via + b", " + VIA if via else VIA))
    out.append((b"X-Amzn-Trace-Id", trace_id.encode("latin-1")))
    if body_length or method in _BODY_METHODS:
        out.append((b"Content-Length", str(body_length).encode()))
    return out


def http_response_headers(
    upstream: Sequence[tuple[bytes, bytes]], *, request_id: str, body_length: int | None
) -> Headers:
    """The client response's headers; `body_length` None: a HEAD answer (the backend's
    Content-Length, if any, is kept as the length a GET would have had)."""
    nominated = connection_tokens(upstream)
    out: Headers = [(b"Date", http_date())]
    head_length: bytes | None = None
    for name, value in upstream:
        if name == b"content-length":
            head_length = value
            continue
        if name in _RESPONSE_DROP or name in nominated:
            continue
        out.append((name, value))
    if body_length is not None:
        out.append((b"Content-Length", str(body_length).encode()))
    elif head_length is not None:
        out.append((b"Content-Length", head_length))
    out.append((b"apigw-requestid", request_id.encode()))
    return out


def http_error_headers(request_id: str, length: int) -> Headers:
    """HTTP API error answers: no x-amzn-ErrorType, no x-amzn-RequestId (captured 404/503s)."""
    return [
        (b"Date", http_date()),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(length).encode()),
        (b"apigw-requestid", request_id.encode()),
    ]
