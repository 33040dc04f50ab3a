"""IPv4 CIDR and address checks with the limits AWS applies to VPCs and subnets."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network

from yaml.nodes import Node

from hyperplane_emu.spec.nodes import Ctx

VPC_PREFIXES = (16, 28)
"""AWS: a VPC or subnet IPv4 block is between /16 and /28."""
RESERVED_HEAD = 4
"""AWS reserves the first four addresses of a subnet (network, router, DNS, future)
and the last one (broadcast)."""


def cidr(
    ctx: Ctx, node: Node, path: str, prefixes: tuple[int, int] = (0, 32), what: str = "CIDR"
) -> IPv4Network | None:
    """An IPv4 block written `a.b.c.d/n`, host bits zero, prefix within `prefixes`."""
    text = ctx.text(node, path, "an IPv4 CIDR block like 10.0.0.0/16")
    if text is None:
        return None
    if "/" not in text:
        ctx.error(path, node, f"{text!r} is not an IPv4 CIDR block (write a.b.c.d/n)")
        return None
    try:
        network = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        ctx.error(path, node, f"{text!r} is not an IPv4 CIDR block (write a.b.c.d/n)")
        return None
    if network.network_address != IPv4Address(text.split("/")[0]):
        ctx.error(path, node, f"{text} has host bits set; did you mean {network}?")
        return None
    low, high = prefixes
    if not low <= network.prefixlen <= high:
        ctx.error(path, node, f"a {what} must be /{low} to /{high}, not /{network.prefixlen}")
        return None
    return network


def address(ctx: Ctx, node: Node, path: str) -> IPv4Address | None:
    text = ctx.text(node, path, "an IPv4 address like 10.0.1.10")
    if text is None:
        return None
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        ctx.error(path, node, f"{text!r} is not an IPv4 address")
        return None


def reserved_reason(subnet: IPv4Network, ip: IPv4Address) -> str | None:
    """Why AWS would refuse `ip` as an instance address in `subnet`, or None."""
    offset = int(ip) - int(subnet.network_address)
    if offset < RESERVED_HEAD or ip == subnet.broadcast_address:
        roles = ["network address", "VPC router", "Amazon DNS server", "reserved for future use"]
        role = roles[offset] if offset < RESERVED_HEAD else "broadcast address"
        return (
            f"{ip} is reserved in subnet {subnet} ({role}); AWS reserves the first four "
            "addresses and the last"
        )
    return None
