"""The shape of a topology file, for docs/reference.md: which mapping sits where,
which spec tuple lists its keys, which model class it fills.

Only what the code cannot say is written here (a shape that differs from the
model's, a default the loader computes); ranges and limits are the spec's own
constants, interpolated. `reference.verify` checks this tree against the
loader on every generation, so a key added to the loader and not here (or the
reverse) stops `scripts/docs` and fails the unit test.
"""

from __future__ import annotations

from hyperplane_emu.docsgen.sections import Key, Section
from hyperplane_emu.spec import (
    alb,
    albrules,
    albtargets,
    apiintegrations,
    apilinks,
    apiroutes,
    apis,
    cloudmap,
    flowlogs,
    healthchecks,
    loadbalancers,
    nacls,
    names,
    net,
    onprem,
    privatelink,
    targetgroups,
)
from hyperplane_emu.spec import model as m
from hyperplane_emu.spec.loader import DEFAULT_ACCOUNT_ID, SETTINGS_RANGES


def _range(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]}..{bounds[1]}"


_NAME = f"`{names.NAME.pattern}`, ≤ {names.NAME_MAX} characters"
_VPC = "vpcs.<vpc>"
_LB = f"{_VPC}.load_balancers.<lb>"
_ALB_LISTENER = f"{_LB}.listeners[]"
_TG = f"{_LB}.target_groups.<target_group>"
_API = "apis.<api>"
_SG_LIST = "list of group names of this VPC"

TOP = Section(
    pattern="",
    title="the file",
    keys=("loader.CORE_KEYS", "sections.TOPOLOGY_SECTIONS"),
    model=m.Topology,
    required=(("name", "region", "vpcs"),),
    docs={
        "name": Key(
            f"The topology's name, `{names.NAME.pattern}`, ≤ {names.TOPOLOGY_NAME_MAX} "
            "characters: every kernel object is `he-<name>-…`."
        ),
        "region": Key("An AWS-shaped region name (`us-east-1`); AZs are this plus a letter."),
        "accounts": Key(
            'Quote the ids (`"111122223333"`): unquoted, YAML reads a number.',
            default=f'`{{customer: "{DEFAULT_ACCOUNT_ID}"}}`',
            values="mapping of name -> quoted 12-digit string",
        ),
        "settings": Key("Emulator knobs with no AWS counterpart."),
        "vpcs": Key("VPC name -> VPC; at least one.", values=f"mapping; names {_NAME}"),
        "cloud_map": Key("AWS Cloud Map namespaces and services (top level, any position)."),
        "apis": Key("API Gateway APIs, name -> API.", values=f"mapping; names {_NAME}"),
        "on_premises": Key("A data centre joined to VPCs through a virtual private gateway."),
    },
)

SETTINGS = Section(
    pattern="settings",
    title="emulator settings",
    keys=("loader.SETTINGS_KEYS",),
    model=m.Settings,
    docs={
        "conntrack_max": Key(
            "Tracked flows in the fabric; when full, new flows are dropped and counted.",
            values=_range(SETTINGS_RANGES["conntrack_max"]),
        ),
        "flow_log_interval": Key(values=_range(SETTINGS_RANGES["flow_log_interval"]) + " s"),
        "mtu": Key("ENI MTU (AWS: 9001 inside a VPC).", values=_range(SETTINGS_RANGES["mtu"])),
        "backend_trusted_cas": Key(
            "CA certificates API Gateway trusts for HTTPS integrations besides the "
            "topology's CA: stand-ins for the public CAs a real backend's certificate "
            "chains to on AWS.",
            values="PEM files, relative to the topology file",
        ),
    },
)

VPC = Section(
    pattern=_VPC,
    title="VPC",
    keys=("vpcs.CORE_KEYS", "sections.VPC_SECTIONS"),
    model=m.Vpc,
    required=(("cidr",),),
    docs={
        "cidr": Key(
            "The VPC's IPv4 block; VPCs may overlap each other (no peering).",
            values=f"CIDR /{net.VPC_PREFIXES[0]} to /{net.VPC_PREFIXES[1]}, host bits zero",
        ),
        "account": Key(default="`customer`", values="a key of `accounts`"),
        "subnets": Key("Subnet name -> subnet.", values="mapping"),
        "security_groups": Key("Group name -> group.", values="mapping"),
        "hosts": Key(
            "Host name -> instance; host names are unique in the whole topology (each is "
            "the namespace `he-<topology>-<host>`).",
            values="mapping",
        ),
        "load_balancers": Key("Name -> Network or Application Load Balancer.", values="mapping"),
        "endpoint_services": Key("Name -> PrivateLink endpoint service.", values="mapping"),
        "endpoints": Key("Name -> interface VPC endpoint.", values="mapping"),
        "flow_logs": Key(
            "VPC Flow Logs on the VPC, a subnet or a host's ENI, in AWS's formats.",
            values="list",
        ),
        "network_acls": Key(
            "Name -> network ACL (stateless, numbered rules at subnet boundaries); "
            "`default` is the VPC's default ACL.",
            values="mapping",
        ),
    },
)

FLOW_LOG = Section(
    pattern=f"{_VPC}.flow_logs[]",
    title="flow log",
    keys=("flowlogs.FLOW_LOG_KEYS",),
    model=m.FlowLog,
    required=(("name", "resource"),),
    intro="Without any, every ENI still gets the default-format log (`flow-logs`); a "
    "flow log written here also gets NODATA records for windows without traffic.",
    docs={
        "name": Key("Unique in the VPC.", values=_NAME),
        "resource": Key(values="`vpc` | `subnet/<subnet>` | `host/<host>`"),
        "format": Key(
            "Custom format: `${field}` separated by single spaces, AWS's v2-v5 field names; "
            "`version` is the highest version among them. Overlapping flow logs share it.",
            default="AWS's default (version 2)",
            values="string",
        ),
        "max_aggregation_interval": Key(
            "A maximum: records come every `settings.flow_log_interval` when that is shorter.",
            values=" | ".join(f"`{i}`" for i in flowlogs.INTERVALS) + " s",
        ),
    },
)

NACL = Section(
    pattern=f"{_VPC}.network_acls.<acl>",
    title="network ACL",
    keys=("nacls.ACL_KEYS",),
    model=m.NetworkAcl,
    intro="Subnets no ACL names stay with the default ACL, which allows everything both ways "
    "unless an ACL named `default` is written (its rules then replace the allow-all).",
    docs={
        "subnets": Key(
            "Subnets associated with it; a subnet with one ACL at most. Not on `default`.",
            default="none",
            values="list of subnet names",
        ),
        "inbound": Key(
            "Rules for traffic entering the subnet; none written means all is denied.",
            values="list",
        ),
        "outbound": Key(
            "Rules for traffic leaving the subnet (replies too: ACLs are stateless).",
            values="list",
        ),
    },
)

NACL_RULE = Section(
    pattern=f"{_VPC}.network_acls.<acl>.<direction>[]",
    title="network ACL rule (`inbound` / `outbound` item)",
    keys=("nacls.RULE_KEYS",),
    model=m.NaclRule,
    required=(("rule", "action", "protocol", "cidr"),),
    intro="Ascending rule number, first match wins; nothing matched: the final `*` deny.",
    docs={
        "rule": Key(
            "Rule number, unique per direction.",
            values=f"{_range(nacls.RULE_NUMBERS)}",
        ),
        "action": Key("What a matching packet gets.", values="`allow` | `deny`"),
        "protocol": Key(
            "A name or an IANA protocol number; protocols other than tcp and udp match every port.",
            values="`tcp` | `udp` | `icmp` | `all` | 0..255",
        ),
        "port": Key(
            "Destination port range; required for tcp and udp, refused otherwise.",
            field="",
            values="integer or inclusive range `a-b`",
        ),
        "cidr": Key(
            "Matched against the source (inbound) or destination (outbound).",
            values="CIDR, host bits zero",
        ),
    },
)

SUBNET = Section(
    pattern=f"{_VPC}.subnets.<subnet>",
    title="subnet",
    keys=("=cidr,az",),
    model=m.Subnet,
    required=(("cidr", "az"),),
    intro="The first four addresses and the last are reserved, as on AWS.",
    docs={
        "cidr": Key(
            "Inside the VPC, overlapping no other subnet.",
            values=f"CIDR /{net.VPC_PREFIXES[0]} to /{net.VPC_PREFIXES[1]}",
        ),
        "az": Key("Availability zone: the region plus one letter (`us-east-1a`).", values="string"),
    },
)

GROUP = Section(
    pattern=f"{_VPC}.security_groups.<group>",
    title="security group",
    keys=("secgroups.GROUP_KEYS",),
    model=m.SecurityGroup,
    docs={
        "description": Key("Free text.", values="string ≤ 255 characters"),
        "ingress": Key("Inbound rules; none written means none.", values="list"),
        "egress": Key(
            default="all traffic to `0.0.0.0/0`",
            values="list",
            text="Written: only the rules listed (`[]` allows nothing out).",
        ),
    },
)

RULE = Section(
    pattern=f"{_VPC}.security_groups.<group>.<direction>[]",
    title="security group rule (`ingress` / `egress` item)",
    keys=("=protocol,port,source,destination,description",),
    model=m.SgRule,
    intro="At most 60 per direction (the AWS quota); a repeated rule is an error.",
    docs={
        "protocol": Key("Rules for icmp match every ICMP type.", default="`tcp`"),
        "port": Key(
            "Required for tcp and udp, refused for icmp and all.",
            values="integer or inclusive range `a-b`",
        ),
        "source": Key("Ingress only: the peer, a CIDR or `sg/<group>` of this VPC.", field="peer"),
        "destination": Key(
            "Egress only: the peer, a CIDR or `sg/<group>` of this VPC.", field="peer"
        ),
        "description": Key("Free text.", values="string ≤ 255 characters"),
    },
)

HOST = Section(
    pattern=f"{_VPC}.hosts.<host>",
    title="host (instance)",
    keys=("hosts.HOST_KEYS",),
    model=m.Host,
    required=(("subnet",),),
    docs={
        "subnet": Key("The subnet of its ENI `eth0`.", values="a subnet of this VPC"),
        "security_groups": Key(
            "Groups of its ENI; `[]` or absent is the VPC's `default` group.",
            default="`[default]`",
            values=_SG_LIST,
        ),
        "serve": Key(
            "Built-in servers to start in the host's namespace (`echo` answers with the "
            "source address and headers it saw); `echo+tls` serves HTTPS with the "
            "host's `certificate`.",
            values="`echo:<port>`, `echo+tls:<port>` or a list of them",
        ),
        "certificate": Key(
            "The certificate its `echo+tls` servers present; only with one.",
            default="issued by the topology's CA for the private DNS name and IP",
            values="mapping",
        ),
        "private_ip": Key(
            "Fixed address; else the next free one.",
            values="an address of the subnet, not a reserved one",
        ),
        "source_dest_check": Key("Drop frames not from/to the ENI's own address, as AWS does."),
    },
)

HOST_CERTIFICATE = Section(
    pattern=f"{_VPC}.hosts.<host>.certificate",
    title="host certificate (for `echo+tls`)",
    keys=("hosts.CERTIFICATE_KEYS",),
    model=m.HostCertificate,
    intro="Written to the state directory (mode 0600) at `up`; API Gateway's backend "
    "TLS checks judge it (tls_config).",
    docs={
        "names": Key(
            "Subject alternative names; the first is the CN.",
            default="the host's private DNS name and IP",
            values="DNS names (`*.` allowed) or IP addresses",
        ),
        "issuer": Key(
            "`topology`: the topology's CA, which API Gateway and the hosts trust; "
            "`self-signed`: chains to nothing (API Gateway refuses it unless "
            "`insecure_skip_verification`).",
            default="`topology`",
            values="`topology`, `self-signed`",
        ),
    },
)

NLB = Section(
    pattern=_LB,
    title="Network Load Balancer (`type: network`)",
    keys=("loadbalancers.LB_KEYS",),
    model=m.LoadBalancer,
    required=(("subnets",),),
    intro=f"Names {_NAME}, not starting with `{loadbalancers.RESERVED_LB_PREFIX}`, unique "
    "per account. Without `security_groups` its ENIs have none (the classic behaviour).",
    docs={
        "type": Key(
            "AWS's default is `application`, so a file says which kind it means.",
            default="required",
            values="`network` | `application`",
        ),
        "scheme": Key(
            default="`internal`", text="AWS defaults to internet-facing; the emulator to internal."
        ),
        "subnets": Key("At most one per AZ.", values="list of subnet names"),
        "cross_zone": Key(),
        "security_groups": Key(
            "Groups of its ENIs (AWS since August 2023): inbound rules judge clients at the "
            "listeners, outbound rules what leaves for targets (health checks too); targets' "
            "groups may name them. Only at creation: `apply` refuses adding groups to an NLB "
            "that had none.",
            default="none",
            values=f"{_SG_LIST}, at most {alb.MAX_SECURITY_GROUPS}",
        ),
        loadbalancers.ENFORCE_PRIVATELINK: Key(
            "Needs `security_groups`. `off`: PrivateLink traffic skips the inbound rules.",
            field="enforce_sg_inbound_on_privatelink",
            default="`on`",
            values="`on` | `off`",
        ),
        "listeners": Key(f"At most {loadbalancers.MAX_LISTENERS}.", values="list"),
        "target_groups": Key("Name -> target group; names unique per account.", values="mapping"),
    },
)

ALB = Section(
    pattern=_LB,
    title="Application Load Balancer (`type: application`)",
    keys=("alb.ALB_KEYS",),
    refused=("alb.NLB_ONLY_KEYS",),
    model=m.LoadBalancer,
    required=(("subnets",),),
    intro="Same names as NLBs (one namespace per account). ENIs with security groups.",
    docs={
        "type": Key("`application` here.", default="required", values="`network` | `application`"),
        "scheme": Key("As for NLBs: internal unless written.", default="`internal`"),
        "subnets": Key(
            f"At least {alb.MIN_ZONES}, in different AZs; one ALB ENI in each.",
            field="",
            values="list of subnet names",
        ),
        "security_groups": Key(
            default="`[default]`", values=f"{_SG_LIST}, at most {alb.MAX_SECURITY_GROUPS}"
        ),
        "idle_timeout": Key(values=f"{_range(alb.IDLE_TIMEOUT)} s"),
        "listeners": Key(
            f"At most {alb.MAX_LISTENERS}, one per port.", field="alb_listeners", values="list"
        ),
        "target_groups": Key("Name -> target group (http).", values="mapping"),
    },
)

NLB_LISTENER = Section(
    pattern=f"{_LB}.listeners[]",
    title="NLB listener",
    keys=("loadbalancers.LISTENER_KEYS",),
    model=m.Listener,
    required=(("port", "target_group"),),
    intro="One per protocol and port; a tcp and a udp listener on one port stand for TCP_UDP.",
    docs={
        "port": Key("The port clients connect to.", values="1..65535"),
        "protocol": Key("TLS and TCP_UDP are not emulated.", default="`tcp`"),
        "target_group": Key(
            "The target group it forwards to (same protocol).",
            values="a target group of this load balancer",
        ),
        "idle_timeout": Key(
            "Only for tcp listeners; udp flows are fixed at "
            f"{loadbalancers.UDP_IDLE_TIMEOUT} s by AWS.",
            values=f"{_range(loadbalancers.IDLE_TIMEOUT)} s",
        ),
    },
)

ALB_LISTENER = Section(
    pattern=_ALB_LISTENER,
    title="ALB listener",
    keys=("alb.LISTENER_KEYS",),
    refused=("alb.LISTENER_NLB_KEYS",),
    model=m.AlbListener,
    required=(("port",),),
    docs={
        "port": Key("The port clients connect to.", values="1..65535"),
        "protocol": Key(default="`http`", text="HTTPS is not emulated (no certificates)."),
        "default_action": Key(
            "What a request no rule matches gets; this or `target_group` is required."
        ),
        "target_group": Key(
            "Short for `default_action: {forward: <target group>}`.",
            field="",
            values="a target group of this ALB",
        ),
        "rules": Key(
            f"Evaluated by priority, lowest first; at most {alb.MAX_RULES} per load balancer.",
            values="list",
        ),
    },
)

ACTION = Section(
    pattern=f"{_ALB_LISTENER}.default_action",
    also=(f"{_ALB_LISTENER}.rules[].action",),
    title="ALB action",
    keys=("albrules.ACTION_KEYS",),
    refused=("albrules.ACTIONS_NOT_EMULATED",),
    model=m.AlbAction,
    docs={
        "forward": Key("Send to a target group.", values="a target group of this ALB"),
        "fixed_response": Key("The ALB answers itself."),
    },
)

FIXED = Section(
    pattern=f"{_ALB_LISTENER}.default_action.fixed_response",
    also=(f"{_ALB_LISTENER}.rules[].action.fixed_response",),
    title="fixed response",
    keys=("albrules.FIXED_KEYS",),
    model=m.FixedResponse,
    required=(("status",),),
    docs={
        "status": Key("HTTP status of the answer.", values="2XX, 4XX or 5XX"),
        "body": Key("Body of the answer.", values=f"string ≤ {albrules.BODY_MAX} characters"),
        "content_type": Key(
            "Its Content-Type.", values=" | ".join(f"`{t}`" for t in albrules.CONTENT_TYPES)
        ),
    },
)

RULE_ALB = Section(
    pattern=f"{_ALB_LISTENER}.rules[]",
    title="ALB listener rule",
    keys=("albrules.RULE_KEYS",),
    model=m.AlbRule,
    required=(("priority", "conditions"),),
    docs={
        "priority": Key(values=_range(albrules.PRIORITY)),
        "conditions": Key(),
        "action": Key("This or `target_group` is required."),
        "target_group": Key(
            "Short for `action: {forward: <target group>}`.",
            field="",
            values="a target group of this ALB",
        ),
    },
)

CONDITIONS = Section(
    pattern=f"{_ALB_LISTENER}.rules[].conditions",
    title="ALB rule conditions",
    keys=("albrules.CONDITION_KEYS",),
    refused=("albrules.CONDITIONS_NOT_EMULATED",),
    model=m.AlbConditions,
    intro=f"At least one kind. At most {albrules.VALUES_PER_CONDITION} values per condition, "
    f"{albrules.VALUES_PER_RULE} per rule, {albrules.WILDCARDS_PER_RULE} wildcards per rule.",
    docs={
        "path": Key(
            "path-pattern, matched against the path only.",
            values=f"list of patterns ≤ {albrules.PATTERN_MAX} characters",
        ),
        "host": Key("host-header.", values=f"list of patterns ≤ {albrules.PATTERN_MAX} characters"),
        "http_method": Key(
            "http-request-method, exact.",
            values=f"list of methods ≤ {albrules.METHOD_MAX} characters `A-Z_-`",
        ),
        "http_header": Key("Header name -> values.", values="mapping of name -> list"),
    },
)

NLB_TG = Section(
    pattern=_TG,
    title="NLB target group",
    keys=("targetgroups.TG_KEYS",),
    model=m.TargetGroup,
    required=(("port",),),
    docs={
        "protocol": Key(
            "The protocol targets receive.",
            field="",
            default="`tcp`",
            values=" | ".join(f"`{p}`" for p in targetgroups.TG_PROTOCOLS),
        ),
        "port": Key("The port targets receive traffic on.", values="1..65535"),
        "target_type": Key(
            "`instance`: hosts, reached at their own address; `ip`: addresses.",
            default="`instance`",
        ),
        "targets": Key(
            "`instance`: hosts of this VPC (`app1`); `ip`: addresses in the VPC (`10.0.1.20`) "
            "or host names (their address).",
            values="list of names/addresses or mappings",
        ),
        "preserve_client_ip": Key(
            "Targets see the client's own address as source (else the NLB's).",
            default="on for instance targets and UDP, off for ip targets with TCP",
        ),
        "proxy_protocol_v2": Key(
            "Insert a proxy protocol v2 header at the start of each TCP connection to a "
            "target (client address, listener address; over PrivateLink the VPC endpoint "
            "id in TLV 0xEA); health checks send the LOCAL command."
        ),
        "unhealthy_connection_termination": Key(
            "AWS's target_health_state.unhealthy.connection_termination.enabled: when a "
            "target turns unhealthy, the NLB answers the next packet of each of its "
            "connections with a TCP RST (not while failing open)."
        ),
        "health_check": Key(),
    },
)

ALB_TG = Section(
    pattern=_TG,
    title="ALB target group",
    keys=("albtargets.TG_KEYS",),
    refused=("albtargets.NLB_ONLY_KEYS",),
    model=m.TargetGroup,
    model_intro=False,
    required=(("port",),),
    docs={
        "protocol": Key(
            "The protocol targets receive.",
            field="",
            default="`http`",
            values=" | ".join(f"`{p}`" for p in albtargets.TG_PROTOCOLS),
        ),
        "port": Key("The port targets receive traffic on.", values="1..65535"),
        "target_type": Key("As for NLBs.", default="`instance`"),
        "targets": Key("Same forms as NLB targets.", values="list of names/addresses or mappings"),
        "health_check": Key(),
    },
)

TARGET = Section(
    pattern=f"{_TG}.targets[]",
    title="target written as a mapping",
    keys=("=host,port,ip",),
    model=m.Target,
    required=(("host",), ()),
    intro="A target is a name or an address, or this mapping to give it its own port.",
    docs={
        "host": Key("A host of this VPC; required unless `ip` is written."),
        "ip": Key("An address in the VPC, not reserved (target type `ip`)."),
        "port": Key(
            "This target's own port.", default="the target group's port", values="1..65535"
        ),
    },
)

NLB_CHECK = Section(
    pattern=f"{_TG}.health_check",
    title="NLB health check",
    keys=("healthchecks.HEALTH_KEYS",),
    model=m.HealthCheck,
    docs={
        "protocol": Key(
            "How a target is probed: a TCP connect, or an HTTP GET of `path`.",
            values=" | ".join(f"`{p}`" for p in healthchecks.NLB.protocols),
        ),
        "port": Key(
            "The port probed; `traffic-port` is each target's own.",
            default=f"`{healthchecks.TRAFFIC_PORT}`",
            values=f"1..65535 or `{healthchecks.TRAFFIC_PORT}`",
        ),
        "path": Key(
            "The path probed, http checks only.",
            values=f"string ≤ {healthchecks.PATH_MAX} characters",
        ),
        "interval": Key(
            "Seconds between checks (AWS allows 5 at least).",
            values=f"{_range(healthchecks.INTERVAL)} s",
        ),
        "timeout": Key(
            "Seconds a probe may take.",
            default=f"`{healthchecks.NLB.timeouts['tcp']}` (tcp), "
            f"`{healthchecks.NLB.timeouts['http']}` (http), at most the interval",
            values=f"{_range(healthchecks.TIMEOUT)} s, ≤ interval",
        ),
        "healthy_threshold": Key(
            "Successes in a row to become healthy.", values=_range(healthchecks.THRESHOLD)
        ),
        "unhealthy_threshold": Key(
            "Failures in a row to become unhealthy.", values=_range(healthchecks.THRESHOLD)
        ),
        "matcher": Key(
            "Only for http checks.",
            values="codes {}-{}: `200`, `200,202`, `200-299`".format(
                *healthchecks.NLB.matcher_codes
            ),
        ),
    },
)

ALB_CHECK = Section(
    pattern=f"{_TG}.health_check",
    title="ALB health check",
    keys=("healthchecks.HEALTH_KEYS",),
    model=m.HealthCheck,
    defaults=healthchecks.ALB.default(),
    model_intro=False,
    intro="Always HTTP.",
    docs={
        "protocol": Key(
            "TCP checks are for NLBs.",
            values=" | ".join(f"`{p}`" for p in healthchecks.ALB.protocols),
        ),
        "port": Key(
            "The port probed; `traffic-port` is each target's own.",
            default=f"`{healthchecks.TRAFFIC_PORT}`",
            values=f"1..65535 or `{healthchecks.TRAFFIC_PORT}`",
        ),
        "path": Key("The path probed.", values="string"),
        "interval": Key("Seconds between checks.", values=f"{_range(healthchecks.INTERVAL)} s"),
        "timeout": Key(
            "Seconds a probe may take.",
            default=f"`{healthchecks.ALB.timeouts['http']}`, at most the interval",
            values=f"{_range(healthchecks.TIMEOUT)} s, ≤ interval",
        ),
        "healthy_threshold": Key(
            "Successes in a row to become healthy.", values=_range(healthchecks.THRESHOLD)
        ),
        "unhealthy_threshold": Key(
            "Failures in a row to become unhealthy.", values=_range(healthchecks.THRESHOLD)
        ),
        "matcher": Key(values="codes {}-{}".format(*healthchecks.ALB.matcher_codes)),
    },
)

SERVICE = Section(
    pattern=f"{_VPC}.endpoint_services.<service>",
    title="PrivateLink endpoint service",
    keys=("privatelink.SERVICE_KEYS",),
    model=m.EndpointService,
    required=(("load_balancer",),),
    docs={
        "load_balancer": Key(values="an NLB of this VPC, behind no other service"),
        "acceptance_required": Key("New endpoint connections wait for `accept`."),
        "allowed_principals": Key(
            values="list of quoted account ids, `arn:aws:iam::<id>:root` or `*`"
        ),
        "private_dns_name": Key(
            "The name consumers' endpoints with private DNS resolve.",
            values=f"domain name ≤ {privatelink.DNS_NAME_MAX} characters",
        ),
    },
)

ENDPOINT = Section(
    pattern=f"{_VPC}.endpoints.<endpoint>",
    title="interface VPC endpoint",
    keys=("privatelink.ENDPOINT_KEYS",),
    model=m.Endpoint,
    required=(("service", "subnets"),),
    docs={
        "service": Key(values=f"`{privatelink.EXECUTE_API}` or `<vpc>/<endpoint service>`"),
        "type": Key(
            "The only type emulated.",
            default=f"`{privatelink.ENDPOINT_TYPES[0]}`",
            values=" | ".join(f"`{t}`" for t in privatelink.ENDPOINT_TYPES),
        ),
        "subnets": Key(
            "One endpoint ENI in each, at most one per AZ, in AZs the service's NLB is in.",
            values="list of subnet names",
        ),
        "security_groups": Key(default="`[default]`", values=_SG_LIST),
        "private_dns": Key(default="`true` for execute-api, `false` otherwise"),
    },
)

CLOUD_MAP = Section(
    pattern="cloud_map",
    title="AWS Cloud Map",
    keys=("cloudmap.CLOUD_MAP_KEYS",),
    model=m.CloudMap,
    docs={
        "namespaces": Key("Name -> namespace.", values="mapping"),
        "services": Key(
            "Name -> service; one service name is one service in the file.", values="mapping"
        ),
    },
)

NAMESPACE = Section(
    pattern="cloud_map.namespaces.<namespace>",
    title="Cloud Map namespace",
    keys=("cloudmap.NAMESPACE_KEYS",),
    model=m.CloudMapNamespace,
    required=(("type",),),
    intro="A `dns_private` namespace's name is a domain name; an `http` one's "
    "letters, digits, `. _ -`.",
    docs={
        "type": Key(
            "`dns_private`: names resolved by the VPC's resolver too; `http`: API discovery only."
        ),
        "vpc": Key("Required for dns_private, refused for http.", values="a VPC name"),
    },
)

CM_SERVICE = Section(
    pattern="cloud_map.services.<service>",
    title="Cloud Map service",
    keys=("cloudmap.SERVICE_KEYS",),
    model=m.CloudMapService,
    required=(("namespace",),),
    intro=f"Names are DNS labels joined by dots, ≤ {cloudmap.SERVICE_MAX} characters.",
    docs={
        "namespace": Key(values="a namespace above"),
        "instances": Key("Instance id -> instance; none is a warning.", values="mapping"),
    },
)

INSTANCE = Section(
    pattern="cloud_map.services.<service>.instances.<instance>",
    title="Cloud Map instance",
    keys=("cloudmap.INSTANCE_KEYS",),
    model=m.CloudMapInstance,
    required=(("port",),),
    intro="Exactly one of `host` or `ip`.",
    docs={
        "host": Key("A host of any VPC (its private address)."),
        "ip": Key("An address, not one AWS reserves in a subnet."),
        "port": Key("AWS_INSTANCE_PORT.", values="1..65535"),
        "attributes": Key(
            f"Custom attributes, at most {cloudmap.MAX_ATTRIBUTES}; keys ≤ "
            f"{cloudmap.ATTRIBUTE_KEY_MAX} characters not starting with "
            f"`{cloudmap.RESERVED_ATTRIBUTE_PREFIX}`, values ≤ {cloudmap.ATTRIBUTE_VALUE_MAX}.",
            values="mapping",
        ),
    },
)

ON_PREMISES = Section(
    pattern="on_premises",
    title="on-premises data centre",
    keys=("onprem.KEYS",),
    model=m.OnPremises,
    required=(("cidr", "connected_to", "hosts"),),
    docs={
        "cidr": Key("Must not overlap the VPCs it connects to.", values="CIDR /8 to /28"),
        "connected_to": Key(values="list of VPC names"),
        "hosts": Key(
            "Hosts in the data centre, addresses from the CIDR; not "
            + ", ".join(f"`{n}`" for n in onprem.RESERVED_NAMES)
            + ".",
            values="list of host names",
        ),
    },
)

API = Section(
    pattern=_API,
    title="API Gateway API",
    keys=("apis.API_KEYS",),
    refused=(),
    model=m.Api,
    required=(("type", "stages"),),
    docs={
        "type": Key(
            "WebSocket APIs are not emulated.",
            values=" | ".join(f"`{t}`" for t in apis.API_TYPES),
        ),
        "endpoint": Key(
            "`private` is REST only (HTTP APIs are regional); edge is not emulated.",
            values=" | ".join(f"`{t}`" for t in apis.ENDPOINT_TYPES),
        ),
        "account": Key(values="a key of `accounts`"),
        "policy": Key(
            "Resource policy, REST only: a list of statements, or the short form "
            "`{allow: {…}, deny: {…}}`. Required on a private API (AWS refuses to deploy "
            "one without).",
            values="list or mapping",
        ),
        "vpc_endpoint_ids": Key(
            "Private REST APIs: execute-api endpoints associated with the API "
            "(vpcEndpointIds); only these get the `<api-id>-<vpce-id>.execute-api…` name.",
            default="",
            values="list of `<vpc>/<endpoint>` (execute-api endpoints of this file)",
        ),
        "vpc_links": Key("Name -> VPC link (REST: V1, HTTP: V2).", values="mapping"),
        "stages": Key(
            "A list of names, or name -> stage. `$default` is for HTTP APIs only.",
            values="list or mapping",
        ),
        "routes": Key(
            '`"METHOD /path"` (or `$default`, HTTP APIs) -> route.', default="", values="mapping"
        ),
    },
)

_CONDITION_DOCS = {
    "source_vpce": Key(
        "aws:SourceVpce.", values="`<vpc>/<endpoint>` of an execute-api endpoint, or a `vpce-` id"
    ),
    "not_source_vpce": Key(values="as `source_vpce`"),
    "source_vpc": Key("aws:SourceVpc.", values="VPC names or `vpc-` ids"),
    "source_ip": Key("aws:SourceIp.", values="CIDRs or addresses"),
    "vpc_source_ip": Key(values="CIDRs or addresses"),
    "resources": Key(values='`*` or `"<METHOD> /path"` patterns'),
}

POLICY_SHORT = Section(
    pattern=f"{_API}.policy",
    title="resource policy, short form",
    keys=("apipolicy.SHORT_KEYS",),
    intro="One statement per effect.",
    docs={
        "allow": Key("An Allow statement's conditions.", values="mapping"),
        "deny": Key("A Deny statement's conditions.", values="mapping"),
    },
)

POLICY_CONDITIONS = Section(
    pattern=f"{_API}.policy.<effect>",
    title="resource policy conditions (short form)",
    keys=("apipolicy.CONDITION_KEYS",),
    model=m.PolicyStatement,
    intro="Each a string or a non-empty list; values ORed, keys ANDed.",
    docs=_CONDITION_DOCS,
)

POLICY_STATEMENT = Section(
    pattern=f"{_API}.policy[]",
    title="resource policy statement (list form)",
    keys=("apipolicy.STATEMENT_KEYS",),
    model=m.PolicyStatement,
    required=(("effect",),),
    docs={
        "effect": Key("Case as AWS writes it."),
        **_CONDITION_DOCS,
    },
)

_LINK = f"{_API}.vpc_links.<link>"
REST_LINK = Section(
    pattern=_LINK,
    title="REST VPC link (V1)",
    keys=("apilinks.REST_LINK_KEYS", "apilinks.HTTP_LINK_KEYS"),
    model=m.VpcLink,
    required=(apilinks.REST_LINK_KEYS,),
    intro="An endpoint service on one NLB plus an interface endpoint in API Gateway's "
    "VPC, auto-accepted. The HTTP keys are refused on a REST API.",
    docs={
        "target": Key(
            "The one NLB the link reaches.", values="`<vpc>/<nlb>`, an NLB of the API's account"
        ),
        "vpc": Key("HTTP APIs only."),
        "subnets": Key("HTTP APIs only."),
        "security_groups": Key("HTTP APIs only."),
    },
)

HTTP_LINK = Section(
    pattern=_LINK,
    title="HTTP API VPC link (V2)",
    keys=("apilinks.REST_LINK_KEYS", "apilinks.HTTP_LINK_KEYS"),
    model=m.VpcLink,
    required=(("vpc", "subnets"),),
    intro="Hyperplane ENIs in the VPC's subnets, with the link's groups; API Gateway's "
    "flows leave through them with their source rewritten (VPC-to-VPC NAT).",
    docs={
        "target": Key("REST APIs only."),
        "vpc": Key("Where the link's ENIs are.", values="a VPC of the API's account"),
        "subnets": Key(
            "One link ENI in each (several per AZ are fine).",
            values=f"1 to {apilinks.MAX_LINK_SUBNETS} subnet names of that VPC",
        ),
        "security_groups": Key(
            "Groups of the link's ENIs (their egress decides what the link reaches).",
            default="`[default]`",
            values="group names of that VPC",
        ),
    },
)

STAGE = Section(
    pattern=f"{_API}.stages.<stage>",
    title="stage",
    keys=("apistages.STAGE_KEYS",),
    model=m.Stage,
    intro="Stage names `[A-Za-z0-9_-]`, 1-128 characters (`$default` on HTTP APIs).",
    docs={
        "variables": Key(
            "Stage variables, used as `${stageVariables.<name>}` in `connection_id` and "
            "REST `uri`s.",
            values="mapping of `[A-Za-z0-9_]` names -> values ≤ 512 characters",
        )
    },
)

ROUTE = Section(
    pattern=f"{_API}.routes.<route>",
    title="route",
    keys=("apiroutes.ROUTE_KEYS",),
    model=m.Route,
    required=(apiroutes.ROUTE_KEYS,),
    intro="Methods " + ", ".join(apiroutes.METHODS) + ".",
    docs={"integration": Key("How the route reaches its backend.")},
)

INTEGRATION = Section(
    pattern=f"{_API}.routes.<route>.integration",
    title="integration",
    keys=("apiintegrations.INTEGRATION_KEYS",),
    model=m.Integration,
    refused=(),
    docs={
        "type": Key(
            "HTTP APIs have `HTTP_PROXY` only.",
            default="`HTTP_PROXY` (when a uri or link is written)",
        ),
        "connection_type": Key(
            "Over the internet or through a VPC link.",
            default="`INTERNET`, or `VPC_LINK` with `vpc_link`",
        ),
        "connection_id": Key(),
        "vpc_link": Key(
            "Short for `connection_type: VPC_LINK, connection_id: <link>`; write one form.",
            field="",
            values="a VPC link of this API",
        ),
        "uri": Key(
            values="`http(s)://…`; HTTP API private integrations: `<vpc>/<lb>:<port>` or "
            "`cloud_map/<namespace>/<service>[?attr=value&…]`"
        ),
        "timeout_ms": Key(
            default="`{}` (REST), `{}` (HTTP)".format(
                apiintegrations.DEFAULT_TIMEOUT_MS["rest"],
                apiintegrations.DEFAULT_TIMEOUT_MS["http"],
            ),
            values="REST {}, HTTP {}".format(
                _range(apiintegrations.TIMEOUT_MS["rest"]),
                _range(apiintegrations.TIMEOUT_MS["http"]),
            ),
        ),
        "request_parameters": Key(
            "HTTP APIs' parameter mapping; only `overwrite:path` is emulated.",
            field="",
            values="mapping",
        ),
        "mock_status": Key("MOCK only.", values=_range(apiintegrations.MOCK_STATUS)),
        "mock_body": Key("MOCK only.", values="string"),
        "tls_config": Key(
            "Backend TLS (AWS tlsConfig): REST HTTPS integrations, HTTP API private "
            "integrations (which then speak HTTPS).",
            values="mapping",
        ),
    },
)

TLS_CONFIG = Section(
    pattern=f"{_API}.routes.<route>.integration.tls_config",
    title="backend TLS (tls_config)",
    keys=("apitls.TLS_CONFIG_KEYS",),
    model=m.TlsConfig,
    intro="The backend's certificate must chain to the topology's CA (or one of "
    "`settings.backend_trusted_cas`), be valid and carry the host name; a failure "
    "answers 500 (REST) or 503 (HTTP APIs).",
    docs={
        "insecure_skip_verification": Key(
            "REST only: any issuer (self-signed too); expiry and host name still checked.",
        ),
        "server_name_to_verify": Key(
            "HTTP API private integrations only (required there): HTTPS to the target, this "
            "name sent as SNI and verified.",
            values="a host name",
        ),
    },
)

PARAMETERS = Section(
    pattern=f"{_API}.routes.<route>.integration.request_parameters",
    title="parameter mapping (HTTP APIs)",
    keys=("=overwrite:path",),
    model=m.Integration,
    docs={
        "overwrite:path": Key(
            "The path sent to the backend.",
            field="overwrite_path",
            values="`$request.path`, `$request.path.<name>`, `$stageVariables.<name>` or a "
            "path starting with `/`",
        )
    },
)

TREE: tuple[Section, ...] = (
    TOP,
    SETTINGS,
    VPC,
    SUBNET,
    GROUP,
    RULE,
    HOST,
    HOST_CERTIFICATE,
    FLOW_LOG,
    NACL,
    NACL_RULE,
    NLB,
    NLB_LISTENER,
    NLB_TG,
    TARGET,
    NLB_CHECK,
    ALB,
    ALB_LISTENER,
    ACTION,
    FIXED,
    RULE_ALB,
    CONDITIONS,
    ALB_TG,
    ALB_CHECK,
    SERVICE,
    ENDPOINT,
    CLOUD_MAP,
    NAMESPACE,
    CM_SERVICE,
    INSTANCE,
    ON_PREMISES,
    API,
    POLICY_SHORT,
    POLICY_CONDITIONS,
    POLICY_STATEMENT,
    REST_LINK,
    HTTP_LINK,
    STAGE,
    ROUTE,
    INTEGRATION,
    TLS_CONFIG,
    PARAMETERS,
)
