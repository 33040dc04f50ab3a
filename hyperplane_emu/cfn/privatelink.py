"""PrivateLink resources -> the topology's `endpoint_services` and `endpoints`.

Endpoint services (in front of an NLB), their permissions, and interface endpoints
(execute-api or a service of this template).
"""

from __future__ import annotations

import re
from typing import Any

from hyperplane_emu.cfn.ec2 import group_names
from hyperplane_emu.cfn.elbv2 import lb_entry
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import ENDPOINT, LB, PERMISSIONS, SERVICE, SUBNET, VPC
from hyperplane_emu.cfn.translate import Handler, Translator

EXECUTE_API = re.compile(r"com\.amazonaws\.([a-z0-9-]+)\.execute-api")
SERVICE_ID = re.compile(r"vpce-svc-[0-9a-f]{17}")


def _endpoint_service(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    if p.has("GatewayLoadBalancerArns"):
        p.error("GatewayLoadBalancerArns", "Gateway Load Balancers are not emulated")
        return
    lbs = p.refs("NetworkLoadBalancerArns", LB, required=True)
    if len(lbs) != 1:
        if lbs:
            p.error("NetworkLoadBalancerArns", "one NLB per endpoint service is emulated")
        return
    found = lb_entry(tr, lbs[0].id)
    if found is None:
        return
    vname, lb_name, _ = found
    svc: dict[str, Any] = {"load_balancer": lb_name}
    acceptance = p.flag("AcceptanceRequired")
    if acceptance is not None:
        svc["acceptance_required"] = acceptance
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("endpoint_services", {})[name] = svc
    path = f"vpcs.{vname}.endpoint_services.{name}"
    p.place(path, load_balancer="NetworkLoadBalancerArns")


def _permissions(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    svc = p.ref("ServiceId", SERVICE, required=True)
    if svc is None:
        return
    path = tr.out.names.get(svc.id, "")
    parts = path.split(".")
    if len(parts) != 4:
        return
    entry = tr.topology["vpcs"][parts[1]]["endpoint_services"][parts[3]]
    principals = entry.setdefault("allowed_principals", [])
    for i, v in enumerate(p.items("AllowedPrincipals")):
        text = p.text(v, f"{p.path('AllowedPrincipals')}[{i}]")
        if text is not None:
            principals.append(text)
    tr.prov(f"{path}.allowed_principals", p.path("AllowedPrincipals"))
    tr.out.names[res.id] = path


def _endpoint(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    etype = (p.string("VpcEndpointType") or "Gateway").lower()
    service_name = p.string("ServiceName", required=True) or ""
    if etype != "interface":
        tr.skip(
            res,
            f"{etype} endpoints are not emulated (interface endpoints are); "
            "CloudFormation's default VpcEndpointType is Gateway",
        )
        return
    vpc = p.ref("VpcId", VPC, required=True)
    if vpc is None:
        return
    vname = tr.names[vpc.id]
    service: str | None = None
    if EXECUTE_API.fullmatch(service_name):
        service = "execute-api"
    else:
        m = SERVICE_ID.search(service_name)
        owner = tr.stack.tokens.owner.get(m.group(0)) if m else None
        if owner is not None and owner[0] in tr.out.names:
            svc_path = tr.out.names[owner[0]].split(".")
            service = f"{svc_path[1]}/{svc_path[3]}"
    if service is None:
        tr.skip(
            res,
            f"interface endpoint to {service_name!r}: only execute-api and endpoint "
            "services of this template are emulated",
        )
        return
    ep: dict[str, Any] = {
        "service": service,
        "type": "interface",
        "subnets": [tr.names[s.id] for s in p.refs("SubnetIds", SUBNET, required=True)],
    }
    groups = group_names(tr, p, "SecurityGroupIds")
    if groups:
        ep["security_groups"] = groups
    # CloudFormation's PrivateDnsEnabled defaults to false, unlike the console.
    ep["private_dns"] = bool(p.flag("PrivateDnsEnabled"))
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("endpoints", {})[name] = ep
    path = f"vpcs.{vname}.endpoints.{name}"
    p.place(
        path,
        subnets="SubnetIds",
        service="ServiceName",
        private_dns="PrivateDnsEnabled",
        security_groups="SecurityGroupIds",
    )


HANDLERS: dict[str, Handler] = {
    SERVICE: _endpoint_service,
    PERMISSIONS: _permissions,
    ENDPOINT: _endpoint,
}
"""Type -> its translator (resources.translate_all runs them in dependence order)."""
