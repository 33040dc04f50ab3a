"""Internet checksum helpers (RFC 1071) and incremental updates (RFC 1624).

The fabric never recomputes a checksum on the forwarding path: it changes a
few header words and patches the checksum from the old and new values of those
words, using RFC 1624 equation 3, ``HC' = ~(~HC + ~m + m')``, which (unlike RFC
1141's form) never produces the "negative zero" 0x0000 for a header whose sum
is 0xFFFF. The TTL decrement is a table here (`TTL_DECREMENT_CSUM`); address
and port translation precomputes its deltas once per flow (`nat.set_nat`).
"""

from __future__ import annotations

__all__ = [
    "internet_checksum",
    "csum_replace16",
    "TTL_DECREMENT_CSUM",
]


def internet_checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 checksum of ``data`` (odd length padded with a zero byte).

    For tests, header validation on the slow path and frames the fabric
    originates itself (ARP has none; the router's ICMP echo replies do). Never per packet
    on the fast path.
    """
    b = bytes(data)
    if len(b) & 1:
        b += b"\x00"
    # Since 2**16 = 1 (mod 0xFFFF), the end-around-carry sum of the 16-bit words
    # is the whole buffer read as one big integer, modulo 0xFFFF, except that a
    # non-zero buffer summing to a multiple of 0xFFFF folds to 0xFFFF, not 0.
    total = int.from_bytes(b, "big")
    s = total % 0xFFFF
    if s == 0 and total:
        s = 0xFFFF
    return ~s & 0xFFFF


def csum_replace16(csum: int, old: int, new: int) -> int:
    """Checksum after one 16-bit word of the covered data changed old -> new."""
    s = (~csum & 0xFFFF) + (~old & 0xFFFF) + new
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ttl_table() -> tuple[int, ...]:
    # Decrementing the TTL changes the word (ttl << 8 | proto) by -0x100 whatever
    # its value, so the new checksum depends on the old checksum alone: one tuple
    # index on the fast path instead of the arithmetic above.
    return tuple(
        ~(((s := (~hc & 0xFFFF) + 0xFEFF) & 0xFFFF) + (s >> 16)) & 0xFFFF for hc in range(65536)
    )


TTL_DECREMENT_CSUM: tuple[int, ...] = _ttl_table()
"""``TTL_DECREMENT_CSUM[old_ipv4_header_checksum]`` = checksum after ``ttl -= 1``.

Valid because ``~m + m' = ~m + (m - 0x100) = 0xFFFF - 0x100 = 0xFEFF`` for any word
m whose high byte (the TTL) is at least 1; the sum then folds at most once.
"""
