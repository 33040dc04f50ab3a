"""The plan of PrivateLink: endpoint services and interface endpoints with their ENIs.

Part of `build`: an interface endpoint's ENI requests (virtual ENIs: no veth),
and for an execute-api endpoint its source addresses in API Gateway's VPC;
then, once addressed, the endpoints and services with their AWS-shaped names.
Naming is `privatelink`'s.
"""

from __future__ import annotations

from hyperplane_emu.plan import apigateway, ids, privatelink
from hyperplane_emu.plan.enirequest import EniRequest
from hyperplane_emu.plan.model import (
    PlanEndpoint,
    PlanEndpointService,
    PlanEni,
    PlanVpc,
)
from hyperplane_emu.spec.model import Topology


def endpoint_requests(
    topo: Topology, t: str, vpcs: dict[str, PlanVpc]
) -> dict[str, list[EniRequest]]:
    """ "<vpc>/<endpoint>" -> its ENIs, each followed for execute-api by
    "<vpc>/<endpoint>/ingress": addresses are handed out in this order."""
    out: dict[str, list[EniRequest]] = {}
    for vname, v in topo.vpcs.items():
        for ename, ep in v.endpoints.items():
            groups = ep.security_groups or ("default",)
            eid = ids.aws_id("vpce", t, f"vpc/{vname}/endpoint/{ename}")
            out[f"{vname}/{ename}"] = [
                EniRequest(
                    "vpce",
                    f"vpcs.{vname}.endpoints.{ename}.subnets.{s}",
                    vname,
                    s,
                    ename,
                    f"VPC Endpoint Interface {eid}",
                    tuple(vpcs[vname].security_groups[g].id for g in groups),
                    True,
                    "",
                    veth=False,
                )
                for s in ep.subnets
            ]
            if ep.service == privatelink.EXECUTE_API:
                out[f"{vname}/{ename}/ingress"] = _ingress_requests(
                    topo, vname, ename, eid, ep.subnets
                )
    return out


def _ingress_requests(
    topo: Topology, vname: str, ename: str, eid: str, subnets: tuple[str, ...]
) -> list[EniRequest]:
    """Per AZ of an execute-api endpoint: its source address in API Gateway's VPC."""
    agw = topo.vpcs[apigateway.VPC]
    by_az = {s.az: name for name, s in agw.subnets.items()}
    consumer = topo.vpcs[vname]
    out = []
    for s in subnets:
        target = by_az.get(consumer.subnets[s].az, next(iter(agw.subnets)))
        out.append(
            EniRequest(
                "vpce-ingress",
                f"vpcs.{vname}.endpoints.{ename}.ingress.{s}",
                apigateway.VPC,
                target,
                ename,
                f"PrivateLink ingress of {eid}",
                (),
                True,
                "",
                veth=False,
            )
        )
    return out


def endpoint_services(
    topo: Topology, t: str, region: str, vpcs: dict[str, PlanVpc]
) -> dict[str, PlanEndpointService]:
    out = {}
    for vname, v in topo.vpcs.items():
        for sname, svc in v.endpoint_services.items():
            key = f"{vname}/{sname}"
            sid = ids.aws_id("vpce-svc", t, f"vpc/{vname}/endpoint-service/{sname}")
            out[key] = PlanEndpointService(
                key=key,
                id=sid,
                name=sname,
                service_name=privatelink.service_name(region, sid),
                vpc=vname,
                account_id=vpcs[vname].account_id,
                load_balancer=f"{vname}/{svc.load_balancer}",
                acceptance_required=svc.acceptance_required,
                allowed_principals=svc.allowed_principals,
                private_dns_name=svc.private_dns_name,
            )
    return out


def endpoints(
    topo: Topology,
    t: str,
    region: str,
    vpcs: dict[str, PlanVpc],
    ep_requests: dict[str, list[EniRequest]],
    by_path: dict[str, PlanEni],
    services: dict[str, PlanEndpointService],
) -> dict[str, PlanEndpoint]:
    out = {}
    for vname, v in topo.vpcs.items():
        pv = vpcs[vname]
        for ename, ep in v.endpoints.items():
            key = f"{vname}/{ename}"
            eid = ids.aws_id("vpce", t, f"vpc/{vname}/endpoint/{ename}")
            enis = [by_path[r.path] for r in ep_requests[key]]
            if ep.service == privatelink.EXECUTE_API:
                service_key, service_id, private_name = ep.service, ep.service, None
                state = "available"
            else:
                svc = services[ep.service]
                service_key, service_id = svc.key, svc.id
                private_name = svc.private_dns_name
                state = "pendingAcceptance" if svc.acceptance_required else "available"
            groups = ep.security_groups or ("default",)
            out[key] = PlanEndpoint(
                key=key,
                id=eid,
                name=ename,
                vpc=vname,
                account_id=pv.account_id,
                service=service_key,
                service_name=privatelink.service_name(region, service_id),
                subnets=ep.subnets,
                security_groups=tuple(pv.security_groups[g].id for g in groups),
                enis=tuple(e.id for e in enis),
                dns_names=privatelink.endpoint_dns_names(
                    region,
                    eid,
                    ids.dns_suffix(t, key),
                    service_id,
                    [e.az for e in enis],
                ),
                private_dns=ep.private_dns,
                private_dns_names=(
                    privatelink.private_dns_names(region, service_id, private_name)
                    if ep.private_dns
                    else ()
                ),
                state=state,  # type: ignore[arg-type]
                ingress_enis=tuple(
                    by_path[r.path].id for r in ep_requests.get(f"{key}/ingress", [])
                ),
            )
    return out
