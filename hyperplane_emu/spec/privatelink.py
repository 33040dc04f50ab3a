"""PrivateLink: `endpoint_services` (provider side) and `endpoints` (consumer side) of a VPC.

AWS facts behind the checks (VPC API CreateVpcEndpointServiceConfiguration,
ModifyVpcEndpointServicePermissions, CreateVpcEndpoint):
- an endpoint service fronts NLBs of its own VPC, and an NLB can be behind one
  endpoint service only (AWS: "NLB is already associated with another VPC Endpoint
  Service", the error API Gateway reports for a VPC link (V1) whose NLB already
  has one; API Gateway Developer Guide, "Set up VPC links V1",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html);
- allowed principals are account ids, `arn:aws:iam::<id>:root` or `*` (IAM users
  and roles exist on AWS but not in the emulator); the provider's own account
  is always allowed here (AWS wants it listed too);
- `acceptance_required` defaults to true, as on AWS;
- an interface endpoint names `execute-api` (API Gateway, which the emulator
  provides) or `<vpc>/<endpoint service>`; the consumer's account must be an
  allowed principal of the service; one subnet per AZ, only in AZs where the
  service's NLB has a subnet ("does not support the availability zone");
- private DNS defaults to on for `execute-api` and off for endpoint services;
  it needs the service to have a private DNS name, and a VPC can have one
  private-DNS endpoint per DNS name ("conflicting DNS domain").
"""

from __future__ import annotations

import dataclasses
import re

from yaml.nodes import Node

from hyperplane_emu.spec import loadbalancers, names, refs
from hyperplane_emu.spec.model import Endpoint, EndpointService, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.sections import vpc_section

SERVICE_KEYS = ("load_balancer", "acceptance_required", "allowed_principals", "private_dns_name")
ENDPOINT_KEYS = ("service", "type", "subnets", "security_groups", "private_dns")
EXECUTE_API = "execute-api"
ENDPOINT_TYPES = ("interface",)
ENDPOINT_TYPES_NOT_EMULATED = {
    "gateway": "gateway endpoints (S3, DynamoDB) are not emulated",
    "gatewayloadbalancer": "Gateway Load Balancer endpoints are not emulated",
}
ANY_PRINCIPAL = "*"
_ROOT_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):root")
_IAM_ARN = re.compile(r"arn:aws:iam::[0-9]{12}:.+")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
DNS_NAME_MAX = 253
AWS_ONE_SERVICE = "NLB is already associated with another VPC Endpoint Service"


def services_path(vpc_name: str) -> str:
    return f"vpcs.{vpc_name}.endpoint_services"


# -- endpoint services -------------------------------------------------------------------


@vpc_section("endpoint_services")
def parse_endpoint_services(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
    view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, view)
    if view is None:
        return vpc
    fronted: dict[str, str] = {}  # NLB -> the endpoint service in front of it
    result: dict[str, EndpointService] = {}
    for key, svc_path, svc_node in view.items():
        good_name = names.name(ctx, key, view.key_node(key), svc_path, "endpoint service")
        service = _service(ctx, key, svc_node, svc_path, vpc, topology, fronted)
        if good_name and service is not None:
            result[key] = service
    return dataclasses.replace(vpc, endpoint_services=result)


def _service(
    ctx: Ctx,
    name: str,
    node: Node,
    path: str,
    vpc: Vpc,
    topology: Topology,
    fronted: dict[str, str],
) -> EndpointService | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(SERVICE_KEYS, required=("load_balancer",))

    lb_node = view.get("load_balancer")
    lb = None
    if lb_node is not None:
        lb = _service_lb(ctx, name, lb_node, view.path_of("load_balancer"), vpc, fronted)

    acceptance = True
    acceptance_node = view.get("acceptance_required")
    if acceptance_node is not None:
        value = ctx.boolean(acceptance_node, view.path_of("acceptance_required"))
        acceptance = True if value is None else value

    principals: tuple[str, ...] = ()
    principals_node = view.get("allowed_principals")
    if principals_node is not None:
        principals = _principals(ctx, principals_node, view.path_of("allowed_principals"), topology)

    dns_name = None
    dns_node = view.get("private_dns_name")
    if dns_node is not None:
        dns_name = _dns_name(ctx, dns_node, view.path_of("private_dns_name"))

    if len(ctx.issues) > issues_before or lb is None:
        return None
    return EndpointService(name, lb, acceptance, principals, dns_name)


def _service_lb(
    ctx: Ctx, service: str, node: Node, path: str, vpc: Vpc, fronted: dict[str, str]
) -> str | None:
    lb = ctx.text(node, path, "a load balancer name")
    if lb is None:
        return None
    found = loadbalancers.nlb_status(
        ctx,
        lb,
        vpc,
        node,
        path,
        on_alb="; endpoint services front network load balancers",
        missing_hint=" (an endpoint service fronts an NLB of its own VPC)",
    )
    if found is None:
        return None
    if lb in fronted:
        ctx.error(
            path,
            node,
            f"NLB {lb!r} is already behind endpoint service {fronted[lb]!r} (AWS: "
            f"{AWS_ONE_SERVICE})",
        )
        return None
    fronted[lb] = service
    return lb if found == "found" else None


def _principals(ctx: Ctx, node: Node, path: str, topology: Topology) -> tuple[str, ...]:
    items = ctx.sequence(node, path)
    if items is None:
        return ()
    result: list[str] = []
    for item_path, item in items:
        principal = _principal(ctx, item, item_path, topology)
        if principal is None:
            continue
        if principal in result:
            ctx.error(item_path, item, f"principal {principal!r} is listed twice")
            continue
        result.append(principal)
    return tuple(result)


def _principal(ctx: Ctx, node: Node, path: str, topology: Topology) -> str | None:
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return names.account_id(ctx, node, path)  # reports the missing quotes
    text = ctx.text(node, path, 'an account id, "arn:aws:iam::<id>:root" or "*"')
    if text is None:
        return None
    if text == ANY_PRINCIPAL or names.ACCOUNT_ID.fullmatch(text) or _ROOT_ARN.fullmatch(text):
        return text
    if _IAM_ARN.fullmatch(text):
        message = (
            f"{text!r}: IAM users and roles are not emulated; allow the account "
            "(its id or arn:aws:iam::<id>:root)"
        )
    elif topology.accounts.get(text):
        message = (
            f"{text!r} is an account key; principals are account ids: "
            f'write "{topology.accounts[text]}"'
        )
    else:
        message = f'{text!r} is not an account id (12 digits), "arn:aws:iam::<id>:root" or "*"'
    ctx.error(path, node, message)
    return None


def allows(service: EndpointService, provider_account: str, account: str) -> bool:
    """Whether the 12-digit `account` may connect to `service` (owned by `provider_account`)."""
    if account == provider_account:
        return True
    for principal in service.allowed_principals:
        root = _ROOT_ARN.fullmatch(principal)
        if principal in (ANY_PRINCIPAL, account) or (root is not None and root[1] == account):
            return True
    return False


def _dns_name(ctx: Ctx, node: Node, path: str) -> str | None:
    """A DNS name like orders.example.com (two labels at least); kept lower-case."""
    text = ctx.text(node, path, "a DNS name like orders.example.com")
    if text is None:
        return None
    name = text.lower().removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > DNS_NAME_MAX
        or len(labels) < 2
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        ctx.error(path, node, f"{text!r} is not a DNS name like orders.example.com")
        return None
    return name


# -- interface endpoints -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Target:
    """What an endpoint's `service` resolved to."""

    zones: frozenset[str] | None  # None: every AZ (AWS services) or unknown
    dns_name: str | None  # the name private DNS would answer for
    label: str  # for messages


@vpc_section("endpoints")
def parse_endpoints(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
    view = ctx.mapping(node, path, null_ok=True)
    refs.declare(ctx, path, view)
    if view is None:
        return vpc
    private_names: dict[str, str] = {}  # DNS name -> endpoint answering it in this VPC
    result: dict[str, Endpoint] = {}
    for key, ep_path, ep_node in view.items():
        good_name = names.name(ctx, key, view.key_node(key), ep_path, "endpoint")
        endpoint = _endpoint(ctx, key, ep_node, ep_path, vpc, topology, private_names)
        if good_name and endpoint is not None:
            result[key] = endpoint
    return dataclasses.replace(vpc, endpoints=result)


def _endpoint(
    ctx: Ctx,
    name: str,
    node: Node,
    path: str,
    vpc: Vpc,
    topology: Topology,
    private_names: dict[str, str],
) -> Endpoint | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    view.check_keys(ENDPOINT_KEYS, required=("service", "subnets"))

    type_node = view.get("type")
    if type_node is not None:
        refs.choice(
            ctx,
            type_node,
            view.path_of("type"),
            "endpoint type",
            ENDPOINT_TYPES,
            ENDPOINT_TYPES_NOT_EMULATED,
        )

    service: str | None = None
    target: _Target | None = None
    service_node = view.get("service")
    if service_node is not None:
        service, target = _endpoint_service(
            ctx, service_node, view.path_of("service"), vpc, topology
        )

    subnets: tuple[str, ...] | None = None
    subnets_node = view.get("subnets")
    if subnets_node is not None:
        subnets = refs.subnet_list(
            ctx, subnets_node, view.path_of("subnets"), vpc, "an interface endpoint"
        )
    if subnets is not None and subnets_node is not None and target is not None:
        _check_zones(ctx, subnets_node, view.path_of("subnets"), subnets, vpc, target)

    groups: tuple[str, ...] = ("default",)
    groups_node = view.get("security_groups")
    if groups_node is not None:
        groups = refs.group_list(ctx, groups_node, view.path_of("security_groups"), vpc) or groups

    private_dns = _private_dns(ctx, view, service, target, name, private_names)

    if len(ctx.issues) > issues_before or service is None or subnets is None:
        return None
    return Endpoint(name, service, subnets, groups, private_dns)


def _endpoint_service(
    ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology
) -> tuple[str | None, _Target | None]:
    """The service as written, and what it resolved to (None: unknown, already reported)."""
    text = ctx.text(node, path, "execute-api or <vpc>/<endpoint service>")
    if text is None:
        return None, None
    if text == EXECUTE_API:
        region = topology.region or "region"
        return text, _Target(None, f"{EXECUTE_API}.{region}.amazonaws.com", EXECUTE_API)
    provider_name, slash, service_name = text.partition("/")
    if not slash or not provider_name or not service_name or "/" in service_name:
        hint = "; write execute-api" if text.endswith(EXECUTE_API) else ""
        ctx.error(
            path, node, f"service {text!r} is not execute-api or <vpc>/<endpoint service>{hint}"
        )
        return None, None
    if refs.missing_vpc(ctx, provider_name, node, path, topology):
        return None, None
    provider = topology.vpcs.get(provider_name)
    if provider is None:
        return text, None  # a broken VPC: its own errors say why
    found = refs.status(ctx, services_path(provider_name), service_name, provider.endpoint_services)
    if found == "missing":
        ctx.error(
            path,
            node,
            f"VPC {provider_name!r} has no endpoint service {service_name!r}"
            f"{did_you_mean(service_name, provider.endpoint_services)}",
        )
        return None, None
    if found == "broken":
        return text, None
    service = provider.endpoint_services[service_name]
    consumer_id = topology.accounts.get(vpc.account, "")
    provider_id = topology.accounts.get(provider.account, "")
    if consumer_id and provider_id and not allows(service, provider_id, consumer_id):
        ctx.error(
            path,
            node,
            f"account {consumer_id} ({vpc.account}) is not an allowed principal of endpoint "
            f'service {text} (owned by {provider_id}); add "{consumer_id}" to its '
            "allowed_principals",
        )
        return None, None
    lb = provider.load_balancers[service.load_balancer]
    zones = frozenset(provider.subnets[s].az for s in lb.subnets)
    return text, _Target(zones, service.private_dns_name, text)


def _check_zones(
    ctx: Ctx, node: Node, path: str, subnets: tuple[str, ...], vpc: Vpc, target: _Target
) -> None:
    if target.zones is None or not refs.substrate_known(vpc):
        return
    items = ctx.sequence(node, path) or []
    for (item_path, item), subnet in zip(items, subnets, strict=True):
        az = vpc.subnets[subnet].az
        if az not in target.zones:
            ctx.error(
                item_path,
                item,
                f"subnet {subnet!r} is in {az}, where endpoint service {target.label} is not "
                f"available (its NLB is in {', '.join(sorted(target.zones))})",
            )


def _private_dns(
    ctx: Ctx,
    view: MapView,
    service: str | None,
    target: _Target | None,
    endpoint: str,
    private_names: dict[str, str],
) -> bool:
    node = view.get("private_dns")
    path = view.path_of("private_dns")
    if node is None:
        enabled = service == EXECUTE_API
    else:
        value = ctx.boolean(node, path)
        if value is None:
            return False
        enabled = value
    if not enabled or target is None:
        return enabled
    if target.dns_name is None:
        ctx.error(
            path,
            node or view.node,
            f"endpoint service {target.label} has no private_dns_name, so private DNS cannot "
            "be enabled (AWS refuses it)",
        )
        return enabled
    if target.dns_name in private_names:
        ctx.error(
            path,
            node or view.node,
            f"endpoint {private_names[target.dns_name]!r} already has private DNS for "
            f"{target.dns_name} in this VPC (AWS: conflicting DNS domain)",
        )
        return enabled
    private_names[target.dns_name] = endpoint
    return enabled
