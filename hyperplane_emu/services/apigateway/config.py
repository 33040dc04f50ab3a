"""The data plane's view of the plan: listeners, endpoint sources, APIs (no checks here).

The process reads `plan.json` through `plan/serialize.py`, as the fabric does; the
APIs are the plan's own frozen `PlanApi` records. Everything in them was checked
once, by the spec (with YAML paths); this module only indexes: which source
address stands for which interface endpoint (the fabric's rewrite), which VPC
links (REST V1 endpoints and V2 link fronts) each API can name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hyperplane_emu.plan import serialize
from hyperplane_emu.plan.model import Plan, PlanApi, PlanVpcLink, PlanVpcLinkV2

HTTPS_PORT = 443
DEFAULT_CONNECT_TIMEOUT_MS = 10_000
DEFAULT_IDLE_TIMEOUT_S = 120.0
STAGE_VAR_REF = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
URI_PARAM = re.compile(r"(?<!\$)\{([A-Za-z0-9._-]+)\}")

VpcLink = PlanVpcLink | PlanVpcLinkV2


@dataclass(frozen=True)
class Listener:
    ip: str
    port: int
    tls: bool


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str


@dataclass(frozen=True)
class EndpointInfo:
    """The interface endpoint a source address stands for (set by the fabric's rewrite)."""

    vpce: str
    vpc: str
    private_dns: bool = False


@dataclass(frozen=True)
class GatewayConfig:
    region: str
    listen: tuple[Listener, ...]
    tls: TlsFiles | None
    endpoints: Mapping[str, EndpointInfo]
    apis: Mapping[str, PlanApi]
    vpc_links_v2: Mapping[str, PlanVpcLinkV2] = field(default_factory=dict)
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    fabric_socket: str | None = None
    """The fabric's control socket: asked who opened a connection that came
    through an endpoint (its `nat_origin`), for X-Forwarded-For and aws:VpcSourceIp."""
    backend_cas: tuple[str, ...] = ()
    """CA files an HTTPS integration's certificate may chain to (the topology's CA:
    backendtls.py explains the checks)."""

    def links(self, api: PlanApi) -> dict[str, VpcLink]:
        """Every VPC link an integration of `api` may name, by id."""
        out: dict[str, VpcLink] = dict(api.vpc_links)
        out.update({lk.id: lk for lk in self.vpc_links_v2.values() if lk.api == api.id})
        return out


def from_plan(
    plan: Plan, cert: str | None, key: str | None, fabric_socket: str | None = None
) -> GatewayConfig:
    agw = plan.api_gateway
    if agw is None:
        raise ValueError(f"topology {plan.name} has no API Gateway")
    enis = {e.id: e for e in plan.enis}
    endpoints = {
        enis[eni_id].ip: EndpointInfo(ep.id, plan.vpcs[ep.vpc].id, ep.private_dns)
        for ep in plan.endpoints.values()
        for eni_id in ep.ingress_enis
    }
    return GatewayConfig(
        region=plan.region,
        # HTTPS only: execute-api has no listener on port 80 (public reports: a
        # regional endpoint refuses port 80, "ERR_CONNECTION_REFUSED",
        # codewisdom.io "HTTP to HTTPS Redirection for API Gateway"). The fabric's
        # fronts still carry port 80 here, so the kernel of the data plane's
        # namespace answers RST: `curl http://…` fails with "connection refused".
        listen=tuple(Listener(agw.ip, port, True) for port in agw.ports if port == HTTPS_PORT),
        tls=TlsFiles(cert, key) if cert and key else None,
        endpoints=endpoints,
        apis=dict(plan.apis),
        vpc_links_v2=dict(plan.vpc_links_v2),
        fabric_socket=fabric_socket,
        # The topology's settings.backend_trusted_cas; __main__ adds the topology's CA.
        backend_cas=tuple(plan.settings.backend_trusted_cas),
    )


def load(
    plan_file: str | Path, cert: str | None, key: str | None, fabric_socket: str | None = None
) -> GatewayConfig:
    """Raises OSError, serialize.PlanFormatError or ValueError."""
    return from_plan(serialize.from_json(Path(plan_file).read_text()), cert, key, fabric_socket)


def parse_listen(text: str) -> Listener:
    """`ip:port` or `ip:port:tls` (the process's --listen)."""
    ip, _, rest = text.partition(":")
    port, _, tls = rest.partition(":")
    if not ip or not port.isdigit() or tls not in ("", "tls"):
        raise ValueError(f"--listen {text!r}: expected ip:port or ip:port:tls")
    return Listener(ip, int(port), tls == "tls")


def plan_for(apis: Mapping[str, PlanApi], region: str = "us-east-1", name: str = "local") -> Plan:
    """A plan holding only APIs, for running the data plane outside a topology (tests, bench)."""
    from hyperplane_emu.plan.model import PLAN_VERSION, PlanApiGateway, PlanSettings

    return Plan(
        version=PLAN_VERSION, name=name, region=region, accounts={}, prefix=f"he-{name}-",
        fabric_namespace=f"he-{name}-fabric", vpcs={}, hosts={}, enis=(),
        settings=PlanSettings(0, 0, 1500), api_gateway=PlanApiGateway("", "", "", "", "", ()),
        apis=dict(apis),
    )  # fmt: skip
