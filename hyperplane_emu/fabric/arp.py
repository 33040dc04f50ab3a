"""ARP responder: the VPC router answers for every address of its VPC.

On AWS every frame leaves an instance towards the VPC router, even to a
neighbour in the same subnet (that is why security groups apply between
neighbours). The fabric reproduces it by answering every ARP request from a
host ENI for an address of its VPC (router .1 and resolver .2 included, and
169.254.169.253) with that ENI's ``fabric_mac``. Everything else is ignored
and counted: ARP replies, gratuitous ARP (sender = target), probes for the
requester's own address (duplicate address detection must not see a
conflict), targets outside the VPC, malformed packets.
"""

from __future__ import annotations

ARP_LEN = 28
_REQ_HEADER = b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet/IPv4, hlen 6, plen 4, request
_REPLY_HEADER = b"\x00\x01\x08\x00\x06\x04\x00\x02"
_ETH_ARP = b"\x08\x06"


def parse_request(frame: bytes) -> tuple[bytes, int, int] | str:
    """(sender MAC, sender IP, target IP) of an ARP request, or why it is ignored."""
    if len(frame) < 14 + ARP_LEN:
        return "arp-truncated"
    hdr = frame[14:22]
    if hdr != _REQ_HEADER:
        if hdr[:6] == _REQ_HEADER[:6] and hdr[6:8] == b"\x00\x02":
            return "arp-reply-ignored"
        return "arp-malformed"
    sha = frame[22:28]
    spa = int.from_bytes(frame[28:32], "big")
    tpa = int.from_bytes(frame[38:42], "big")
    if spa == tpa:
        return "arp-gratuitous"
    return sha, spa, tpa


def build_reply(
    router_mac: bytes, requester_mac: bytes, requester_ip: int, target_ip: int
) -> bytes:
    """The router's answer: ``target_ip is-at router_mac``, unicast to the requester."""
    return b"".join(
        (
            requester_mac,
            router_mac,
            _ETH_ARP,
            _REPLY_HEADER,
            router_mac,
            target_ip.to_bytes(4, "big"),
            requester_mac,
            requester_ip.to_bytes(4, "big"),
        )
    )
