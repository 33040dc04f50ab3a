"""The VPCs and ENIs as the packet walk reads them: ints and bytes, built once.

`EniState` and `VpcState` are the rows every other fabric module points at (the
flow table's halves, NLB nodes and targets, path handlers), so this module is a
leaf: it imports the plan model, route tables and security-group policies, and
nothing else of the fabric. `topology.py` builds them (and everything that hangs
off them) from a `Plan`.
"""

from __future__ import annotations

import ipaddress

from hyperplane_emu.plan.model import PlanEni, PlanVpc

from .routing import RouteTable
from .secgroup import EniPolicy

AMAZON_DNS_LINK_LOCAL = int(ipaddress.IPv4Address("169.254.169.253"))

NO_GROUPS: frozenset[str] = frozenset()
"""Peer groups of an address no ENI of the judging VPC has."""


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def unfiltered(kind: str, groups: tuple[str, ...] | frozenset[str] = ()) -> bool:
    """NLB nodes without security groups are not filtered (NLBs created without groups:
    "all client traffic that reaches the load balancer is allowed"); an NLB with groups
    is judged by them. The Amazon DNS server's traffic is not filtered by groups (EC2
    User Guide); API Gateway's own ENIs carry none."""
    if kind == "nlb":
        return not groups
    return kind in ("resolver", "apigw", "vpce-ingress")


class EniState:
    """An ENI as the core needs it: ints and bytes, ready for the hot path."""

    __slots__ = (
        "id",
        "port",
        "vpc",
        "ip",
        "mac",
        "fabric_mac",
        "l2_to",
        "source_dest_check",
        "groups",
        "policy",
        "kind",
        "az",
        "unfiltered",
        "subnet",
    )

    def __init__(self, eni: PlanEni, vpc: VpcState, policy: EniPolicy) -> None:
        self.id = eni.id
        self.kind = eni.kind
        self.az = eni.az
        self.unfiltered = unfiltered(eni.kind, eni.security_groups)
        # Subnet id (what network ACLs are associated with); None outside any subnet.
        self.subnet: str | None = vpc.subnet_ids.get(eni.subnet)
        self.port = eni.port
        self.vpc = vpc
        self.ip = ip(eni.ip)
        self.mac = mac(eni.mac)
        self.fabric_mac = mac(eni.fabric_mac)
        # Ethernet dst+src of every frame delivered *to* this ENI.
        self.l2_to = self.mac + self.fabric_mac
        self.source_dest_check = eni.source_dest_check
        self.groups = frozenset(eni.security_groups)
        self.policy = policy


class VpcState:
    """One VPC: its CIDR, route table, ENIs by address and the router's own addresses."""

    __slots__ = (
        "index",
        "id",
        "name",
        "account_id",
        "net",
        "mask",
        "routes",
        "enis",
        "routers",
        "services",
        "resolver",
        "dns_addresses",
        "subnet_ids",
    )

    def __init__(self, index: int, vpc: PlanVpc) -> None:
        n = ipaddress.IPv4Network(vpc.cidr, strict=False)
        self.index = index
        self.id = vpc.id
        self.name = vpc.name
        self.account_id = vpc.account_id
        self.net = int(n.network_address)
        self.mask = int(n.netmask)
        self.routes = RouteTable(vpc.routes)
        self.enis: dict[int, EniState] = {}
        self.routers = frozenset(ip(s.router_ip) for s in vpc.subnets.values())
        # Addresses the router itself owns: subnet routers, the resolver.
        self.dns_addresses = frozenset((ip(vpc.dns_ip), AMAZON_DNS_LINK_LOCAL))
        self.services = self.routers | self.dns_addresses
        self.resolver: EniState | None = None
        self.subnet_ids = {name: s.id for name, s in vpc.subnets.items()}

    def contains(self, addr: int) -> bool:
        return addr & self.mask == self.net

    def groups_of(self, addr: int) -> frozenset[str]:
        """Security groups of the ENI with `addr` in this VPC (what SG-reference rules match)."""
        peer = self.enis.get(addr)
        return peer.groups if peer is not None else NO_GROUPS
