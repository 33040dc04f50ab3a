"""The plan of a VPC itself: ids, subnets, security groups, route table, resolver.

Part of `build`: what AWS creates with the VPC (its subnets and their routers,
its security groups with their rule ids, its Amazon DNS resolver), apart from
the hosts, load balancers and endpoints placed in it.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from hyperplane_emu.plan import apigateway, flowlogs, ids, nacl, names, onprem
from hyperplane_emu.plan.addresses import SubnetAllocator, dns, router
from hyperplane_emu.plan.enirequest import EniRequest, net
from hyperplane_emu.plan.model import (
    PlanRoute,
    PlanSecurityGroup,
    PlanSgRule,
    PlanSubnet,
    PlanVpc,
)
from hyperplane_emu.spec.model import SecurityGroup, Topology, Vpc

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "all": -1}
AMAZON_DNS_LINK_LOCAL = "169.254.169.253"


def internet_route(topo: Topology, t: str, vname: str) -> tuple[PlanRoute, ...]:
    """With the emulated internet present, every VPC reaches it through its own
    gateway, with one public address (a NAT gateway's Elastic IP, in effect)."""
    if apigateway.INTERNET_VPC not in topo.vpcs or vname == apigateway.INTERNET_VPC:
        return ()
    return (PlanRoute("0.0.0.0/0", ids.aws_id("igw", t, f"vpc/{vname}/igw")),)


def plan_vpc(topo: Topology, t: str, vname: str, v: Vpc) -> PlanVpc:
    vpc_net = net(v.cidr)
    subnets = {
        sname: PlanSubnet(
            id=ids.aws_id("subnet", t, f"vpc/{vname}/subnet/{sname}"),
            name=sname,
            vpc=vname,
            cidr=s.cidr,
            az=s.az,
            router_ip=str(router(net(s.cidr))),
        )
        for sname, s in v.subnets.items()
    }
    return PlanVpc(
        id=ids.aws_id("vpc", t, f"vpc/{vname}"),
        name=vname,
        account_id=topo.accounts[v.account],
        cidr=v.cidr,
        dns_ip=str(dns(vpc_net)),
        subnets=subnets,
        security_groups=security_groups(t, vname, v),
        flow_logs=flowlogs.flow_logs(t, vname, v),
        network_acls=nacl.network_acls(t, vname, v, {name: s.id for name, s in subnets.items()}),
        routes=(
            PlanRoute(v.cidr, "local"),
            *onprem.routes(topo, vname),
            *internet_route(topo, t, vname),
        ),
    )


def resolver_requests(t: str, vpcs: dict[str, PlanVpc]) -> list[EniRequest]:
    """The VPC's DNS address (base + 2) and the link-local one."""
    return [
        EniRequest(
            "resolver",
            f"vpcs.{vname}.resolver",
            vname,
            "",
            f"dns-{vname}",
            f"Amazon DNS server of {vname}",
            (),
            False,
            names.namespace(t, f"dns-{vname}"),
            IPv4Address(pv.dns_ip),
            net(pv.cidr).prefixlen,
        )
        for vname, pv in vpcs.items()
    ]


def az_of(pv: PlanVpc, ip: str) -> str | None:
    a = IPv4Address(ip)
    for s in pv.subnets.values():
        if a in net(s.cidr):
            return s.az
    return None


def allocators(v: Vpc) -> dict[str, SubnetAllocator]:
    pinned: dict[str, set[IPv4Address]] = {s: set() for s in v.subnets}
    for h in v.hosts.values():
        if h.private_ip is not None:
            pinned[h.subnet].add(IPv4Address(h.private_ip))
    return {s: SubnetAllocator(net(v.subnets[s].cidr), pinned[s]) for s in v.subnets}


def security_groups(t: str, vname: str, v: Vpc) -> dict[str, PlanSecurityGroup]:
    group_ids = {g: ids.aws_id("sg", t, f"vpc/{vname}/sg/{g}") for g in v.security_groups}
    return {g: _security_group(t, vname, sg, group_ids) for g, sg in v.security_groups.items()}


def _security_group(
    t: str, vname: str, sg: SecurityGroup, group_ids: dict[str, str]
) -> PlanSecurityGroup:
    rules: list[PlanSgRule] = []
    for direction, spec_rules in (("ingress", sg.ingress), ("egress", sg.egress)):
        for i, r in enumerate(spec_rules):
            proto = PROTOCOL_NUMBERS[r.protocol]
            # AWS spells "every port" as -1 for all-protocol and ICMP-any rules.
            lo, hi = (r.from_port, r.to_port) if proto in (6, 17) else (-1, -1)
            rules.append(
                PlanSgRule(
                    rule_id=ids.aws_id("sgr", t, f"vpc/{vname}/sg/{sg.name}/{direction}/{i}"),
                    direction="ingress" if direction == "ingress" else "egress",
                    protocol=proto,
                    from_port=lo,
                    to_port=hi,
                    cidr=None if r.peer_is_group else r.peer,
                    group_id=group_ids[r.peer_group] if r.peer_is_group else None,
                    description=r.description,
                )
            )
    return PlanSecurityGroup(
        id=group_ids[sg.name],
        name=sg.name,
        vpc=vname,
        description=sg.description,
        rules=tuple(rules),
    )
