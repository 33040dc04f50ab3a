"""An ENI asked for by one AWS object family, before the plan gives it an address.

Each `build_*` module turns its objects (hosts, load balancers, endpoints, VPC
links...) into `EniRequest`s; `build` hands out addresses and ports in one
fixed order over all of them. Shared here so that the family modules and
`build` need not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_network

from hyperplane_emu.plan.model import EniKind


@dataclass
class EniRequest:
    """An ENI to be given an address and, if it is a veth, a port."""

    kind: EniKind
    path: str  # id seed and error path
    vpc: str
    subnet: str
    owner: str
    description: str
    groups: tuple[str, ...]
    source_dest_check: bool
    namespace: str
    ip: IPv4Address | None = None
    prefixlen: int = 0
    veth: bool = True


# What an ENI's owner is called in messages.
WHAT = {
    "host": "host",
    "nlb": "load balancer",
    "vpce": "endpoint",
    "resolver": "resolver",
    "apigw": "API Gateway",
    "apigw-public": "API Gateway",
    "vpce-ingress": "endpoint",
    "vpclink": "VPC link",
    "vpclink-front": "VPC link",
    "igw": "internet gateway",
    "alb": "load balancer",
}


def net(cidr: str) -> IPv4Network:
    n = ip_network(cidr)
    assert isinstance(n, IPv4Network)
    return n
