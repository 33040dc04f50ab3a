"""On premises: a data centre as one more (pseudo) VPC, joined through a VGW stand-in.

Routing between it and each connected VPC goes through a virtual private gateway
(`vgw-…` routes on both sides, no translation: Direct Connect and VPN route
private addresses as they are). Its resolver knows only public names (plus its
own hosts): no VPC's private DNS reaches a data centre, which is why AWS tells
on-premises clients of a private API to use the endpoint-specific hostname.
"""

from __future__ import annotations

from dataclasses import replace

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import PlanRoute
from hyperplane_emu.spec.model import Host, SecurityGroup, SgRule, Subnet, Topology, Vpc

VPC = "onprem"
ACCOUNT_KEY = "onprem"
ACCOUNT_ID = "000000000001"


def expand(t: Topology) -> Topology:
    op = t.on_premises
    if op is None:
        return t
    everything_in = SgRule("ingress", "all", 0, 65535, "0.0.0.0/0")
    everything_out = SgRule("egress", "all", 0, 65535, "0.0.0.0/0")
    vpc = Vpc(
        VPC,
        op.cidr,
        ACCOUNT_KEY,
        {"dc": Subnet("dc", op.cidr, f"{t.region}a")},
        {
            "default": SecurityGroup(
                "default", "the data centre", (everything_in,), (everything_out,)
            )
        },
        {h: Host(h, "dc", ("default",)) for h in op.hosts},
    )
    return replace(t, vpcs={**t.vpcs, VPC: vpc}, accounts={**t.accounts, ACCOUNT_KEY: ACCOUNT_ID})


def vgw_id(t: str, vpc: str) -> str:
    return ids.aws_id("vgw", t, f"vpc/{vpc}/vgw")


def routes(t: Topology, vname: str) -> tuple[PlanRoute, ...]:
    """VGW routes of `vname`: to the data centre, or (for it) to each connected VPC."""
    op = t.on_premises
    if op is None:
        return ()
    if vname == VPC:
        return tuple(PlanRoute(t.vpcs[v].cidr, vgw_id(t.name, v)) for v in op.connected_to)
    if vname in op.connected_to:
        return (PlanRoute(op.cidr, vgw_id(t.name, vname)),)
    return ()
