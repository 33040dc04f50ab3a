"""Make the data plane follow the control plane.

After mutating calls settle (`quiet` seconds without one), read the state back
(`export`), check it with the spec validator, plan it under the ids the API
returned, and bring it up the first time or `apply` it afterwards. `apply`
changes security groups, APIs and Cloud Map live; for anything it refuses
(a new host, load balancer, endpoint...) the topology is taken down and
brought up again, and the log says so. An invalid document is logged and left
unapplied: the running topology stays as it was until the next change.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperplane_emu import plan as planlib
from hyperplane_emu import spec
from hyperplane_emu.awsapi.export import Export
from hyperplane_emu.plan import ids

log = logging.getLogger("hyperplane_emu.awsapi")


@dataclass
class Outcome:
    """What the last reconciliation did, for the log and for tests."""

    action: str  # up | apply | rebuild | invalid | empty | unchanged | failed
    detail: list[str] = field(default_factory=list)
    finished: float = 0.0
    generation: int = 0


class Reconciler:
    def __init__(
        self,
        name: str,
        read: Callable[[], Export],
        *,
        quiet: float = 0.5,
        runtime: Any = None,
        on_applied: Callable[[Export], None] = lambda _: None,
    ) -> None:
        self.name = name
        self.read = read
        self.quiet = quiet
        self.runtime = runtime  # None: only validate and plan (no root needed)
        self.on_applied = on_applied
        self.dir = Path(tempfile.mkdtemp(prefix="he-serve-"))
        self.last: Outcome | None = None
        self.running_doc: str | None = None
        self._changed_at = 0.0
        self._generation = 0
        self._done_generation = 0
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="reconcile", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread.ident is not None:  # a start refused (bad journal) never ran it
            self._thread.join(timeout=60)
        # The exported topology file lives only as long as this reconciler.
        shutil.rmtree(self.dir, ignore_errors=True)

    def poke(self, _call: object = None) -> None:
        with self._cv:
            self._changed_at = time.monotonic()
            self._generation += 1
            self._cv.notify_all()

    def wait_settled(self, timeout: float) -> Outcome | None:
        """Block until every change so far is reconciled (for tests and `serve`'s own log)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._done_generation < self._generation and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)
            return self.last

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._done_generation >= self._generation and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                while True:
                    left = self._changed_at + self.quiet - time.monotonic()
                    if left <= 0 or self._stop:
                        break
                    self._cv.wait(left)
                generation = self._generation
            try:
                outcome = self.reconcile()
            except Exception as e:  # the server must outlive any one bad state
                log.exception("reconcile failed")
                outcome = Outcome("failed", [f"{type(e).__name__}: {e}"])
            outcome.finished = time.monotonic()
            outcome.generation = generation
            with self._cv:
                self.last = outcome
                self._done_generation = generation
                self._cv.notify_all()
            for line in outcome.detail:
                log.info("%s: %s", outcome.action, line)

    def reconcile(self) -> Outcome:
        ex = self.read()
        for note in ex.notes:
            log.info("not in the topology: %s", note)
        if not ex.doc.get("vpcs"):
            return Outcome("empty", ["no VPC yet"])
        text = yaml.safe_dump(ex.doc, sort_keys=False)
        source = self.dir / f"{self.name}.yaml"
        source.write_text(text)
        checked = spec.validate_text(text, str(source))
        if not checked.ok or checked.topology is None:
            return Outcome("invalid", [f"{i.path}: {i.message}" for i in checked.issues])
        with ids.overrides(ex.overrides):
            try:
                p = planlib.build(checked.topology)
            except spec.SpecError as e:
                return Outcome("invalid", [f"{i.path}: {i.message}" for i in e.issues])
            if self.runtime is None:
                self.running_doc = text
                return Outcome("planned", [f"{len(p.hosts)} hosts, {len(p.enis)} ENIs"])
            if text == self.running_doc:
                self.on_applied(ex)
                return Outcome("unchanged")
            outcome = self._realize(p, source)
        self.running_doc = text
        self.on_applied(ex)
        return outcome

    def _realize(self, p: planlib.Plan, source: Path) -> Outcome:
        rt = self.runtime
        if self.running_doc is None or not rt.is_up(self.name):
            rt.up(p)
            return Outcome("up", [f"{self.name}: {len(p.hosts)} hosts up"])
        try:
            report = rt.apply(self.name, source)
        except rt.Refused as e:
            log.info("rebuilding %s: %s", self.name, e)
            rt.down(self.name)
            rt.up(p)
            return Outcome("rebuild", [f"down + up: {e}"])
        return Outcome("apply", report.lines())


class Runtime:
    """The real runtime (root): up / apply / down of one topology."""

    def __init__(self) -> None:
        from hyperplane_emu.runtime import apply as apply_mod
        from hyperplane_emu.runtime import lifecycle

        self.lifecycle = lifecycle
        self.apply_mod = apply_mod
        self.Refused = lifecycle.RuntimeFailure

    def is_up(self, name: str) -> bool:
        from hyperplane_emu.runtime.state import StateDir

        return StateDir.of(name).exists()

    def up(self, p: planlib.Plan) -> None:
        self.lifecycle.up(p, replace=True, progress=lambda line: log.info("up: %s", line))

    def apply(self, name: str, source: Path) -> Any:
        return self.apply_mod.apply(name, source)

    def down(self, name: str) -> None:
        report = self.lifecycle.down(name)
        for e in report.errors:
            log.warning("down %s: %s", name, e)


def write_aliases(name: str, ex: Export) -> None:
    """AWS ids -> host names, so `exec NAME i-0abc…` works (read by the CLI)."""
    from hyperplane_emu.runtime.state import StateDir

    state = StateDir.of(name)
    if state.exists():
        tmp = state.path / "aliases.json.tmp"
        tmp.write_text(json.dumps(ex.aliases, indent=1, sort_keys=True))
        tmp.replace(state.path / "aliases.json")
