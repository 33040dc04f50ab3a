"""An integration's `tls_config` (AWS's tlsConfig): how API Gateway checks the backend.

AWS facts behind the checks (Developer Guide, x-amazon-apigateway-integration.tlsConfig;
CloudFormation AWS::ApiGatewayV2::Integration TlsConfig):
- `insecureSkipVerification` is supported only for REST APIs, for HTTP and
  HTTP_PROXY integrations (so an https:// uri here); it skips the issuer check and
  keeps the expiry and host-name checks;
- `serverNameToVerify` is supported only for HTTP API private integrations; "If you
  specify a TLS configuration, private integration traffic uses the HTTPS protocol",
  and the name is sent as SNI and verified.
The data plane's side is services/apigateway/backendtls.py.
"""

from __future__ import annotations

import re

from hyperplane_emu.spec.model import TlsConfig
from hyperplane_emu.spec.nodes import Ctx, MapView

TLS_CONFIG_KEYS = ("insecure_skip_verification", "server_name_to_verify")
HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def parse_tls_config(
    ctx: Ctx,
    view: MapView,
    api_type: str | None,
    connection_type: str | None,
    uri: str | None,
) -> TlsConfig | None:
    """`tls_config` as AWS's tlsConfig (Developer Guide, x-amazon-apigateway-integration
    .tlsConfig): `insecure_skip_verification` for REST APIs' HTTPS integrations only;
    `server_name_to_verify` for HTTP APIs' private integrations only ("If you specify a
    TLS configuration, private integration traffic uses the HTTPS protocol")."""
    node = view.get("tls_config")
    if node is None:
        return None
    path = view.path_of("tls_config")
    tls_view = ctx.mapping(node, path)
    if tls_view is None:
        return None
    tls_view.check_keys(TLS_CONFIG_KEYS)
    skip_node = tls_view.get("insecure_skip_verification")
    name_node = tls_view.get("server_name_to_verify")
    skip = False
    name = None
    if skip_node is not None:
        skip_path = tls_view.path_of("insecure_skip_verification")
        if api_type == "http":
            ctx.error(
                skip_path,
                skip_node,
                "insecure_skip_verification is supported only for REST APIs (AWS); an HTTP "
                "API verifies its private integration against server_name_to_verify",
            )
        else:
            skip = bool(ctx.boolean(skip_node, skip_path))
    if name_node is not None:
        name_path = tls_view.path_of("server_name_to_verify")
        if api_type == "rest":
            ctx.error(
                name_path,
                name_node,
                "server_name_to_verify is supported only for HTTP API private integrations "
                "(AWS); a REST API verifies the uri's host name",
            )
        elif connection_type != "VPC_LINK":
            ctx.error(
                name_path,
                name_node,
                "server_name_to_verify is for private integrations (connection_type "
                "VPC_LINK); an internet integration verifies the uri's host name",
            )
        else:
            name = ctx.text(name_node, name_path, "a host name")
            if name is not None and not HOST.fullmatch(name):
                ctx.error(name_path, name_node, f"{name!r} is not a host name")
                name = None
    if api_type == "rest" and uri is not None and not uri.startswith("https://"):
        ctx.error(
            path,
            node,
            f"tls_config is for HTTPS integrations and uri {uri!r} is not https:// (AWS: "
            "tlsConfig applies to the TLS connection to the backend)",
        )
        return None
    if api_type == "http" and name_node is None and skip_node is None:
        ctx.error(
            path,
            node,
            "an HTTP API's tls_config needs server_name_to_verify (the name the target's "
            "certificate must carry)",
        )
        return None
    return TlsConfig(insecure_skip_verification=skip, server_name_to_verify=name)
