"""The realized-to-be network, fully concrete: every address, id and name.

`plan.build(topology)` fills these in, purely and deterministically (the same
file gives a byte-identical `plan.json`). Realize, the fabric, services and the
CLI read only the plan, never the spec, so a running topology can always be
described, torn down or inspected from its `plan.json` alone.

Ids are AWS-shaped (`vpc-` + 17 hex, `eni-`, `sg-`, `sgr-`, `subnet-`) and derived
from a hash of the topology name and the object's path, so they are stable
across runs and distinct across topologies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EniKind = Literal[
    "host",
    "nlb",
    "vpce",
    "resolver",
    "apigw",
    "apigw-public",
    "vpce-ingress",
    "vpclink",
    "vpclink-front",
    "alb",
    "igw",
]
"""What owns an ENI. host: an instance (veth to its namespace); nlb: a Network
Load Balancer node (veth to a namespace used only for health checks; data
flows are rewritten in the fabric); vpce: an interface endpoint (virtual,
port -1); resolver: the VPC's Amazon DNS server (veth to its namespace).
Later issues add "vpclink", "alb", "apigw"."""


@dataclass(frozen=True)
class PlanSgRule:
    rule_id: str  # sgr- + 17 hex
    direction: Literal["ingress", "egress"]
    protocol: int  # IANA number: 6 tcp, 17 udp, 1 icmp; -1 all (AWS's spelling)
    from_port: int
    to_port: int
    cidr: str | None  # exactly one of cidr / group_id is set
    group_id: str | None
    description: str = ""


@dataclass(frozen=True)
class PlanSecurityGroup:
    id: str
    name: str
    vpc: str  # VPC name (key of Plan.vpcs)
    description: str
    rules: tuple[PlanSgRule, ...]


@dataclass(frozen=True)
class PlanRoute:
    destination: str  # CIDR
    target: str  # "local" for now; later: "vpce-…", "igw-…", "vgw-…", …


@dataclass(frozen=True)
class PlanSubnet:
    id: str
    name: str
    vpc: str
    cidr: str
    az: str
    router_ip: str  # subnet base + 1: the VPC router, every host's gateway


@dataclass(frozen=True)
class PlanNaclEntry:
    """One network ACL rule in EC2's NetworkAclEntry shape."""

    rule_number: int  # 1-32766; 32767 is the final `*` deny, listed as AWS lists it
    egress: bool  # outbound (leaving the subnet) when true
    protocol: int  # IANA number; -1 all
    rule_action: Literal["allow", "deny"]
    cidr: str
    from_port: int = 0  # tcp/udp only; 0-65535 otherwise
    to_port: int = 65535


@dataclass(frozen=True)
class PlanNetworkAcl:
    id: str  # acl- + 17 hex
    name: str  # "default" for the VPC's default ACL
    vpc: str
    is_default: bool
    subnets: tuple[str, ...]  # subnet ids associated with it
    entries: tuple[PlanNaclEntry, ...]  # inbound then outbound, each by rule number


@dataclass(frozen=True)
class PlanFlowLog:
    """One flow log (EC2 DescribeFlowLogs shape); the ENIs it covers are those of
    its resource in `Plan.enis` (see fabric.flowlog.flow_log_setup)."""

    id: str  # fl- + 17 hex
    name: str
    vpc: str
    resource_type: Literal["VPC", "Subnet", "NetworkInterface"]
    resource: str  # the VPC's name, a subnet name, or a host name (its ENIs)
    log_format: str  # as AWS shows it: `${version} ${account-id} ...`
    fields: tuple[str, ...]
    max_aggregation_interval: int


@dataclass(frozen=True)
class PlanVpc:
    id: str
    name: str
    account_id: str
    cidr: str
    dns_ip: str  # VPC base + 2 (the resolver also answers at 169.254.169.253)
    subnets: dict[str, PlanSubnet]
    security_groups: dict[str, PlanSecurityGroup]  # by name
    routes: tuple[PlanRoute, ...]
    network_acls: dict[str, PlanNetworkAcl] = field(default_factory=dict)  # by name
    flow_logs: tuple[PlanFlowLog, ...] = ()


@dataclass(frozen=True)
class PlanEni:
    """One elastic network interface.

    A host ENI is a veth pair: `ifname` inside `namespace` (the owner's side,
    `eth0`, `eth1`…) and `fabric_ifname` inside the fabric namespace. `port` is
    the ENI's index in the fabric's port list (frames arrive and leave on it);
    virtual ENIs added by later issues (NLB, endpoint) have `port = -1`.
    """

    id: str
    kind: EniKind
    owner: str  # host name for kind "host"
    description: str
    vpc: str
    subnet: str
    az: str
    ip: str
    prefixlen: int
    mac: str  # owner side
    fabric_mac: str  # fabric side: the MAC of "the VPC router" as seen by this ENI
    security_groups: tuple[str, ...]  # sg ids
    source_dest_check: bool
    mtu: int
    namespace: str
    ifname: str
    fabric_ifname: str
    port: int


@dataclass(frozen=True)
class PlanServe:
    kind: str  # "echo"
    port: int
    tls: bool = False  # HTTPS, presenting the host's `certificate`


@dataclass(frozen=True)
class PlanCertificate:
    """What the runtime issues for a host's TLS servers (written to <state>/certs/)."""

    names: tuple[str, ...]  # resolved: the host's private DNS name and IP unless written
    issuer: str  # "topology" (the topology's CA) or "self-signed"


@dataclass(frozen=True)
class PlanHost:
    name: str
    vpc: str
    subnet: str
    namespace: str
    hostname: str  # ip-10-0-1-5.ec2.internal (us-east-1) / ip-….<region>.compute.internal
    enis: tuple[str, ...]  # eni ids, eth0 first
    gateway: str  # default route via the subnet router (.1)
    resolv_conf: str  # content of /etc/netns/<namespace>/resolv.conf
    serve: tuple[PlanServe, ...] = ()
    certificate: PlanCertificate | None = None


@dataclass(frozen=True)
class PlanHealthCheck:
    protocol: Literal["tcp", "http"]
    port: int  # resolved: the traffic port unless set
    path: str
    interval: float  # seconds (the topology writes whole ones; tests use fractions)
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str  # HTTP codes: "200", "200,202", "200-299" (spec.healthchecks.matches)


@dataclass(frozen=True)
class PlanTarget:
    id: str  # the instance's ENI owner name for instance targets, the address for ip
    ip: str
    port: int
    az: str
    eni: str | None  # the target's ENI id when it is an ENI of the topology


@dataclass(frozen=True)
class PlanTargetGroup:
    name: str
    arn: str
    protocol: int  # 6 tcp, 17 udp
    port: int
    target_type: Literal["instance", "ip"]
    targets: tuple[PlanTarget, ...]
    health_check: PlanHealthCheck
    preserve_client_ip: bool  # resolved from AWS's per-type default
    proxy_protocol_v2: bool
    unhealthy_connection_termination: bool = True


@dataclass(frozen=True)
class PlanListener:
    arn: str
    protocol: int
    port: int
    target_group: str  # key of PlanLoadBalancer.target_groups
    idle_timeout: int


@dataclass(frozen=True)
class PlanFixedResponse:
    """A `fixed-response` action: the ALB answers itself (2XX, 4XX or 5XX)."""

    status: int
    body: str = ""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class PlanAlbAction:
    """Exactly one of `forward` (a target group of the same ALB) or `fixed_response`."""

    forward: str | None = None
    fixed_response: PlanFixedResponse | None = None


@dataclass(frozen=True)
class PlanAlbConditions:
    """Every kind written must match (AND); the values of one kind are alternatives (OR)."""

    path: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    http_method: tuple[str, ...] = ()
    http_header: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanAlbRule:
    priority: int  # unique per listener; lowest is evaluated first
    conditions: PlanAlbConditions
    action: PlanAlbAction


@dataclass(frozen=True)
class PlanAlbListener:
    port: int  # 0 binds an ephemeral port (tests)
    default_action: PlanAlbAction
    rules: tuple[PlanAlbRule, ...] = ()  # sorted by priority
    protocol: Literal["http"] = "http"


@dataclass(frozen=True)
class PlanLoadBalancer:
    key: str  # "<vpc>/<name>": names are unique per VPC only
    name: str
    id: str  # 16 hex, as in the ARN and DNS name
    arn: str
    vpc: str
    scheme: Literal["internal", "internet-facing"]
    dns_name: str  # <name>-<16 hex>.elb.<region>.amazonaws.com
    cross_zone: bool
    enis: tuple[str, ...]  # one per subnet, in the file's subnet order
    listeners: tuple[PlanListener, ...]
    target_groups: dict[str, PlanTargetGroup]
    kind: Literal["nlb", "alb"] = "nlb"
    security_groups: tuple[str, ...] = ()  # its ENIs' groups (an NLB may have none)
    idle_timeout: int = 350
    alb_listeners: tuple[PlanAlbListener, ...] = ()
    """ALB only: listeners with rules and actions."""
    enforce_sg_inbound_on_privatelink: bool = True
    """NLB with groups: EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic (on)."""


@dataclass(frozen=True)
class PlanEndpointService:
    key: str  # "<vpc>/<name>"
    id: str  # vpce-svc-…
    name: str
    service_name: str  # com.amazonaws.vpce.<region>.vpce-svc-…
    vpc: str
    account_id: str
    load_balancer: str  # PlanLoadBalancer.key
    acceptance_required: bool
    allowed_principals: tuple[str, ...]
    private_dns_name: str | None


@dataclass(frozen=True)
class PlanEndpoint:
    key: str  # "<vpc>/<name>"
    id: str  # vpce-…
    name: str
    vpc: str
    account_id: str
    service: str  # PlanEndpointService.key, or "execute-api"
    service_name: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]  # sg ids
    enis: tuple[str, ...]
    dns_names: tuple[str, ...]  # regional name first, then one per AZ
    private_dns: bool
    private_dns_names: tuple[str, ...]  # names that resolve to the ENIs inside this VPC only
    state: Literal["available", "pendingAcceptance", "rejected"]  # at `up`
    ingress_enis: tuple[str, ...] = ()
    """execute-api endpoints: one virtual ENI per AZ in API Gateway's VPC whose address
    is the source of this endpoint's traffic there (empty for NLB-backed services,
    whose traffic comes from the NLB nodes)."""


@dataclass(frozen=True)
class PlanApiGateway:
    """API Gateway's own account and VPC, created when the file has APIs."""

    vpc: str  # key of Plan.vpcs ("apigateway")
    account_id: str
    host: str  # key of Plan.hosts: the data plane's namespace
    eni: str
    ip: str
    ports: tuple[int, ...]  # 443 (TLS) and 80
    public_eni: str = ""  # the regional front in the "internet" VPC (virtual)
    public_ip: str = ""


@dataclass(frozen=True)
class PlanIntegrationTarget:
    """One place a VPC link V2 integration connects: `address:port` is the link's front
    in API Gateway's VPC (the fabric translates it to the load balancer or instance)."""

    address: str
    port: int
    host: str = ""  # the load balancer's DNS name or the instance id (TLS server name)
    kind: Literal["alb", "nlb", "instance"] = "alb"
    attributes: dict[str, str] = field(default_factory=dict)  # Cloud Map attributes
    healthy: bool = True


@dataclass(frozen=True)
class PlanIntegration:
    type: str  # HTTP_PROXY, HTTP, MOCK
    connection_type: str  # INTERNET, VPC_LINK
    connection_id: str | None  # a vpc link id, or ${stageVariables.x}
    uri: str | None  # may hold ${stageVariables.x} and {param}
    timeout_ms: int
    mock_status: int = 200
    mock_body: str = ""
    overwrite_path: str | None = None  # HTTP APIs: the `overwrite:path` parameter mapping
    integration_target: str | None = None  # REST over a V2 link: <vpc>/<lb>
    targets: tuple[PlanIntegrationTarget, ...] = ()
    """Over a VPC link V2: the backends this integration reaches (several for a Cloud Map
    service; the uri's `?attr=value` filters pick among them per stage)."""
    tls_skip_verification: bool = False
    """REST tlsConfig.insecureSkipVerification: any issuer; expiry and host name checked."""
    tls_server_name: str | None = None
    """HTTP API private integrations, tlsConfig.serverNameToVerify: HTTPS to the target,
    this name sent (SNI) and verified."""


@dataclass(frozen=True)
class PlanApiRoute:
    method: str
    path: str
    integration: PlanIntegration


@dataclass(frozen=True)
class PlanVpcLink:
    id: str  # 6 lower-case alphanumerics, as AWS's
    name: str
    target: str  # PlanLoadBalancer.key
    endpoint_service: str  # PlanEndpointService.key (in the target's VPC)
    endpoint: str  # PlanEndpoint.key (in API Gateway's VPC)
    status: str  # AVAILABLE once up
    address: str = ""  # the endpoint's first ENI: where the data plane connects


@dataclass(frozen=True)
class PlanStage:
    name: str
    variables: dict[str, str] = field(default_factory=dict)  # vpc link names resolved to ids


@dataclass(frozen=True)
class PlanPolicyStatement:
    """One resource-policy statement, as the data plane evaluates it (spec/apipolicy.py).

    Every condition present must hold (AND); the values of one condition are ORed.
    `resources` are execute-api ARN patterns (`*` any run). IAM's operators: source_vpce
    and source_vpc StringEquals, not_source_vpce StringNotEquals (true when the key is
    absent), source_ip / vpc_source_ip IpAddress over CIDRs (false when absent)."""

    effect: Literal["Allow", "Deny"]
    resources: tuple[str, ...]
    source_vpce: tuple[str, ...] = ()  # vpce- ids (aws:SourceVpce)
    not_source_vpce: tuple[str, ...] = ()
    source_vpc: tuple[str, ...] = ()  # vpc- ids (aws:SourceVpc)
    source_ip: tuple[str, ...] = ()  # CIDRs (aws:SourceIp)
    vpc_source_ip: tuple[str, ...] = ()  # CIDRs (aws:VpcSourceIp)


@dataclass(frozen=True)
class PlanApi:
    id: str  # 10 lower-case alphanumerics
    name: str
    type: Literal["rest", "http"]
    endpoint: Literal["regional", "private"]
    account_id: str
    arn_prefix: str  # arn:aws:execute-api:<region>:<account>:<id>
    hostname: str  # <id>.execute-api.<region>.amazonaws.com
    policy: tuple[PlanPolicyStatement, ...] | None  # with real ids; None: no policy
    stages: dict[str, PlanStage]
    routes: tuple[PlanApiRoute, ...]
    vpc_links: dict[str, PlanVpcLink]  # REST (V1) links, by id
    vpc_endpoint_ids: tuple[str, ...] = ()
    """Private REST APIs: the associated execute-api endpoints' vpce ids (vpcEndpointIds);
    only these have an `<api-id>-<vpce-id>.execute-api…` name."""

    @property
    def http(self) -> bool:
        return self.type == "http"

    @property
    def private(self) -> bool:
        return self.endpoint == "private"


@dataclass(frozen=True)
class PlanLinkTarget:
    """One backend an HTTP API reaches through a VPC link, at `port` of the link's front."""

    port: int  # on the link's front address in API Gateway's VPC
    kind: Literal["nlb", "alb", "instance"]
    key: str  # load balancer key, or cloud_map/<namespace>/<service>/<instance>
    ip: str  # ALB ENI / instance address ("" for an NLB: the fabric picks the node)
    dport: int  # listener or instance port
    az: str
    host: str  # Host header API Gateway sends (the load balancer's DNS name, or the instance)
    attributes: dict[str, str] = field(default_factory=dict)
    healthy: bool = True


@dataclass(frozen=True)
class PlanVpcLinkV2:
    """A VPC link for HTTP APIs: Hyperplane ENIs in the customer's subnets (VPC-to-VPC NAT).

    API Gateway connects to `front_ip:<target port>` in its own VPC; the fabric
    sends the flow out of the link ENI in the target's AZ (source rewritten to that
    ENI's address, the link's security groups as egress) to the target."""

    id: str
    name: str
    api: str  # api id
    vpc: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]  # sg ids
    enis: tuple[str, ...]
    front_eni: str
    front_ip: str
    targets: tuple[PlanLinkTarget, ...]
    status: str = "AVAILABLE"
    by_uri: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Integration uri -> the front ports of its targets (several for a Cloud Map service)."""

    @property
    def address(self) -> str:
        return self.front_ip


@dataclass(frozen=True)
class PlanCloudMapNamespace:
    type: Literal["dns_private", "http"]
    vpc: str | None  # dns_private: the VPC whose resolver answers its names


@dataclass(frozen=True)
class PlanCloudMapInstance:
    ip: str  # a host's ENI address, resolved
    port: int
    attributes: dict[str, str] = field(default_factory=dict)
    health: str = "healthy"


@dataclass(frozen=True)
class PlanCloudMapService:
    name: str
    namespace: str
    instances: dict[str, PlanCloudMapInstance] = field(default_factory=dict)  # by instance id


@dataclass(frozen=True)
class PlanCloudMap:
    namespaces: dict[str, PlanCloudMapNamespace] = field(default_factory=dict)
    services: dict[str, PlanCloudMapService] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanSettings:
    conntrack_max: int
    flow_log_interval: int
    mtu: int
    backend_trusted_cas: tuple[str, ...] = ()  # extra CAs for HTTPS integrations (absolute)


PLAN_VERSION = 1


@dataclass(frozen=True)
class Plan:
    version: int
    name: str  # topology name
    region: str
    accounts: dict[str, str]  # key -> account id
    prefix: str  # "he-<name>-": every kernel object of this topology starts with it
    fabric_namespace: str  # "he-<name>-fabric"
    vpcs: dict[str, PlanVpc]
    hosts: dict[str, PlanHost]
    enis: tuple[PlanEni, ...]  # ENIs with a port first, in port order; then virtual ones
    settings: PlanSettings
    source: str = ""
    load_balancers: dict[str, PlanLoadBalancer] = field(default_factory=dict)
    endpoint_services: dict[str, PlanEndpointService] = field(default_factory=dict)
    endpoints: dict[str, PlanEndpoint] = field(default_factory=dict)
    api_gateway: PlanApiGateway | None = None
    apis: dict[str, PlanApi] = field(default_factory=dict)  # by api id
    vpc_links_v2: dict[str, PlanVpcLinkV2] = field(default_factory=dict)  # by link id
    cloud_map: PlanCloudMap = field(default_factory=PlanCloudMap)
    extras: dict[str, object] = field(default_factory=dict)
    """Reserved for later issues until they get typed fields."""

    def eni(self, eni_id: str) -> PlanEni:
        for e in self.enis:
            if e.id == eni_id:
                return e
        raise KeyError(eni_id)

    def security_group(self, sg_id: str) -> PlanSecurityGroup:
        for v in self.vpcs.values():
            for sg in v.security_groups.values():
                if sg.id == sg_id:
                    return sg
        raise KeyError(sg_id)
