"""PrivateLink names: endpoint service and interface endpoint ids and DNS names.

AWS shapes: service `vpce-svc-<17 hex>`, service name `com.amazonaws.vpce.<region>.
vpce-svc-<17 hex>`; endpoint `vpce-<17 hex>`, regional DNS name
`vpce-<17 hex>-<8 chars>.vpce-svc-<17 hex>.<region>.vpce.amazonaws.com`, per AZ
`vpce-<17 hex>-<8 chars>-<az>.vpce-svc-….<region>.vpce.amazonaws.com`. For the
API Gateway service the middle part is `execute-api`, and with private DNS
every `*.execute-api.<region>.amazonaws.com` name resolves to the endpoint.
"""

from __future__ import annotations

EXECUTE_API = "execute-api"


def service_name(region: str, service_id: str) -> str:
    if service_id == EXECUTE_API:
        return f"com.amazonaws.{region}.execute-api"
    return f"com.amazonaws.vpce.{region}.{service_id}"


def endpoint_dns_names(
    region: str, endpoint_id: str, suffix: str, service_id: str, azs: list[str]
) -> tuple[str, ...]:
    middle = EXECUTE_API if service_id == EXECUTE_API else service_id
    base = f"{endpoint_id}-{suffix}"
    tail = f"{middle}.{region}.vpce.amazonaws.com"
    return (f"{base}.{tail}", *(f"{base}-{az}.{tail}" for az in azs))


def private_dns_names(
    region: str, service_id: str, service_private_name: str | None
) -> tuple[str, ...]:
    if service_id == EXECUTE_API:
        return (f"*.execute-api.{region}.amazonaws.com",)
    return (service_private_name,) if service_private_name else ()


def principal_allows(principals: tuple[str, ...], account: str) -> bool:
    return any(p == "*" or p == account or p == f"arn:aws:iam::{account}:root" for p in principals)
