"""One request in, one decision out: error, mock answer, or upstream request (pure).

The order of checks (docs/apigateway.md explains each choice):

1. the API the Host / `x-apigw-api-id` names must exist, else 403 Forbidden;
2. endpoint type against where the connection came from: a private API only
   through an interface endpoint, a regional/edge API never through one
   (else 403 Forbidden: "an execute-api endpoint only reaches private APIs");
3. stage (else 403 Forbidden), resource and method (else 403 Missing
   Authentication Token);
4. resource policy (a private API without one is denied), else 403 with the
   anonymous-not-authorized message;
5. the integration: MOCK answers here; a configuration problem is 500;
   HTTP/HTTP_PROXY become an `UpstreamRequest` for the server to send.

HTTP APIs (`api.http`) share steps 1 and 2 (an HTTP API is regional, so an
endpoint never reaches it), then: stage, route (404 Not Found), integration
(503 Service Unavailable for a link or target problem); no policy. See
`httproutes` and `httpapi`.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from hyperplane_emu.plan.model import PlanApi
from hyperplane_emu.services.apigateway import backendtls, errors
from hyperplane_emu.services.apigateway.config import EndpointInfo, GatewayConfig
from hyperplane_emu.services.apigateway.errors import GatewayError
from hyperplane_emu.services.apigateway.httpapi import (
    HttpResolved,
    backend_target,
    choose_target,
    http_request_headers,
    resolve_http,
)
from hyperplane_emu.services.apigateway.httproutes import HttpRouteTable, select_stage
from hyperplane_emu.services.apigateway.integration import (
    Headers,
    Resolved,
    build_target,
    request_headers,
    resolve,
    trace_id_of,
)
from hyperplane_emu.services.apigateway.policy import (
    Decision,
    RequestContext,
    evaluate,
    request_arn,
)
from hyperplane_emu.services.apigateway.router import (
    ResourceTree,
    host_pattern,
    select_api,
    split_stage,
    split_target,
)


@dataclass(frozen=True)
class Caller:
    """The connection a request arrived on."""

    ip: str  # source address as seen (after the fabric's rewrite)
    tls: bool
    local_port: int
    vpc_source_ip: str = ""  # through an endpoint: the client's own address (the fabric says)
    local_ip: str = ""  # the listener address the client reached (Forwarded: by=)


@dataclass(frozen=True)
class RequestInfo:
    """Identifiers for the response headers and the access log."""

    request_id: str
    apigw_id: str
    trace_id: str = ""
    api_id: str = ""
    stage: str = ""
    resource: str = ""  # REST: the resource path; HTTP APIs: the route key
    http_api: bool = False  # answer with HTTP API headers (apigw-requestid) and bodies


@dataclass(frozen=True)
class ErrorAction:
    info: RequestInfo
    error: GatewayError


@dataclass(frozen=True)
class MockAction:
    info: RequestInfo
    status: int
    body: bytes


@dataclass(frozen=True)
class UpstreamRequest:
    connect_host: str  # address (VPC link) or name to resolve (INTERNET)
    port: int
    tls: bool
    server_name: str  # TLS SNI: the uri's host
    method: str
    target: str
    headers: Headers
    timeout_s: float  # the integration timeout: connect + response
    connect_timeout_s: float
    via_link: str | None = None
    tls_profile: str = backendtls.VERIFY  # backendtls.SKIP_CHAIN: insecureSkipVerification
    verify_name: str = ""  # the name the backend's certificate must carry ("" plain HTTP)


@dataclass(frozen=True)
class ForwardAction:
    info: RequestInfo
    upstream: UpstreamRequest


Action = ErrorAction | MockAction | ForwardAction


def new_apigw_id() -> str:
    # Looks like AWS's: 16 characters of base64 ending in "=".
    return base64.b64encode(os.urandom(11)).decode()


@dataclass
class _CompiledApi:
    api: PlanApi
    tree: ResourceTree[int]
    # (route index, stage) -> integration for that stage
    resolved: dict[tuple[int, str], Resolved]


@dataclass
class _CompiledHttpApi:
    api: PlanApi
    table: HttpRouteTable[int]
    resolved: dict[tuple[int, str], HttpResolved]


class Gateway:
    """The data plane's decision logic for one configuration (rebuild on reload).

    `rng` picks HTTP API VPC link targets (tests pass a seeded one).
    """

    def __init__(self, config: GatewayConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random()
        self.host_re = host_pattern(config.region)
        self.connect_timeout_s = config.connect_timeout_ms / 1000.0
        self.apis: dict[str, _CompiledApi] = {}
        self.http_apis: dict[str, _CompiledHttpApi] = {}
        self.problems: list[str] = []  # configuration errors that will answer 500 (HTTP: 503)
        for api_id, api in config.apis.items():
            if api.http:
                self.http_apis[api_id] = self._compile_http(api)
                continue
            tree: ResourceTree[int] = ResourceTree()
            resolved: dict[tuple[int, str], Resolved] = {}
            links = config.links(api)
            for i, route in enumerate(api.routes):
                tree.add(route.path, route.method, i)
                for stage in api.stages.values():
                    r = resolve(route.integration, stage, links)
                    if r.failure:
                        self.problems.append(
                            f"{api_id} {stage.name} {route.method} {route.path}: {r.failure}"
                        )
                    resolved[(i, stage.name)] = r
            self.apis[api_id] = _CompiledApi(api, tree, resolved)

    def _compile_http(self, api: PlanApi) -> _CompiledHttpApi:
        table: HttpRouteTable[int] = HttpRouteTable()
        resolved: dict[tuple[int, str], HttpResolved] = {}
        links = self.config.links(api)
        for i, route in enumerate(api.routes):
            table.add(route.method, route.path, i)
            for stage in api.stages.values():
                r = resolve_http(route.integration, stage, links)
                if r.failure:
                    self.problems.append(
                        f"{api.id} {stage.name} {route.method} {route.path}: {r.failure}"
                    )
                resolved[(i, stage.name)] = r
        return _CompiledHttpApi(api, table, resolved)

    def handle(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        caller: Caller,
        body_length: int,
    ) -> Action:
        """Decide what to do with a request (`headers`: names in lower case, as h11 gives)."""
        info = RequestInfo(str(uuid.uuid4()), new_apigw_id())
        host = api_header = None
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"x-apigw-api-id":
                api_header = value.decode("latin-1")
        sel = select_api(host, api_header, self.host_re)
        if sel is None:
            return ErrorAction(info, errors.FORBIDDEN.with_reason("no API named by Host"))
        compiled = self.apis.get(sel.api_id) or self.http_apis.get(sel.api_id)
        if compiled is None:
            return ErrorAction(
                info, errors.FORBIDDEN.with_reason(f"no API {sel.api_id} in this region")
            )
        api = compiled.api
        endpoint = self.config.endpoints.get(caller.ip)
        if api.private and endpoint is None:
            return ErrorAction(
                info, errors.FORBIDDEN.with_reason("private API called from outside an endpoint")
            )
        if not api.private and endpoint is not None:
            return ErrorAction(
                info,
                errors.FORBIDDEN.with_reason(
                    f"{api.endpoint} API called through {endpoint.vpce}: endpoints reach only "
                    "private APIs"
                ),
            )
        if sel.vpce_in_host is not None and sel.vpce_in_host not in api.vpc_endpoint_ids:
            # The name exists only for associated endpoints (vpcEndpointIds); a client
            # that forces it (a Host header, --resolve) gets API Gateway's "no API here".
            return ErrorAction(
                info,
                errors.FORBIDDEN.with_reason(
                    f"{sel.vpce_in_host} is not associated with API {api.id} (vpc_endpoint_ids)"
                ),
            )
        if isinstance(compiled, _CompiledHttpApi):
            return self._handle_http(compiled, method, target, headers, caller, body_length, info)
        path, query = split_target(target)
        stage_name, resource_path = split_stage(path)
        info = RequestInfo(info.request_id, info.apigw_id, "", api.id, stage_name)
        if stage_name not in api.stages:
            # A stage that was never deployed, the bare `/` included, is Forbidden,
            # not Missing Authentication Token (public captures: OWASP/Serverless-Goat#14,
            # a path without the stage answers {"message":"Forbidden"}).
            return ErrorAction(info, errors.FORBIDDEN.with_reason(f"no stage {stage_name!r}"))
        match = compiled.tree.match(resource_path, method)
        if match is None or match.route is None:
            why = "no resource" if match is None else f"no {method} on {match.resource}"
            return ErrorAction(info, errors.MISSING_AUTH_TOKEN.with_reason(why))
        info = RequestInfo(
            info.request_id,
            info.apigw_id,
            trace_id_of(headers),
            api.id,
            stage_name,
            match.resource,
        )
        denial = self._authorize(api, stage_name, method, resource_path, caller, endpoint, headers)
        if denial is not None:
            return ErrorAction(info, denial)
        resolved = compiled.resolved[(match.route, stage_name)]
        if resolved.failure:
            return ErrorAction(info, errors.INTERNAL.with_reason(resolved.failure))
        if resolved.type == "MOCK":
            return MockAction(info, resolved.mock_status, resolved.mock_body)
        upstream = UpstreamRequest(
            connect_host=resolved.connect_host,
            port=resolved.port,
            tls=resolved.tls,
            server_name=resolved.uri_host,
            method=method,
            target=build_target(resolved, match.raw_params, query),
            headers=request_headers(
                headers,
                resolved=resolved,
                api_id=api.id,
                caller_ip=caller.vpc_source_ip or caller.ip,
                proto="https" if caller.tls else "http",
                listener_port=caller.local_port,
                trace_id=info.trace_id,
                endpoint=endpoint,
                private=api.private,
                body_length=body_length,
                method=method,
            ),
            timeout_s=resolved.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            via_link=resolved.via_link,
            tls_profile=(
                backendtls.SKIP_CHAIN if resolved.tls_skip_verification else backendtls.VERIFY
            ),
            verify_name=resolved.uri_host if resolved.tls else "",
        )
        return ForwardAction(info, upstream)

    def _handle_http(
        self,
        compiled: _CompiledHttpApi,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        caller: Caller,
        body_length: int,
        info: RequestInfo,
    ) -> Action:
        api = compiled.api
        # HTTP APIs have one request id, the short one in apigw-requestid.
        info = RequestInfo(info.apigw_id, info.apigw_id, api_id=api.id, http_api=True)
        path, query = split_target(target)
        chosen = select_stage(path, api.stages)
        if chosen is None:
            return ErrorAction(
                info, errors.HTTP_NOT_FOUND.with_reason("no such stage and no $default stage")
            )
        stage, route_path = chosen
        match = compiled.table.match(route_path, method)
        if match is None:
            info = dataclasses.replace(info, stage=stage)
            return ErrorAction(info, errors.HTTP_NOT_FOUND.with_reason("no route"))
        info = dataclasses.replace(
            info, trace_id=trace_id_of(headers), stage=stage, resource=match.key
        )
        resolved = compiled.resolved[(match.value, stage)]
        if resolved.failure:
            return ErrorAction(info, errors.HTTP_UNAVAILABLE.with_reason(resolved.failure))
        if resolved.via_link is not None:
            t = choose_target(resolved, self.rng)
            # Over a link the client's Host goes through and Forwarded has no by=
            # (captured from a VPC-link integration; docs/apigateway.md).
            connect_host, port = t.address, t.port
            server_name = resolved.server_name or t.host or t.address
            host_header, by = "", None
        else:
            connect_host, port = resolved.connect_host, resolved.port
            server_name, host_header = resolved.server_name, resolved.host_header
            by = caller.local_ip or None
        upstream = UpstreamRequest(
            connect_host=connect_host,
            port=port,
            tls=resolved.tls,
            server_name=server_name,
            method=method,
            target=backend_target(
                resolved,
                route_key=match.key,
                full_path=path,
                route_path=route_path,
                raw_params=match.raw_params,
                client_query=query,
            ),
            headers=http_request_headers(
                headers,
                host_header=host_header,
                client_ip=caller.ip,
                gateway_ip=by,
                proto="https" if caller.tls else "http",
                trace_id=info.trace_id,
                body_length=body_length,
                method=method,
            ),
            timeout_s=resolved.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            via_link=resolved.via_link,
            verify_name=server_name if resolved.tls else "",
        )
        return ForwardAction(info, upstream)

    def _authorize(
        self,
        api: PlanApi,
        stage: str,
        method: str,
        resource_path: str,
        caller: Caller,
        endpoint: EndpointInfo | None,
        headers: Sequence[tuple[bytes, bytes]],
    ) -> GatewayError | None:
        if api.policy is None:
            if api.private:
                # Developer Guide: a private API needs a resource policy to be invoked.
                arn = request_arn(api.arn_prefix, stage, method, resource_path)
                return errors.access_denied(arn, explicit=False).with_reason(
                    "private API without a resource policy"
                )
            return None
        arn = request_arn(api.arn_prefix, stage, method, resource_path)
        decision = evaluate(
            api.policy, RequestContext(arn, condition_keys(caller, endpoint, headers))
        )
        if decision is Decision.ALLOW:
            return None
        return errors.access_denied(arn, explicit=decision is Decision.EXPLICIT_DENY)


def condition_keys(
    caller: Caller, endpoint: EndpointInfo | None, headers: Sequence[tuple[bytes, bytes]]
) -> dict[str, str]:
    """Global condition keys present for this request (lower-case names).

    Through an endpoint: aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp (the
    client's private address, which the server asks the fabric for: its
    `nat_origin`), and no aws:SourceIp (IAM: that key is absent when the call
    comes through a VPC endpoint). Public callers: aws:SourceIp only.
    """
    # execute-api answers HTTPS only (docs/apigateway.md, "HTTPS only"): a request
    # the data plane sees came over TLS. Plain listeners exist for tests only.
    keys = {"aws:securetransport": "true"}
    if endpoint is not None:
        keys["aws:sourcevpce"] = endpoint.vpce
        keys["aws:sourcevpc"] = endpoint.vpc
        if caller.vpc_source_ip:
            keys["aws:vpcsourceip"] = caller.vpc_source_ip
    else:
        keys["aws:sourceip"] = caller.ip
    for name, value in headers:
        if name == b"user-agent":
            keys["aws:useragent"] = value.decode("latin-1")
        elif name == b"referer":
            keys["aws:referer"] = value.decode("latin-1")
    return keys
