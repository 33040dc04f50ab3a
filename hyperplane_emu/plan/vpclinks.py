"""VPC links for HTTP APIs (v2): Hyperplane ENIs and the backends each link reaches.

AWS (seed post; API Gateway Developer Guide, "VPC links for HTTP APIs"): the link
has ENIs in the customer's subnets, managed by Hyperplane, with the link's
security groups; API Gateway's flows leave through them with their source
rewritten to the ENI's address (VPC-to-VPC NAT), so targets' groups can admit
the link's group. One link serves many backends: ALB listeners, NLB listeners,
Cloud Map services. Here each backend gets a port on the link's front address
in API Gateway's VPC; the data plane connects there and the fabric translates.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import (
    PlanApi,
    PlanCloudMap,
    PlanCloudMapInstance,
    PlanCloudMapNamespace,
    PlanCloudMapService,
    PlanEni,
    PlanLinkTarget,
    PlanLoadBalancer,
    PlanVpcLinkV2,
)
from hyperplane_emu.spec.model import Topology

FRONT_PORTS = 20000  # first port handed out on a link's front address


def plan_links(
    topo: Topology,
    t: str,
    requests: dict[str, list[Any]],
    by_path: dict[str, PlanEni],
    apis: dict[str, PlanApi],
    lbs: dict[str, PlanLoadBalancer],
    enis: dict[str, PlanEni],
) -> dict[str, PlanVpcLinkV2]:
    out: dict[str, PlanVpcLinkV2] = {}
    api_ids = {a.name: a.id for a in apis.values()}
    for key, reqs in requests.items():
        aname, lname = key.split("/", 1)
        api = topo.apis[aname]
        link = api.vpc_links[lname]
        link_enis = [by_path[r.path] for r in reqs[:-1]]
        front = by_path[reqs[-1].path]
        targets: list[PlanLinkTarget] = []
        by_uri: dict[str, tuple[int, ...]] = {}
        # Stage variables may name the link: `${stageVariables.x}` with x = lname somewhere.
        via_vars = {
            f"${{stageVariables.{k}}}"
            for st in api.stages.values()
            for k, v in st.variables.items()
            if v == lname
        }
        for route in api.routes:
            i = route.integration
            if i.connection_type != "VPC_LINK" or not i.uri:
                continue
            if i.connection_id != lname and i.connection_id not in via_vars:
                continue
            key = target_key(i.uri, i.integration_target)
            if key in by_uri:
                continue
            found = _targets(topo, key, FRONT_PORTS + len(targets), lbs, enis)
            by_uri[key] = tuple(x.port for x in found)
            targets += found
        lid = ids.vpc_link_id(t, aname, lname)
        assert link.vpc is not None
        out[lid] = PlanVpcLinkV2(
            id=lid,
            name=lname,
            api=api_ids[aname],
            vpc=link.vpc,
            subnets=link.subnets,
            security_groups=link_enis[0].security_groups if link_enis else (),
            enis=tuple(e.id for e in link_enis),
            front_eni=front.id,
            front_ip=front.ip,
            targets=tuple(targets),
            by_uri=by_uri,
        )
    return out


def target_key(uri: str, integration_target: str | None) -> str:
    """What a link integration reaches: HTTP APIs name `<vpc>/<lb>:<port>` or a Cloud Map
    service in the uri; REST APIs (V2 links) name the load balancer in integration_target
    and the listener by the uri's port."""
    if integration_target is None:
        return uri
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{integration_target}:{port}"


def _targets(
    topo: Topology,
    uri: str,
    port: int,
    lbs: dict[str, PlanLoadBalancer],
    enis: dict[str, PlanEni],
) -> list[PlanLinkTarget]:
    """`<vpc>/<lb>:<port>` (an NLB or ALB listener) or `cloud_map/<ns>/<service>[?k=v]`."""
    if uri.startswith("cloud_map/"):
        return _cloud_map(topo, uri, port, enis)
    lb_key, _, listener = uri.rpartition(":")
    lb = lbs.get(lb_key)
    if lb is None:
        return []
    nodes = [enis[e] for e in lb.enis]
    az = nodes[0].az if nodes else ""
    if lb.kind == "alb":
        # API Gateway reaches an ALB through one of its nodes; the link ENI in the
        # same AZ is the source (the fabric picks it by the target's AZ).
        return [PlanLinkTarget(port, "alb", lb.key, nodes[0].ip, int(listener), az, lb.dns_name)]
    return [PlanLinkTarget(port, "nlb", lb.key, "", int(listener), az, lb.dns_name)]


def _cloud_map(
    topo: Topology, uri: str, port: int, enis: dict[str, PlanEni]
) -> list[PlanLinkTarget]:
    path, _, query = uri.partition("?")
    _, namespace, service = path.split("/", 2)
    svc = topo.cloud_map.services.get(service)
    if svc is None or svc.namespace != namespace:
        return []
    by_host = {e.owner: e for e in enis.values() if e.kind == "host"}
    # `?stage=prod&v=2`: DiscoverInstances' QueryParameters (every pair must match).
    wanted = dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair)
    out: list[PlanLinkTarget] = []
    for inst in svc.instances.values():
        if any(inst.attributes.get(k) != v for k, v in wanted.items()):
            continue
        ip = by_host[inst.host].ip if inst.host else (inst.ip or "")
        owner = next((e for e in enis.values() if e.ip == ip and e.kind == "host"), None)
        out.append(
            PlanLinkTarget(
                port + len(out), "instance", f"cloud_map/{namespace}/{service}/{inst.id}", ip,
                inst.port, owner.az if owner else "", inst.id, dict(inst.attributes),
                inst.health == "healthy",
            )
        )  # fmt: skip
    return out


def cloud_map_data(topo: Topology, enis: list[PlanEni]) -> PlanCloudMap:
    """Cloud Map with every instance's address resolved (`host` -> its ENI's address)."""
    cm = topo.cloud_map
    by_host = {e.owner: e.ip for e in enis if e.kind == "host"}
    return PlanCloudMap(
        namespaces={n: PlanCloudMapNamespace(ns.type, ns.vpc) for n, ns in cm.namespaces.items()},
        services={
            name: PlanCloudMapService(
                name,
                svc.namespace,
                {
                    i.id: PlanCloudMapInstance(
                        by_host.get(i.host, "") if i.host else (i.ip or ""),
                        i.port,
                        dict(i.attributes),
                        i.health,
                    )
                    for i in svc.instances.values()
                },
            )
            for name, svc in cm.services.items()
        },
    )
