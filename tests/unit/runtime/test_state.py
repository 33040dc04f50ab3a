"""State directory and journal (no root: a temporary root directory)."""

from __future__ import annotations

from pathlib import Path

from hyperplane_emu.runtime.state import StateDir, all_state_dirs


def test_journal_survives_a_torn_last_line(tmp_path: Path) -> None:
    s = StateDir.of("shop", tmp_path)
    s.create()
    s.record({"kind": "netns", "name": "he-shop-fabric"})
    s.record({"kind": "netns", "name": "he-shop-client"})
    with open(s.journal_file, "a") as f:
        f.write('{"kind": "netns", "na')  # a crash mid-write
    assert [e["name"] for e in s.journal()] == ["he-shop-fabric", "he-shop-client"]


def test_state_dir_is_private_and_listed(tmp_path: Path) -> None:
    s = StateDir.of("shop", tmp_path)
    s.create()
    assert oct(s.path.stat().st_mode & 0o777) == "0o700"
    s.write_pid("fabric", 1234)
    assert s.read_pids() == {"fabric": 1234}
    assert [d.name for d in all_state_dirs(tmp_path)] == ["shop"]
