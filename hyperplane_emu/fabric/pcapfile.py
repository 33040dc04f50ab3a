"""Classic pcap files (the format tcpdump -r and Wireshark read), nanosecond stamps.

The fabric mirrors the frames of a captured ENI here. Classic pcap rather than
pcapng: one 24-byte file header and a 16-byte record header per frame, so a
write is two small appends and any tool reads the file while it grows.

Magic 0xA1B23C4D = nanosecond resolution (libpcap >= 1.5, Wireshark, scapy);
link type 1 = Ethernet. Byte order is the machine's, as libpcap writes it; the
reader accepts both orders and both resolutions.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
DEFAULT_SNAPLEN = 262144  # tcpdump's default: never truncates a 9001-byte frame

_FILE_HEADER = struct.Struct("=IHHiIII")
_RECORD_HEADER = struct.Struct("=IIII")


class PcapRecord(NamedTuple):
    time_ns: int
    orig_len: int
    data: bytes


class PcapWriter:
    """Appends Ethernet frames with nanosecond timestamps to one pcap file."""

    def __init__(self, stream: BinaryIO, snaplen: int = DEFAULT_SNAPLEN) -> None:
        self._stream = stream
        self.snaplen = snaplen
        self.frames = 0
        stream.write(_FILE_HEADER.pack(MAGIC_NSEC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))

    @classmethod
    def open(cls, path: str, snaplen: int = DEFAULT_SNAPLEN) -> PcapWriter:
        # Unbuffered by the caller's choice of flush(): a 64 KiB buffer keeps the
        # per-frame cost at a memcpy; flush() runs on every driver tick.
        return cls(open(path, "wb", buffering=65536), snaplen)  # noqa: SIM115

    def write(self, frame: bytes | bytearray | memoryview, time_ns: int) -> None:
        n = len(frame)
        cap = min(n, self.snaplen)
        sec, nsec = divmod(time_ns, 1_000_000_000)
        self._stream.write(_RECORD_HEADER.pack(sec, nsec, cap, n))
        self._stream.write(frame[:cap] if cap < n else frame)
        self.frames += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def read_pcap(stream: BinaryIO) -> tuple[int, list[PcapRecord]]:
    """``(linktype, records)`` of a classic pcap file (either byte order, usec or nsec)."""
    return _read(stream.read())


def _read(data: bytes) -> tuple[int, list[PcapRecord]]:
    if len(data) < _FILE_HEADER.size:
        raise ValueError("not a pcap file: shorter than its header")
    for order in ("<", ">"):
        (magic,) = struct.unpack_from(order + "I", data)
        if magic in (MAGIC_USEC, MAGIC_NSEC):
            break
    else:
        raise ValueError("not a pcap file: bad magic")
    scale = 1 if magic == MAGIC_NSEC else 1000
    fh = struct.Struct(order + "IHHiIII")
    rh = struct.Struct(order + "IIII")
    linktype = fh.unpack_from(data)[6]
    records: list[PcapRecord] = []
    off = fh.size
    while off + rh.size <= len(data):
        sec, frac, cap, orig = rh.unpack_from(data, off)
        off += rh.size
        if off + cap > len(data):
            break  # a record cut short by a writer still running
        records.append(PcapRecord(sec * 1_000_000_000 + frac * scale, orig, data[off : off + cap]))
        off += cap
    return linktype, records
