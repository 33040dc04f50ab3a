"""Where an HTTP API's private integration goes: a load balancer listener or a Cloud Map service.

On AWS the integration uri of an HTTP API over a VPC link is a listener or
service ARN; here `<vpc>/<load balancer>:<port>` or
`cloud_map/<namespace>/<service>[?attr=value&…]`. Checked against the load
balancers and Cloud Map sections, and against the VPC of the link, whose ENIs
reach their own VPC only.
"""

from __future__ import annotations

import re

from yaml.nodes import Node

from hyperplane_emu.spec import cloudmap, loadbalancers, refs
from hyperplane_emu.spec.apiscope import ApiScope
from hyperplane_emu.spec.model import VpcLink
from hyperplane_emu.spec.nodes import Ctx, did_you_mean

LISTENER = re.compile(r"([a-z][a-z0-9-]*)/([a-z][a-z0-9-]*):([0-9]{1,5})")
CLOUD_MAP_PREFIX = "cloud_map/"
_CLOUD_MAP = re.compile(r"cloud_map/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)(?:\?([^\s#]+))?")


def http_api_target(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, connection_id: str | None
) -> str | None:
    """An HTTP API private integration: `<vpc>/<load balancer>:<port>` or a Cloud Map
    service `cloud_map/<namespace>/<service>[?attr=value&…]` (AWS: a listener or
    service ARN; the query filters instances by attribute, as DiscoverInstances does)."""
    link = scope.links.get(connection_id or "")
    if text.startswith(CLOUD_MAP_PREFIX):
        return _cloud_map_target(ctx, text, node, path, scope, link)
    match = LISTENER.fullmatch(text)
    if match is None:
        ctx.error(
            path,
            node,
            f"uri {text!r}: an HTTP API private integration targets a load balancer listener "
            "<vpc>/<load balancer>:<port> or cloud_map/<namespace>/<service>, not a URL",
        )
        return None
    vpc_name, lb_name, port = match[1], match[2], int(match[3])
    if refs.missing_vpc(ctx, vpc_name, node, path, scope.topology):
        return None
    vpc = scope.topology.vpcs.get(vpc_name)
    if vpc is None:
        return text  # a broken VPC: its own errors say why
    if link is not None and link.vpc != vpc_name:
        ctx.error(
            path,
            node,
            f"{lb_name!r} is in VPC {vpc_name!r} but VPC link {link.name!r} is in "
            f"{link.vpc!r}: the link's ENIs reach their own VPC only",
        )
        return None
    lbs_path = loadbalancers.section_path(f"vpcs.{vpc_name}")
    declared_lbs = ctx.declared.get(lbs_path, frozenset())
    if lb_name not in vpc.load_balancers:
        if declared_lbs is not None and lb_name not in declared_lbs:
            ctx.error(
                path,
                node,
                f"no load balancer {lb_name!r} in VPC {vpc_name!r}"
                f"{did_you_mean(lb_name, vpc.load_balancers)}",
            )
            return None
        return text
    lb = vpc.load_balancers[lb_name]
    if lb.type == "application":
        kind, ports = "ALB", sorted(lst.port for lst in lb.alb_listeners)
        what = "listener"
    else:
        kind, ports = "NLB", sorted(lst.port for lst in lb.listeners if lst.protocol == "tcp")
        what = "tcp listener"
    if port not in ports:
        ctx.error(
            path,
            node,
            f"{kind} {lb_name!r} has no {what} on port {port} "
            f"(its {what}s: {', '.join(map(str, ports)) or 'none'})",
        )
        return None
    return text


def _cloud_map_target(
    ctx: Ctx, text: str, node: Node, path: str, scope: ApiScope, link: VpcLink | None
) -> str | None:
    match = _CLOUD_MAP.fullmatch(text)
    if match is None:
        ctx.error(
            path,
            node,
            f"uri {text!r} is not cloud_map/<namespace>/<service> (optionally followed by "
            "?attribute=value&…)",
        )
        return None
    namespace, service_name, query = match[1], match[2], match[3]
    filters = _attribute_filters(ctx, query, node, path) if query is not None else {}
    if filters is None:
        return None
    cloud_map = scope.topology.cloud_map
    if namespace not in cloud_map.namespaces:
        if refs.status(ctx, cloudmap.NAMESPACES, namespace, ()) == "missing":
            declared = ctx.declared.get(cloudmap.NAMESPACES) or ()
            ctx.error(
                path,
                node,
                f"no Cloud Map namespace {namespace!r}{did_you_mean(namespace, declared)}",
            )
            return None
        return text  # broken: reported where it is written
    service = cloud_map.services.get(service_name)
    if service is None:
        if refs.status(ctx, cloudmap.SERVICES, service_name, ()) == "missing":
            declared = ctx.declared.get(cloudmap.SERVICES) or ()
            ctx.error(
                path,
                node,
                f"no Cloud Map service {service_name!r}{did_you_mean(service_name, declared)}",
            )
            return None
        return text
    if service.namespace != namespace:
        ctx.error(
            path,
            node,
            f"Cloud Map service {service_name!r} is in namespace {service.namespace!r}, "
            f"not {namespace!r}",
        )
        return None
    if link is not None and link.vpc is not None:
        elsewhere = sorted(cloudmap.service_vpcs(service, scope.topology) - {link.vpc})
        if elsewhere:
            ctx.error(
                path,
                node,
                f"Cloud Map service {service_name!r} has instances in VPC {elsewhere[0]!r} but "
                f"VPC link {link.name!r} is in {link.vpc!r}: the link's ENIs reach their own "
                "VPC only",
            )
            return None
    matching = [
        i
        for i in service.instances.values()
        if all(i.attributes.get(k) == v for k, v in filters.items())
    ]
    if service.instances and not any(i.health == "healthy" for i in matching):
        ctx.warn(
            path,
            node,
            f"no healthy instance of {namespace}/{service_name}"
            + (" has these attributes" if filters else "")
            + ": discovery returns nothing, every call on this route fails",
        )
    return text


def _attribute_filters(ctx: Ctx, query: str, node: Node, path: str) -> dict[str, str] | None:
    """`stage=prod&zone=a` -> {"stage": "prod", "zone": "a"} (DiscoverInstances
    QueryParameters: every pair must match)."""
    result: dict[str, str] = {}
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not key or not eq or not value:
            ctx.error(path, node, f"Cloud Map filter {part!r} is not attribute=value")
            return None
        if key in result:
            ctx.error(path, node, f"Cloud Map filter attribute {key!r} is given twice")
            return None
        result[key] = value
    return result
