"""The plan of API Gateway's side: its data-plane ENIs, the emulated internet, VPC links V2.

Part of `build`: the ENI requests of what the emulator adds for API Gateway
(its host in its own VPC, its regional front, each VPC's internet gateway
address) and of HTTP API VPC links (a Hyperplane ENI per subnet, one front in
API Gateway's VPC). What these carry is `apigateway`'s and `vpclinks`'.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from hyperplane_emu.plan import apigateway, ids, names
from hyperplane_emu.plan.enirequest import EniRequest
from hyperplane_emu.plan.model import PlanApiGateway, PlanEni, PlanVpc
from hyperplane_emu.spec.model import Topology


def gateway_requests(topo: Topology, t: str) -> list[EniRequest]:
    """API Gateway's data-plane host and its regional front on the internet."""
    if apigateway.VPC not in topo.vpcs:
        return []
    return [
        EniRequest(
            "apigw",
            "apigateway.data-plane",
            apigateway.VPC,
            next(iter(topo.vpcs[apigateway.VPC].subnets)),
            apigateway.HOST,
            "API Gateway data plane",
            (),
            True,
            names.namespace(t, apigateway.HOST),
        ),
        EniRequest(
            "apigw-public",
            "apigateway.public",
            apigateway.INTERNET_VPC,
            "public",
            apigateway.HOST,
            "API Gateway regional front",
            (),
            True,
            "",
            IPv4Address(apigateway.PUBLIC_IP),
            veth=False,
        ),
    ]


def internet_gateway_requests(topo: Topology) -> list[EniRequest]:
    """Each VPC's public address on the emulated internet."""
    if apigateway.INTERNET_VPC not in topo.vpcs:
        return []
    return [
        EniRequest(
            "igw",
            f"vpcs.{vname}.internet_gateway",
            apigateway.INTERNET_VPC,
            "public",
            vname,
            f"public address of {vname} (internet gateway / NAT)",
            (),
            False,
            "",
            veth=False,
        )  # fmt: skip
        for vname in topo.vpcs
        if vname != apigateway.INTERNET_VPC
    ]


def vpc_link_requests(
    topo: Topology, t: str, vpcs: dict[str, PlanVpc]
) -> dict[str, list[EniRequest]]:
    """HTTP API VPC links: a Hyperplane ENI per subnet (customer VPC), one front (ours)."""
    out: dict[str, list[EniRequest]] = {}
    for aname, api in topo.apis.items():
        for lname, link in api.vpc_links.items():
            if link.vpc is None:
                continue  # a REST V1 link: endpoint service + endpoint (apigateway.expand)
            lid = ids.vpc_link_id(t, aname, lname)
            groups = link.security_groups or ("default",)
            sg_ids = tuple(vpcs[link.vpc].security_groups[g].id for g in groups)
            reqs = [
                EniRequest(
                    "vpclink", f"apis.{aname}.vpc_links.{lname}.subnets.{sub}", link.vpc,
                    sub, lname, f"VPC Link ENI {lid} (requester-managed by API Gateway)",
                    sg_ids, True, "", veth=False,
                )
                for sub in link.subnets
            ]  # fmt: skip
            front = EniRequest(
                "vpclink-front", f"apis.{aname}.vpc_links.{lname}.front", apigateway.VPC,
                next(iter(topo.vpcs[apigateway.VPC].subnets)), lname,
                f"API Gateway side of VPC link {lid}", (), False, "", veth=False,
            )  # fmt: skip
            out[f"{aname}/{lname}"] = [*reqs, front]
    return out


def api_gateway(by_path: dict[str, PlanEni]) -> PlanApiGateway | None:
    e = by_path.get("apigateway.data-plane")
    if e is None:
        return None
    public = by_path["apigateway.public"]
    return PlanApiGateway(
        apigateway.VPC,
        apigateway.ACCOUNT_ID,
        apigateway.HOST,
        e.id,
        e.ip,
        apigateway.PORTS,
        public.id,
        public.ip,
    )
