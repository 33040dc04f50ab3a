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

from hyperplane_emu.plan import apigateway
from hyperplane_emu.plan.model import (
    PlanApi,
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
        seen: dict[str, int] = {}
        for route in api.routes:
            i = route.integration
            if i.connection_type != "VPC_LINK" or i.connection_id != lname or not i.uri:
                continue
            if i.uri in seen:
                continue
            seen[i.uri] = FRONT_PORTS + len(targets)
            target = _target(i.uri, seen[i.uri], lbs, enis)
            if target is not None:
                targets.append(target)
        lid = apigateway.vpc_link_id(t, aname, lname)
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
        )
    return out


def _target(
    uri: str, port: int, lbs: dict[str, PlanLoadBalancer], enis: dict[str, PlanEni]
) -> PlanLinkTarget | None:
    """`<vpc>/<lb>:<port>` -> a load balancer listener (Cloud Map comes with its section)."""
    if uri.startswith("cloud_map/") or ":" not in uri:
        return None
    lb_key, _, listener = uri.rpartition(":")
    lb = lbs.get(lb_key)
    if lb is None:
        return None
    az = enis[lb.enis[0]].az if lb.enis else ""
    return PlanLinkTarget(port, "nlb", lb.key, "", int(listener), az, lb.dns_name)
