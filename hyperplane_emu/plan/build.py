"""spec.Topology -> Plan: pure and deterministic.

Iteration follows the file's order (YAML mappings keep it), never set or hash
order, so the same file always gives the same plan, and ports, addresses and
names of existing hosts do not move when a host is appended.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_network

from hyperplane_emu.plan import ids, names
from hyperplane_emu.plan.addresses import SubnetAllocator, dns, router
from hyperplane_emu.plan.model import (
    PLAN_VERSION,
    Plan,
    PlanEni,
    PlanHost,
    PlanRoute,
    PlanSecurityGroup,
    PlanServe,
    PlanSettings,
    PlanSgRule,
    PlanSubnet,
    PlanVpc,
)
from hyperplane_emu.spec.errors import SpecError, SpecIssue
from hyperplane_emu.spec.model import SecurityGroup, Topology, Vpc

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "all": -1}


class PlanError(SpecError):
    """The file is valid but cannot be realized (e.g. a subnet has no free address).

    A SpecError subclass so that callers report both the same way: path + message.
    """


def build(topology: Topology) -> Plan:
    t = topology.name
    issues: list[SpecIssue] = []
    vpcs: dict[str, PlanVpc] = {}
    hosts: dict[str, PlanHost] = {}
    enis: list[PlanEni] = []
    pending: list[tuple[str, str, IPv4Address, str]] = []  # (vpc, host, ip, subnet)

    for vname, v in topology.vpcs.items():
        vpc_net = ip_network(v.cidr)
        assert isinstance(vpc_net, IPv4Network)
        subnets = {
            sname: PlanSubnet(
                id=ids.aws_id("subnet", t, f"vpc/{vname}/subnet/{sname}"),
                name=sname,
                vpc=vname,
                cidr=s.cidr,
                az=s.az,
                router_ip=str(router(_net(s.cidr))),
            )
            for sname, s in v.subnets.items()
        }
        groups = _security_groups(t, vname, v)
        vpcs[vname] = PlanVpc(
            id=ids.aws_id("vpc", t, f"vpc/{vname}"),
            name=vname,
            account_id=topology.accounts[v.account],
            cidr=v.cidr,
            dns_ip=str(dns(vpc_net)),
            subnets=subnets,
            security_groups=groups,
            routes=(PlanRoute(v.cidr, "local"),),
        )
        allocators = _allocators(v)
        for hname, h in v.hosts.items():
            if h.private_ip is not None:
                ip: IPv4Address | None = IPv4Address(h.private_ip)
            else:
                ip = allocators[h.subnet].take()
            if ip is None:
                cap = allocators[h.subnet].capacity
                issues.append(
                    SpecIssue(
                        f"vpcs.{vname}.hosts.{hname}.subnet",
                        f"subnet {h.subnet} ({v.subnets[h.subnet].cidr}) has no free address "
                        f"left: it holds {cap} hosts once AWS's 5 reserved addresses are taken",
                    )
                )
                continue
            pending.append((vname, hname, ip, h.subnet))

    if issues:
        raise PlanError(issues, topology.source or "<string>")

    owners = [(port, hname) for port, (_, hname, _, _) in enumerate(pending)]
    fabric_ifs = names.fabric_ifnames(owners)

    for port, (vname, hname, ip, sname) in enumerate(pending):
        v = topology.vpcs[vname]
        h = v.hosts[hname]
        pvpc = vpcs[vname]
        subnet = pvpc.subnets[sname]
        eni_path = f"vpc/{vname}/host/{hname}/eni/0"
        ns = names.namespace(t, hname)
        eni = PlanEni(
            id=ids.aws_id("eni", t, eni_path),
            kind="host",
            owner=hname,
            description=f"Primary network interface of {hname}",
            vpc=vname,
            subnet=sname,
            az=subnet.az,
            ip=str(ip),
            prefixlen=_net(subnet.cidr).prefixlen,
            mac=ids.mac(t, eni_path),
            fabric_mac=ids.mac(t, eni_path + "/router"),
            security_groups=tuple(pvpc.security_groups[g].id for g in h.security_groups),
            source_dest_check=h.source_dest_check,
            mtu=topology.settings.mtu,
            namespace=ns,
            ifname=names.host_ifname(0),
            fabric_ifname=fabric_ifs[port],
            port=port,
        )
        enis.append(eni)
        hosts[hname] = PlanHost(
            name=hname,
            vpc=vname,
            subnet=sname,
            namespace=ns,
            hostname=_hostname(topology.region, ip),
            enis=(eni.id,),
            gateway=subnet.router_ip,
            resolv_conf=_resolv_conf(topology.region, pvpc.dns_ip),
            serve=tuple(PlanServe(s.kind, s.port) for s in h.serve),
        )

    s = topology.settings
    return Plan(
        version=PLAN_VERSION,
        name=t,
        region=topology.region,
        accounts=dict(topology.accounts),
        prefix=names.topology_prefix(t),
        fabric_namespace=names.fabric_namespace(t),
        vpcs=vpcs,
        hosts=hosts,
        enis=tuple(enis),
        settings=PlanSettings(s.conntrack_max, s.flow_log_interval, s.mtu),
        source=topology.source,
    )


def _net(cidr: str) -> IPv4Network:
    n = ip_network(cidr)
    assert isinstance(n, IPv4Network)
    return n


def _allocators(v: Vpc) -> dict[str, SubnetAllocator]:
    pinned: dict[str, set[IPv4Address]] = {s: set() for s in v.subnets}
    for h in v.hosts.values():
        if h.private_ip is not None:
            pinned[h.subnet].add(IPv4Address(h.private_ip))
    return {s: SubnetAllocator(_net(v.subnets[s].cidr), pinned[s]) for s in v.subnets}


def _security_groups(t: str, vname: str, v: Vpc) -> dict[str, PlanSecurityGroup]:
    group_ids = {g: ids.aws_id("sg", t, f"vpc/{vname}/sg/{g}") for g in v.security_groups}
    return {
        g: _security_group(t, vname, sg, group_ids) for g, sg in v.security_groups.items()
    }


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


def _hostname(region: str, ip: IPv4Address) -> str:
    """EC2's private DNS hostname (IP-based naming)."""
    dashed = "ip-" + str(ip).replace(".", "-")
    return f"{dashed}.{_search_domain(region)}"


def _search_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def _resolv_conf(region: str, dns_ip: str) -> str:
    return f"nameserver {dns_ip}\nsearch {_search_domain(region)}\noptions timeout:2 attempts:2\n"
