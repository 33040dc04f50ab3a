"""The VPC router's own answers (sans-IO): the echo reply to a ping of a subnet's
router address (.1), the one thing AWS's router answers itself."""

from __future__ import annotations

from .checksum import csum_replace16, internet_checksum
from .packet import PROTO_ICMP, Packet
from .tables import EniState


def echo_reply(eni: EniState, p: Packet, frame: bytes) -> bytes | None:
    """The router's answer to a ping; None if the request's ICMP checksum is bad."""
    icmp = frame[14 + p.ihl : 14 + p.tot_len]
    if internet_checksum(icmp) != 0:
        return None
    old_word = (icmp[0] << 8) | icmp[1]
    csum = csum_replace16((icmp[2] << 8) | icmp[3], old_word, old_word & 0x00FF)  # type 8 -> 0
    icmp_out = b"\x00" + icmp[1:2] + csum.to_bytes(2, "big") + icmp[4:]
    hdr = bytearray(20)
    hdr[0] = 0x45
    hdr[2:4] = (20 + len(icmp_out)).to_bytes(2, "big")
    hdr[8] = 64
    hdr[9] = PROTO_ICMP
    hdr[12:16] = p.dst.to_bytes(4, "big")
    hdr[16:20] = p.src.to_bytes(4, "big")
    hdr[10:12] = internet_checksum(hdr).to_bytes(2, "big")
    return eni.l2_to + b"\x08\x00" + bytes(hdr) + icmp_out
