"""The fast path's map layouts (fabric/ebpf/layout.py) against the C structs, and
the build's staleness rule. No root needed: the object is compiled, not loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hyperplane_emu.fabric.ebpf import FastPathUnavailable, FlowAction, KernelFlows, layout
from hyperplane_emu.fabric.ebpf import build as ebpf_build

TOOLS = shutil.which("clang") is not None and shutil.which("bpftool") is not None
needs_tools = pytest.mark.skipif(not TOOLS, reason="clang and bpftool: run scripts/setup")


def test_key_packing_round_trip_and_layout() -> None:
    tup = bytes(range(12))
    raw = layout.pack_key((7, 6, tup))
    assert len(raw) == layout.KEY_SIZE == 20
    assert raw[:4] == (7).to_bytes(4, "little") and raw[4] == 6 and raw[5:8] == b"\0\0\0"
    assert raw[8:] == tup
    assert layout.unpack_key(raw) == (7, 6, tup)
    with pytest.raises(ValueError):
        layout.pack_key((7, 6, b"short"))


@pytest.mark.parametrize("nat", [None, bytes(range(20, 32))])
def test_value_packing_round_trip_and_layout(nat: bytes | None) -> None:
    act = FlowAction(rmac=b"R" * 6, l2=b"D" * 6 + b"S" * 6, nat=nat, out_ifindex=0x01020304)
    raw = layout.pack_action(act)
    assert len(raw) == layout.VALUE_SIZE == 64
    off = layout.VALUE_OFFSETS
    assert raw[off["rmac"] : off["rmac"] + 6] == b"R" * 6
    assert raw[off["l2"] : off["l2"] + 12] == b"D" * 6 + b"S" * 6
    assert raw[off["nat"]] == (nat is not None)
    assert raw[off["nat_tuple"] : off["nat_tuple"] + 12] == (nat or bytes(12))
    assert raw[off["out_ifindex"] : off["out_ifindex"] + 4] == (0x01020304).to_bytes(4, "little")
    assert raw[off["tcp_flags_seen"] :] == bytes(64 - off["tcp_flags_seen"])  # counters zero
    back, counters = layout.unpack_action(raw)
    assert back == act and (counters.packets, counters.bytes, counters.last_ns) == (0, 0, 0)
    # Counters the program wrote are read back from their offsets.
    filled = bytearray(raw)
    filled[off["packets"] : off["packets"] + 8] = (3).to_bytes(8, "little")
    filled[off["bytes"] : off["bytes"] + 8] = (4500).to_bytes(8, "little")
    filled[off["last_ns"] : off["last_ns"] + 8] = (99).to_bytes(8, "little")
    filled[off["tcp_flags_seen"]] = 0x11
    c = layout.unpack_counters(bytes(filled))
    assert (c.packets, c.bytes, c.last_ns, c.tcp_flags) == (3, 4500, 99, 0x11)


def test_bad_action_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        layout.pack_action(FlowAction(b"R" * 5, b"x" * 12, None, 1))
    with pytest.raises(ValueError):
        layout.pack_action(FlowAction(b"R" * 6, b"x" * 12, b"short", 1))


def _btf_members(obj: Path, struct: str) -> tuple[int, dict[str, int]]:
    out = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(obj), "format", "raw"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    m = re.search(rf"STRUCT '{struct}' size=(\d+) vlen=\d+\n((?:\t.*\n)+)", out)
    assert m, f"{struct} not in the object's BTF"
    members = {
        name: int(bits) // 8
        for name, bits in re.findall(r"'(\w+)' type_id=\d+ bits_offset=(\d+)", m.group(2))
    }
    return int(m.group(1)), members


@needs_tools
def test_offsets_match_the_compiled_structs(tmp_path: Path) -> None:
    obj = ebpf_build.build(obj=tmp_path / "fastpath.bpf.o").path
    size, members = _btf_members(obj, "he_flow_val")
    assert size == layout.VALUE_SIZE
    assert {k: v for k, v in members.items() if not k.startswith("pad")} == layout.VALUE_OFFSETS
    size, members = _btf_members(obj, "he_flow_key")
    assert size == layout.KEY_SIZE
    assert members == {"ifindex": 0, "proto": 4, "pad": 5, "tuple": 8}


@needs_tools
def test_build_only_when_stale(tmp_path: Path) -> None:
    src = tmp_path / "fastpath.bpf.c"
    shutil.copy(ebpf_build.SOURCE, src)
    obj = tmp_path / "fastpath.bpf.o"
    assert ebpf_build.is_stale(src, obj)
    assert ebpf_build.build(src, obj).built
    assert not ebpf_build.is_stale(src, obj)
    assert not ebpf_build.build(src, obj).built
    src.write_text(src.read_text() + "\n/* changed */\n")
    assert ebpf_build.is_stale(src, obj)
    assert ebpf_build.build(src, obj).built
    (tmp_path / "fastpath.bpf.o.sha256").unlink()
    assert ebpf_build.is_stale(src, obj)


def test_build_without_clang_says_run_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "fastpath.bpf.c"
    src.write_text("int x;\n")
    monkeypatch.setattr(ebpf_build.shutil, "which", lambda _name: None)
    with pytest.raises(
        ebpf_build.BuildError,
        match="clang missing: install clang llvm libbpf-dev: run scripts/setup",
    ):
        ebpf_build.build(src, tmp_path / "x.o")


def test_build_error_is_one_line(tmp_path: Path) -> None:
    if shutil.which("clang") is None:
        pytest.skip("clang: run scripts/setup")
    src = tmp_path / "fastpath.bpf.c"
    src.write_text("this is not C;\n")
    with pytest.raises(ebpf_build.BuildError) as e:
        ebpf_build.build(src, tmp_path / "x.o")
    assert "\n" not in str(e.value) and "clang failed" in str(e.value)
    assert not (tmp_path / "x.o").exists()


def test_missing_object_is_unavailable_with_reason(tmp_path: Path) -> None:
    with pytest.raises(FastPathUnavailable, match=r"^object not built: .*nothing\.o"):
        KernelFlows.load([], 10, obj=tmp_path / "nothing.o")


def test_main_prints_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fake(force: bool = False) -> ebpf_build.BuildResult:
        return ebpf_build.BuildResult(tmp_path / "o", False, "ab" * 32)

    monkeypatch.setattr(ebpf_build, "build", fake)
    assert ebpf_build.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "up to date" in out
