"""The top-level `cloud_map` section: AWS Cloud Map namespaces, services, instances.

    cloud_map:
      namespaces:
        shop.local: {type: dns_private, vpc: customer}
        internal: {type: http}
      services:
        orders:
          namespace: shop.local
          instances:
            i1: {host: app1, port: 8080, attributes: {stage: prod}}
            i2: {ip: 10.0.1.9, port: 8080, health: unhealthy}

AWS facts behind the checks (Cloud Map API CreatePrivateDnsNamespace,
CreateHttpNamespace, CreateService, RegisterInstance; quotas):
- namespace types: DNS_PRIVATE (needs a VPC: Route 53 answers for it there) and
  HTTP (discovery through the API only, no VPC); DNS_PUBLIC is not emulated (no
  public DNS here);
- a DNS namespace's name is a domain name (labels of letters, digits and
  hyphens, at most 63 characters each, 253 in all); HTTP namespace names are
  printable characters, here restricted to letters, digits, `.`, `_`, `-` so
  that `cloud_map/<namespace>/<service>` integration targets stay readable;
- service names are DNS labels joined by dots (letters, digits, `_`, `-`, at
  most 63 characters a label, 127 in all); services here are keyed by name,
  so one name means one service in the whole file (an emulator restriction);
- an instance id is at most 64 characters of letters, digits and `_ / : . @ -`;
  an instance registers an IPv4 address (AWS_INSTANCE_IPV4: `ip`, or `host` for
  that host's private address) and a port (AWS_INSTANCE_PORT); custom
  attributes: at most 30, keys up to 255 characters, values up to 1024, and
  keys starting with `AWS_` are AWS's own;
- a custom health status HEALTHY or UNHEALTHY (AWS_INIT_HEALTH_STATUS, default
  HEALTHY): DiscoverInstances returns healthy instances only.
"""

from __future__ import annotations

import dataclasses
import re
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, cast

from yaml.nodes import Node, ScalarNode

from hyperplane_emu.spec import net, refs
from hyperplane_emu.spec.model import (
    CloudMap,
    CloudMapInstance,
    CloudMapNamespace,
    CloudMapService,
    Topology,
    Vpc,
)
from hyperplane_emu.spec.nodes import NULL, Ctx, MapView, did_you_mean
from hyperplane_emu.spec.sections import topology_section

SECTION = "cloud_map"
NAMESPACES = f"{SECTION}.namespaces"
SERVICES = f"{SECTION}.services"
CLOUD_MAP_KEYS = ("namespaces", "services")
NAMESPACE_KEYS = ("type", "vpc")
NAMESPACE_TYPES = ("dns_private", "http")
NAMESPACE_TYPES_NOT_EMULATED = {
    "dns_public": "public DNS namespaces are not emulated (no public DNS); use dns_private or http",
}
SERVICE_KEYS = ("namespace", "instances")
INSTANCE_KEYS = ("host", "ip", "port", "attributes", "health")
HEALTH = ("healthy", "unhealthy")
MAX_ATTRIBUTES = 30
ATTRIBUTE_KEY_MAX = 255
ATTRIBUTE_VALUE_MAX = 1024
RESERVED_ATTRIBUTE_PREFIX = "AWS_"
DOMAIN_MAX = 253
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HTTP_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,1024}")
_SERVICE_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
SERVICE_MAX = 127
_INSTANCE_ID = re.compile(r"[A-Za-z0-9_/:.@-]{1,64}")
_ATTRIBUTE_KEY = re.compile(r"[!-~]+")
_ATTRIBUTE_VALUE = re.compile(r"[ -~]*")
INT = "tag:yaml.org,2002:int"


@topology_section(SECTION)
def parse_cloud_map(ctx: Ctx, node: Node, path: str, topology: Topology) -> Topology:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        ctx.declared[NAMESPACES] = ctx.declared[SERVICES] = None
        return topology
    view.check_keys(CLOUD_MAP_KEYS)
    namespaces = _namespaces(ctx, view, topology)
    services = _services(ctx, view, namespaces, topology)
    return dataclasses.replace(topology, cloud_map=CloudMap(namespaces, services))


# -- namespaces --------------------------------------------------------------------------


def _namespaces(ctx: Ctx, view: MapView, topology: Topology) -> dict[str, CloudMapNamespace]:
    node = view.get("namespaces")
    if node is None:
        ctx.declared[NAMESPACES] = frozenset()
        return {}
    ns_view = ctx.mapping(node, NAMESPACES, null_ok=True)
    refs.declare(ctx, NAMESPACES, ns_view)
    result: dict[str, CloudMapNamespace] = {}
    for key, ns_path, ns_node in ns_view.items() if ns_view is not None else ():
        namespace = _namespace(ctx, key, ns_view.key_node(key), ns_node, ns_path, topology)  # type: ignore[union-attr]
        if namespace is not None:
            result[key] = namespace
    return result


def _namespace(
    ctx: Ctx, name: str, key_node: Node, node: Node, path: str, topology: Topology
) -> CloudMapNamespace | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(NAMESPACE_KEYS, required=("type",))
    ns_type = refs.key_choice(
        ctx, view, "type", None, "namespace type", NAMESPACE_TYPES, NAMESPACE_TYPES_NOT_EMULATED
    )
    if ns_type is not None:
        _namespace_name(ctx, name, key_node, path, ns_type)
    vpc = None
    vpc_node = view.get("vpc")
    if ns_type == "http" and vpc_node is not None:
        ctx.error(
            view.path_of("vpc"),
            vpc_node,
            "an HTTP namespace has no VPC (AWS: instances are discovered through the API)",
        )
    elif ns_type == "dns_private" and vpc_node is None:
        ctx.error(
            view.path_of("vpc"),
            view.node,
            "a private DNS namespace needs a vpc (AWS: Route 53 answers for it in that VPC)",
        )
    elif vpc_node is not None:
        vpc = _vpc(ctx, vpc_node, view.path_of("vpc"), topology)
    if len(ctx.issues) > issues_before or ns_type is None:
        return None
    return CloudMapNamespace(name, cast(Literal["dns_private", "http"], ns_type), vpc)


def _namespace_name(ctx: Ctx, name: str, node: Node, path: str, ns_type: str) -> None:
    if ns_type == "http":
        if not _HTTP_NAMESPACE.fullmatch(name):
            ctx.error(
                path,
                node,
                f"namespace name {name!r} must be 1-1024 characters of letters, digits, "
                ". _ - (the emulator's subset of AWS's printable characters)",
            )
        return
    labels = name.rstrip(".").split(".")
    if len(name) > DOMAIN_MAX or not all(_LABEL.fullmatch(label) for label in labels):
        ctx.error(
            path,
            node,
            f"namespace name {name!r} is not a domain name (labels of letters, digits and "
            f"hyphens, at most 63 characters each, {DOMAIN_MAX} in all)",
        )


def _vpc(ctx: Ctx, node: Node, path: str, topology: Topology) -> str | None:
    name = ctx.text(node, path, "a VPC name")
    if name is None:
        return None
    if refs.missing_vpc(ctx, name, node, path, topology):
        return None
    return name  # a broken VPC (reported) still names the right thing


# -- services ----------------------------------------------------------------------------


def _services(
    ctx: Ctx, view: MapView, namespaces: dict[str, CloudMapNamespace], topology: Topology
) -> dict[str, CloudMapService]:
    node = view.get("services")
    if node is None:
        ctx.declared[SERVICES] = frozenset()
        return {}
    services_view = ctx.mapping(node, SERVICES, null_ok=True)
    refs.declare(ctx, SERVICES, services_view)
    result: dict[str, CloudMapService] = {}
    for key, svc_path, svc_node in services_view.items() if services_view is not None else ():
        good_name = _service_name(ctx, key, services_view.key_node(key), svc_path)  # type: ignore[union-attr]
        service = _service(ctx, key, svc_node, svc_path, namespaces, topology)
        if good_name and service is not None:
            result[key] = service
    return result


def _service_name(ctx: Ctx, name: str, node: Node, path: str) -> bool:
    if len(name) <= SERVICE_MAX and all(_SERVICE_LABEL.fullmatch(x) for x in name.split(".")):
        return True
    ctx.error(
        path,
        node,
        f"service name {name!r} must be DNS labels (letters, digits, _ and -, at most 63 "
        f"characters each) joined by dots, {SERVICE_MAX} characters in all",
    )
    return False


def _service(
    ctx: Ctx,
    name: str,
    node: Node,
    path: str,
    namespaces: dict[str, CloudMapNamespace],
    topology: Topology,
) -> CloudMapService | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(SERVICE_KEYS, required=("namespace",))
    namespace = None
    ns_node = view.get("namespace")
    if ns_node is not None:
        namespace = ctx.text(ns_node, view.path_of("namespace"), "a namespace name")
    if namespace is not None and ns_node is not None:
        found = refs.status(ctx, NAMESPACES, namespace, namespaces)
        if found == "missing":
            ctx.error(
                view.path_of("namespace"),
                ns_node,
                f"no namespace {namespace!r} in cloud_map.namespaces"
                f"{did_you_mean(namespace, ctx.declared.get(NAMESPACES) or ())}",
            )
    instances: dict[str, CloudMapInstance] = {}
    instances_node = view.get("instances")
    if instances_node is not None:
        instances = _instances(ctx, instances_node, view.path_of("instances"), topology)
    elif namespace is not None:
        ctx.warn(
            view.path_of("instances"),
            view.node,
            f"service {name!r} has no instances: discovery returns nothing, every call fails",
        )
    if len(ctx.issues) > issues_before or namespace is None:
        return None
    return CloudMapService(name, namespace, instances)


def _instances(ctx: Ctx, node: Node, path: str, topology: Topology) -> dict[str, CloudMapInstance]:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return {}
    result: dict[str, CloudMapInstance] = {}
    for key, inst_path, inst_node in view.items():
        key_node = view.key_node(key)
        good_id = bool(_INSTANCE_ID.fullmatch(key))
        if not good_id:
            ctx.error(
                inst_path,
                key_node,
                f"instance id {key!r} must be 1-64 characters of letters, digits and _ / : . @ -",
            )
        instance = _instance(ctx, key, inst_node, inst_path, topology)
        if good_id and instance is not None:
            result[key] = instance
    return result


def _instance(
    ctx: Ctx, instance_id: str, node: Node, path: str, topology: Topology
) -> CloudMapInstance | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(INSTANCE_KEYS, required=("port",))
    if ("host" in view) == ("ip" in view):
        ctx.error(
            path,
            node,
            "an instance has exactly one of host (that host's private address) or ip "
            "(AWS_INSTANCE_IPV4)",
        )
    host = None
    host_node = view.get("host")
    if host_node is not None and "ip" not in view:
        host = _host(ctx, host_node, view.path_of("host"), topology)
    ip = None
    ip_node = view.get("ip")
    if ip_node is not None and "host" not in view:
        address = net.address(ctx, ip_node, view.path_of("ip"))
        ip = str(address) if address is not None else None
        if address is not None:
            _check_reserved(ctx, ip_node, view.path_of("ip"), address, topology)
    port = None
    port_node = view.get("port")
    if port_node is not None:
        port = ctx.integer(port_node, view.path_of("port"), 1, 65535)
    attributes: dict[str, str] = {}
    attributes_node = view.get("attributes")
    if attributes_node is not None:
        attributes = _attributes(ctx, attributes_node, view.path_of("attributes"))
    health = refs.key_choice(ctx, view, "health", "healthy", "health", HEALTH) or ""
    if len(ctx.issues) > issues_before or port is None or (host is None and ip is None):
        return None
    return CloudMapInstance(
        instance_id,
        port,
        host=host,
        ip=ip,
        attributes=attributes,
        health=cast(Literal["healthy", "unhealthy"], health),
    )


def _host(ctx: Ctx, node: Node, path: str, topology: Topology) -> str | None:
    host = ctx.text(node, path, "a host name")
    if host is None:
        return None
    if any(host in vpc.hosts for vpc in topology.vpcs.values()):
        return host
    declared = ctx.declared.get("vpcs")
    if (
        declared is None
        or declared - set(topology.vpcs)
        or any(not refs.substrate_known(vpc) for vpc in topology.vpcs.values())
    ):
        return host  # it may be in a VPC whose own errors are reported
    known = {h for vpc in topology.vpcs.values() for h in vpc.hosts}
    ctx.error(path, node, f"no host {host!r} in any VPC{did_you_mean(host, known)}")
    return None


def _check_reserved(
    ctx: Ctx, node: Node, path: str, address: IPv4Address, topology: Topology
) -> None:
    """An address AWS reserves in a subnet of the topology can never answer."""
    for vpc in topology.vpcs.values():
        for subnet in vpc.subnets.values():
            network = IPv4Network(subnet.cidr)
            if address in network:
                reason = net.reserved_reason(network, address)
                if reason is not None:
                    ctx.error(path, node, reason)
                    return


def _attributes(ctx: Ctx, node: Node, path: str) -> dict[str, str]:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return {}
    if len(view) > MAX_ATTRIBUTES:
        ctx.error(
            path, node, f"{len(view)} attributes; AWS allows at most {MAX_ATTRIBUTES} per instance"
        )
        return {}
    result: dict[str, str] = {}
    for key, attr_path, value_node in view.items():
        key_node = view.key_node(key)
        if key.startswith(RESERVED_ATTRIBUTE_PREFIX):
            ctx.error(
                attr_path,
                key_node,
                f"attribute {key!r}: AWS_ attributes are AWS's own; the emulator sets "
                "AWS_INSTANCE_IPV4 and AWS_INSTANCE_PORT from ip/host and port",
            )
            continue
        if len(key) > ATTRIBUTE_KEY_MAX or not _ATTRIBUTE_KEY.fullmatch(key):
            ctx.error(
                attr_path,
                key_node,
                f"attribute key {key!r} must be 1-{ATTRIBUTE_KEY_MAX} printable characters, "
                "no spaces",
            )
            continue
        value = _attribute_value(ctx, value_node, attr_path)
        if value is not None:
            result[key] = value
    return result


def _attribute_value(ctx: Ctx, node: Node, path: str) -> str | None:
    """A string; an unquoted number is kept as written (`version: 2` is "2")."""
    if isinstance(node, ScalarNode) and node.tag == INT:
        return str(node.value)
    if isinstance(node, ScalarNode) and node.tag == NULL:
        ctx.error(path, node, "an attribute needs a value")
        return None
    text = ctx.text(node, path, "a string")
    if text is None:
        return None
    if len(text) > ATTRIBUTE_VALUE_MAX or not _ATTRIBUTE_VALUE.fullmatch(text):
        ctx.error(
            path,
            node,
            f"attribute value must be at most {ATTRIBUTE_VALUE_MAX} printable characters",
        )
        return None
    return text


def service_vpcs(service: CloudMapService, topology: Topology) -> set[str]:
    """VPCs an instance of `service` lives in, as far as the file says (hosts, and ip
    addresses inside a VPC's CIDR); for API checks on VPC links."""
    found: set[str] = set()
    for instance in service.instances.values():
        for vpc in topology.vpcs.values():
            if _in_vpc(instance, vpc):
                found.add(vpc.name)
    return found


def _in_vpc(instance: CloudMapInstance, vpc: Vpc) -> bool:
    if instance.host is not None:
        return instance.host in vpc.hosts
    return (
        instance.ip is not None
        and refs.substrate_known(vpc)
        and (IPv4Network(f"{instance.ip}/32").subnet_of(IPv4Network(vpc.cidr)))
    )
