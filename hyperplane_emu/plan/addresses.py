"""Private IPv4 allocation inside a subnet, skipping what AWS reserves.

AWS reserves five addresses of every subnet: the network address, base + 1
(the VPC router), base + 2 (the Amazon DNS server), base + 3 (future use) and
the broadcast address. Automatic addresses are handed out upwards from base + 4
in the order hosts appear in the file, around any address pinned with
`private_ip`, so adding a host at the end never moves an existing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network

FIRST_USABLE_OFFSET = 4


def usable(subnet: IPv4Network) -> Iterator[IPv4Address]:
    base = int(subnet.network_address)
    last = int(subnet.broadcast_address)
    for n in range(base + FIRST_USABLE_OFFSET, last):
        yield IPv4Address(n)


def router(subnet: IPv4Network) -> IPv4Address:
    return subnet.network_address + 1


def dns(vpc: IPv4Network) -> IPv4Address:
    """The Amazon-provided DNS server: VPC base + 2 (also 169.254.169.253)."""
    return vpc.network_address + 2


class SubnetAllocator:
    """Hands out addresses of one subnet; pinned ones are taken first."""

    def __init__(self, subnet: IPv4Network, pinned: set[IPv4Address]) -> None:
        self.subnet = subnet
        self._taken = set(pinned)
        self._next = usable(subnet)

    def take(self) -> IPv4Address | None:
        """The next free usable address, or None when the subnet is full."""
        for ip in self._next:
            if ip not in self._taken:
                self._taken.add(ip)
                return ip
        return None

    @property
    def capacity(self) -> int:
        return max(self.subnet.num_addresses - 5, 0)
