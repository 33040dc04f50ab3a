"""pcapfile: what we write is what tcpdump/scapy read (nanosecond stamps, Ethernet)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from hyperplane_emu.fabric.pcapfile import (
    LINKTYPE_ETHERNET,
    MAGIC_NSEC,
    PcapWriter,
    read_pcap,
)


def _syn() -> bytes:
    return bytes(Ether() / IP(src="10.0.1.10", dst="10.0.1.11") / TCP(sport=40000, dport=8080))


def test_round_trip_keeps_frames_and_nanoseconds() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    frames = [_syn(), b"\x01" * 60, bytes(range(256)) * 36]
    for i, f in enumerate(frames):
        w.write(f, 1_700_000_000_123_456_789 + i)
    assert w.frames == 3
    linktype, recs = read_pcap(io.BytesIO(buf.getvalue()))
    assert linktype == LINKTYPE_ETHERNET
    assert [r.data for r in recs] == frames
    assert [r.time_ns for r in recs] == [1_700_000_000_123_456_789 + i for i in range(3)]
    assert all(r.orig_len == len(f) for r, f in zip(recs, frames, strict=True))


def test_header_is_classic_nanosecond_ethernet() -> None:
    buf = io.BytesIO()
    PcapWriter(buf, snaplen=65535)
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("=IHHiIII", buf.getvalue())
    assert (magic, major, minor, snaplen, linktype) == (MAGIC_NSEC, 2, 4, 65535, 1)


def test_snaplen_truncates_but_keeps_original_length() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, snaplen=100)
    w.write(b"x" * 9014, 0)
    _, recs = read_pcap(io.BytesIO(buf.getvalue()))
    assert len(recs[0].data) == 100
    assert recs[0].orig_len == 9014


def test_reader_accepts_big_endian_microseconds() -> None:
    data = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    data += struct.pack(">IIII", 5, 7, 3, 3) + b"abc"
    _, recs = read_pcap(io.BytesIO(data))
    assert recs == [(5_000_007_000, 3, b"abc")]


def test_reader_skips_a_record_cut_short() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write(b"a" * 64, 1)
    w.write(b"b" * 64, 2)
    _, recs = read_pcap(io.BytesIO(buf.getvalue()[:-10]))
    assert len(recs) == 1


def test_reader_rejects_other_files() -> None:
    with pytest.raises(ValueError):
        read_pcap(io.BytesIO(b"\x00" * 40))
    with pytest.raises(ValueError):
        read_pcap(io.BytesIO(b"abc"))


def test_scapy_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    w = PcapWriter.open(str(path))
    w.write(_syn(), 1_700_000_000_000_000_001)
    w.close()
    pkts = rdpcap(str(path))
    assert len(pkts) == 1
    assert pkts[0][TCP].dport == 8080
    assert pkts[0][TCP].flags == "S"


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_tcpdump_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    w = PcapWriter.open(str(path))
    w.write(_syn(), 1_700_000_000_000_000_001)
    w.close()
    out = subprocess.run(
        ["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "10.0.1.10.40000 > 10.0.1.11.8080: Flags [S]" in out
