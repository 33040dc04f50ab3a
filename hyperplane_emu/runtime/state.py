"""The state directory of a running topology: `/run/hyperplane-emu/<name>/`.

Everything `down`, `status` and `clean` need is here, so they work from a new
process after a crash: the plan, the journal of what was (about to be)
created, pids, logs, the fabric's control socket and the flow logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLAN_FILE = "plan.json"
STATE_ROOT = Path(os.environ.get("HE_STATE_ROOT", "/run/hyperplane-emu"))


@dataclass(frozen=True)
class StateDir:
    path: Path

    @classmethod
    def of(cls, name: str, root: Path | None = None) -> StateDir:
        return cls((root or STATE_ROOT) / name)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def plan_file(self) -> Path:
        return self.path / PLAN_FILE

    @property
    def journal_file(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def control_socket(self) -> Path:
        return self.path / "fabric.sock"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def flow_logs(self) -> Path:
        return self.path / "flow-logs"

    @property
    def pids(self) -> Path:
        return self.path / "pids"

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> None:
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.path.mkdir(mode=0o700)
        for d in (self.logs, self.flow_logs, self.pids):
            d.mkdir(mode=0o700)

    def record(self, entry: dict[str, Any]) -> None:
        """Append to the journal and make it durable *before* the object is created."""
        with open(self.journal_file, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def journal(self) -> list[dict[str, Any]]:
        """Journal entries; a torn last line (crash mid-write) is ignored."""
        out: list[dict[str, Any]] = []
        try:
            text = self.journal_file.read_text()
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def write_pid(self, name: str, pid: int) -> None:
        (self.pids / f"{name}.pid").write_text(f"{pid}\n")

    def read_pids(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.pids.is_dir():
            for f in sorted(self.pids.glob("*.pid")):
                try:
                    out[f.stem] = int(f.read_text().strip())
                except ValueError:
                    continue
        return out


def all_state_dirs(root: Path | None = None) -> Iterator[StateDir]:
    r = root or STATE_ROOT
    if r.is_dir():
        for p in sorted(r.iterdir()):
            if p.is_dir():
                yield StateDir(p)
