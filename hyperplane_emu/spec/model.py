"""The topology as the user wrote it: frozen dataclasses, no derived values.

A `Topology` is what `spec.load()` returns once every check has passed. It holds
names and CIDRs exactly as written (normalised: `10.0.1.0/24` style, ports as
ranges); everything concrete (addresses, ids, interface names) is the plan's job.

Later issues add NLBs, endpoints, APIs, ALBs and Cloud Map. They extend the model
by adding fields with empty defaults (so older files stay valid) and registering
their section parser with `spec.sections`; nothing here is reshaped for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["tcp", "udp", "icmp", "all"]
Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class SgRule:
    """One security-group rule, with exactly one peer (AWS stores them that way).

    `peer` is either a CIDR (`10.0.0.0/16`) or a reference to another group of
    the same VPC written `sg/<name>`. Ports are inclusive; for `all` and `icmp`
    they are 0..65535 (icmp rules match every type, as a first model).
    """

    direction: Direction
    protocol: Protocol
    from_port: int
    to_port: int
    peer: str
    description: str = ""

    @property
    def peer_is_group(self) -> bool:
        return self.peer.startswith("sg/")

    @property
    def peer_group(self) -> str:
        """The referenced group's name (only valid when `peer_is_group`)."""
        return self.peer[3:]


@dataclass(frozen=True)
class SecurityGroup:
    name: str
    description: str
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    """Egress rules. A group written without an `egress` key gets AWS's default
    (all traffic to 0.0.0.0/0), materialised here as one rule."""


@dataclass(frozen=True)
class Subnet:
    name: str
    cidr: str
    az: str


@dataclass(frozen=True)
class Serve:
    """A built-in server started in a host's namespace, written `echo:8080`."""

    kind: str  # "echo" for now; later issues may add more
    port: int
    tls: bool = False  # `echo+tls:8443`: HTTPS with the host's `certificate`


@dataclass(frozen=True)
class HostCertificate:
    """The certificate a host's TLS servers present (`certificate:`).

    `names` empty: the host's private DNS name and IP (resolved in the plan).
    `issuer`: "topology" (the topology's CA, trusted by API Gateway and the hosts) or
    "self-signed" (chains to nothing: API Gateway refuses it unless
    insecure_skip_verification)."""

    names: tuple[str, ...] = ()
    issuer: str = "topology"


@dataclass(frozen=True)
class Host:
    """An instance (or task): one namespace, one ENI in `subnet`.

    `security_groups` empty in the file means the VPC's `default` group, as an
    instance launched without groups gets on AWS; the loader fills it in.
    """

    name: str
    subnet: str
    security_groups: tuple[str, ...]
    serve: tuple[Serve, ...] = ()
    source_dest_check: bool = True
    private_ip: str | None = None
    certificate: HostCertificate | None = None


@dataclass(frozen=True)
class NaclRule:
    """One numbered network ACL rule (EC2 NetworkAclEntry). Ports are inclusive and
    only matter for tcp and udp; `protocol` is an IANA number, -1 for all."""

    rule: int  # 1-32766, unique per direction; lowest evaluated first
    action: Literal["allow", "deny"]
    protocol: int
    from_port: int
    to_port: int
    cidr: str


@dataclass(frozen=True)
class NetworkAcl:
    """A network ACL of a VPC and the subnets associated with it. The name `default`
    is the VPC's default ACL: its rules replace AWS's allow-all, and it keeps every
    subnet no other ACL names."""

    name: str
    subnets: tuple[str, ...]
    inbound: tuple[NaclRule, ...]  # sorted by rule number
    outbound: tuple[NaclRule, ...]


@dataclass(frozen=True)
class FlowLog:
    """A VPC Flow Log on the VPC, a subnet or one host's ENI (`resource`)."""

    name: str
    resource: str  # `vpc`, `subnet/<name>` or `host/<name>`
    format: str = ""  # "" is AWS's default format (version 2)
    max_aggregation_interval: int = 600  # AWS: 60 or 600 s


@dataclass(frozen=True)
class Vpc:
    name: str
    cidr: str
    account: str
    """The account key (a key of `Topology.accounts`) that owns this VPC."""
    subnets: dict[str, Subnet]
    security_groups: dict[str, SecurityGroup]
    """Always contains `default` (ingress from itself, all egress) unless the
    file redefines it."""
    hosts: dict[str, Host]
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    endpoint_services: dict[str, EndpointService] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    network_acls: dict[str, NetworkAcl] = field(default_factory=dict)
    flow_logs: tuple[FlowLog, ...] = ()


@dataclass(frozen=True)
class Topology:
    name: str
    region: str
    accounts: dict[str, str]
    """Account key -> 12-digit account id. `customer` always exists."""
    vpcs: dict[str, Vpc]
    settings: Settings = field(default_factory=lambda: Settings())
    source: str = ""
    """Path of the file it was loaded from, for messages."""
    warnings: tuple[str, ...] = ()
    """Things accepted but not acted on (e.g. sections not emulated yet), one line each."""
    apis: dict[str, Api] = field(default_factory=dict)
    on_premises: OnPremises | None = None
    cloud_map: CloudMap = field(default_factory=lambda: CloudMap())


@dataclass(frozen=True)
class Settings:
    """Emulator knobs that have no AWS counterpart (or an AWS default we expose)."""

    conntrack_max: int = 65536
    flow_log_interval: int = 10
    """Seconds per flow-log aggregation window (AWS: 60 or 600; shorter here so
    that tests and the demo see records quickly)."""
    mtu: int = 9001
    backend_trusted_cas: tuple[str, ...] = ()
    """CA files (absolute; written relative to the topology file) API Gateway also
    trusts for HTTPS integrations: stand-ins for the public CAs a real backend's
    certificate chains to on AWS."""


# --------------------------------------------------------------------------
# Network Load Balancers and PrivateLink (issue 5). Defaults are AWS's
# (ELB API CreateTargetGroup / CreateListener; VPC CreateVpcEndpoint) unless
# a comment says the emulator differs.


@dataclass(frozen=True)
class HealthCheck:
    """Target-group health check. NLB defaults: TCP on the traffic port, every 30 s,
    5 successes to become healthy, 2 failures to become unhealthy, 10 s timeout
    (6 s for HTTP). The emulator accepts intervals from 1 s (AWS: 5-300) so that
    tests and the demo need not wait."""

    protocol: Literal["tcp", "http"] = "tcp"
    port: int | None = None  # None: the traffic port (AWS "traffic-port")
    path: str = "/"
    interval: int = 30
    timeout: int = 10
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200-399"  # HTTP codes counted as success


@dataclass(frozen=True)
class Target:
    """A registered target: `host` for target type instance; `ip` for type ip, or
    `host` there too, meaning that host's private address (resolved by the plan,
    as ECS registers a task's address), so files need not pin addresses."""

    host: str | None = None
    ip: str | None = None
    port: int | None = None  # None: the target group's port


@dataclass(frozen=True)
class TargetGroup:
    name: str
    protocol: Literal["tcp", "udp", "http"]  # http: an ALB's target group
    port: int
    target_type: Literal["instance", "ip"]
    targets: tuple[Target, ...]
    health_check: HealthCheck = field(default_factory=HealthCheck)
    preserve_client_ip: bool | None = None
    """None: AWS's default for the type (on for instance targets, off for ip
    targets with TCP, on for UDP)."""
    proxy_protocol_v2: bool = False
    unhealthy_connection_termination: bool = True


@dataclass(frozen=True)
class Listener:
    protocol: Literal["tcp", "udp"]
    port: int
    target_group: str  # a key of LoadBalancer.target_groups
    idle_timeout: int = 350  # tcp.idle_timeout.seconds, 60-6000


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    type: Literal["network", "application"]
    scheme: Literal["internal", "internet-facing"]
    subnets: tuple[str, ...]  # subnet names of the VPC: one NLB ENI in each
    listeners: tuple[Listener, ...]  # NLB listeners; empty for an ALB
    target_groups: dict[str, TargetGroup]
    cross_zone: bool = False  # NLB attribute; ALBs always balance across zones
    security_groups: tuple[str, ...] = ()
    """The groups of its ENIs. ALB: the VPC's `default` when none are written; NLB:
    none when none are written (AWS: and none can be added later)."""
    enforce_sg_inbound_on_privatelink: bool = True
    """NLB with groups: whether PrivateLink traffic is judged by the inbound rules
    (`enforce_security_group_inbound_rules_on_private_link_traffic`)."""
    idle_timeout: int = 60  # ALB only: idle_timeout.timeout_seconds, 1-4000
    alb_listeners: tuple[AlbListener, ...] = ()  # ALB only


@dataclass(frozen=True)
class EndpointService:
    """A PrivateLink endpoint service in front of one NLB of the same VPC."""

    name: str
    load_balancer: str  # a key of Vpc.load_balancers
    acceptance_required: bool = True
    allowed_principals: tuple[str, ...] = ()
    """Account ids (12 digits), `arn:aws:iam::<account>:root`, or `*`. The
    provider's own account is always allowed (emulator simplification: AWS
    requires listing it too)."""
    private_dns_name: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """An interface VPC endpoint: one ENI per subnet, with security groups."""

    name: str
    service: str
    """`execute-api` (API Gateway, provided by the emulator) or `<vpc>/<service>`
    naming an endpoint service of this topology."""
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    """Empty in the file means the VPC's `default` group, as on AWS."""
    private_dns: bool = False
    """AWS console default: on for AWS services, off for endpoint services. The
    loader sets True for `execute-api` when the key is absent."""


# --------------------------------------------------------------------------
# API Gateway (issues 6 and 7): top-level `apis`. REST APIs (v1) and HTTP APIs (v2).


@dataclass(frozen=True)
class TlsConfig:
    """An integration's backend TLS settings (AWS's tlsConfig)."""

    insecure_skip_verification: bool = False
    """REST APIs: accept a backend certificate whatever issued it; its expiry and host
    name are still checked (API Gateway Developer Guide, x-amazon-apigateway-integration
    .tlsConfig)."""
    server_name_to_verify: str | None = None
    """HTTP API private integrations: speak HTTPS to the target, send this name (SNI) and
    verify the certificate against it."""


@dataclass(frozen=True)
class Integration:
    """How a route reaches its backend (API Gateway's integration request)."""

    type: Literal["HTTP_PROXY", "HTTP", "MOCK"]
    connection_type: Literal["INTERNET", "VPC_LINK"] = "INTERNET"
    connection_id: str | None = None
    """A VPC link name of the same API, or `${stageVariables.<name>}`."""
    uri: str | None = None
    """REST: `http(s)://host[:port]/path/{param}`; with VPC_LINK the host only sets
    `Host` (the link routes). HTTP APIs: `integration_uri` (an NLB listener
    `<vpc>/<nlb>:<port>` in later issues) is stored here too."""
    timeout_ms: int = 29000  # REST default 29 s; 50 ms minimum
    mock_status: int = 200
    mock_body: str = ""
    overwrite_path: str | None = None
    """HTTP APIs: `request_parameters: {"overwrite:path": "$request.path"}`."""
    integration_target: str | None = None
    """REST APIs over a VPC link V2: the ALB or NLB (`<vpc>/<name>`); the uri's port
    picks its listener (AWS: integrationTarget, an ALB or NLB ARN)."""
    tls_config: TlsConfig | None = None


@dataclass(frozen=True)
class Route:
    """`"GET /orders/{id}": {integration: …}` — REST resource+method, or an HTTP API route."""

    method: str  # GET, POST, …, or ANY
    path: str  # "/orders", "/orders/{id}", "/{proxy+}"; "$default" for HTTP APIs
    integration: Integration


@dataclass(frozen=True)
class Stage:
    name: str
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyStatement:
    """One resource-policy statement, condition keys as AWS names them.

    Every listed condition must hold for the statement to apply (AWS ANDs
    condition keys); values within one key are ORed.
    """

    effect: Literal["Allow", "Deny"]
    source_vpce: tuple[str, ...] = ()  # `<vpc>/<endpoint>` of the topology, or a vpce- id
    source_vpc: tuple[str, ...] = ()  # VPC names of the topology, or vpc- ids
    source_ip: tuple[str, ...] = ()  # CIDRs (aws:SourceIp: regional APIs, public callers)
    vpc_source_ip: tuple[str, ...] = ()
    """CIDRs (aws:VpcSourceIp): the caller's private address, for calls through an
    execute-api endpoint (aws:SourceIp does not apply there: the endpoint rewrites it)."""
    not_source_vpce: tuple[str, ...] = ()  # StringNotEquals aws:SourceVpce
    resources: tuple[str, ...] = ("*",)  # "*" or "<METHOD> <path>" patterns, e.g. "GET /orders/*"


@dataclass(frozen=True)
class VpcLink:
    """REST (v1): `target` = `<vpc>/<nlb>`. HTTP (v2): `vpc` + `subnets` + `security_groups`."""

    name: str
    target: str | None = None
    vpc: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Api:
    name: str
    type: Literal["rest", "http"]
    endpoint: Literal["regional", "private"] = "regional"
    policy: tuple[PolicyStatement, ...] | None = None
    vpc_links: dict[str, VpcLink] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    account: str = "customer"  # the account key that owns the API
    vpc_endpoint_ids: tuple[str, ...] = ()
    """Private REST APIs: `<vpc>/<endpoint>` execute-api endpoints associated with the API
    (AWS's endpointConfiguration.vpcEndpointIds): each gets the Route 53 alias
    `<api-id>-<vpce-id>.execute-api.<region>.amazonaws.com`."""


# --------------------------------------------------------------------------
# Application Load Balancers: `type: application` entries of a VPC's
# load_balancers. The LoadBalancer carries them in `alb_listeners`; their
# target groups are `TargetGroup`s with protocol `http` (ELB API CreateListener,
# CreateRule, CreateTargetGroup for Application Load Balancers).


@dataclass(frozen=True)
class FixedResponse:
    """A `fixed-response` action: the ALB answers itself (2XX, 4XX or 5XX)."""

    status: int
    body: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class AlbAction:
    """Exactly one of `forward` (a target group of the same ALB) or `fixed_response`."""

    forward: str | None = None
    fixed_response: FixedResponse | None = None


@dataclass(frozen=True)
class AlbConditions:
    """A rule's conditions: every kind written must match (AND); the values of
    one kind are alternatives (OR). Patterns take `*` and `?` wildcards, except
    methods. Paths match case-sensitively; hosts and header values do not."""

    path: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    http_method: tuple[str, ...] = ()
    http_header: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AlbRule:
    priority: int  # 1-50000, unique per listener; lowest is evaluated first
    conditions: AlbConditions
    action: AlbAction


@dataclass(frozen=True)
class AlbListener:
    port: int
    default_action: AlbAction
    rules: tuple[AlbRule, ...] = ()  # sorted by priority
    protocol: Literal["http"] = "http"


# --------------------------------------------------------------------------
# AWS Cloud Map: top-level `cloud_map` (namespaces, services, instances), what
# HTTP API integrations `cloud_map/<namespace>/<service>` discover.


@dataclass(frozen=True)
class CloudMapNamespace:
    name: str
    type: Literal["dns_private", "http"]
    vpc: str | None = None  # dns_private only: the VPC whose resolver answers for it


@dataclass(frozen=True)
class CloudMapInstance:
    """A registered instance: `host` (that host's private address, resolved by the
    plan) or `ip` (AWS_INSTANCE_IPV4), and `port` (AWS_INSTANCE_PORT)."""

    id: str
    port: int
    host: str | None = None
    ip: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    health: Literal["healthy", "unhealthy"] = "healthy"
    """Custom health status (AWS_INIT_HEALTH_STATUS); discovery returns healthy ones."""


@dataclass(frozen=True)
class CloudMapService:
    name: str
    namespace: str  # a key of CloudMap.namespaces
    instances: dict[str, CloudMapInstance] = field(default_factory=dict)


@dataclass(frozen=True)
class CloudMap:
    namespaces: dict[str, CloudMapNamespace] = field(default_factory=dict)
    services: dict[str, CloudMapService] = field(default_factory=dict)


@dataclass(frozen=True)
class OnPremises:
    """A data centre joined to VPCs through a virtual private gateway (Direct Connect or
    Site-to-Site VPN stand-in). Its own resolver answers AWS names publicly, as a
    corporate DNS server would: no private DNS of any VPC reaches it."""

    cidr: str
    connected_to: tuple[str, ...]  # VPC names
    hosts: tuple[str, ...]
