"""What makes `serve`'s API state survive a restart: a journal of accepted mutations.

moto keeps its state in memory only, and draws every id (vpc-…, sg-…, REST API ids,
ARNs' suffixes, private addresses) from one seedable `random.Random`. Reads draw
from it too (request ids, backends built on first use), so the ids a mutation gets
depend on every read before it: replaying the mutations alone would give other
ids. Each accepted mutation therefore runs right after `mock_random.seed(seed)`
(the front holds moto's lock across the two), and the journal records that seed
with the request as moto saw it. Replaying each entry after the same seed gives
the same ids whatever reads came between; the ids each answer held are recorded
too, and a replay that answers differently stops `serve` with the first mismatch
instead of building a topology that silently differs.

One JSON object per line, appended and flushed before the caller gets its answer.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Seeds are far from 0..n so a journal entry's stream never equals the warm-up's.
SEED_BASE = 0x5EED_0000
WARM_SEED = 0x5EED
# Values of fields that name something moto made: what a replay must give again.
_IDS = re.compile(
    rb"<(?P<x>\w*(?:Id|Arn|IpAddress|id|arn))>(?P<xv>[^<]+)</"
    rb'|"(?P<j>id|\w*Id|\w*Arn|arn)"\s*:\s*"(?P<jv>[^"]+)"'
)
_NOT_IDS = {"requestId", "RequestId", "ownerId", "OwnerId"}
# Kept from the WSGI environ: what moto's dispatcher and the front route on.
_ENV_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "SERVER_NAME",
             "SERVER_PORT", "wsgi.url_scheme")  # fmt: skip


class Replayable(Protocol):
    """What `replay` needs of front.Front (importing it here would be a cycle)."""

    judge: Any
    replaying: Entry | None
    replayed: list[str] | None

    def handle(self, environ: dict[str, Any], method: str, path: str, query: str,
               headers: dict[str, str], body: bytes) -> Any: ...  # fmt: skip


class ReplayMismatch(Exception):
    """A replayed call answered other ids than the journal recorded."""


def ids_of(body: bytes) -> list[str]:
    out = []
    for m in _IDS.finditer(body):
        name = (m.group("x") or m.group("j")).decode()
        if name in _NOT_IDS:
            continue
        out.append(f"{name}={(m.group('xv') or m.group('jv')).decode()}")
    return out


def environ_of(environ: dict[str, Any]) -> dict[str, str]:
    """The serialisable part of a request's environ; signatures dropped (never checked)."""
    env = {k: str(environ[k]) for k in _ENV_KEYS if k in environ}
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            env[k] = re.sub(r"Signature=[0-9a-f]+", "Signature=0", str(v))
    return env


@dataclass
class Entry:
    seq: int
    seed: int
    operation: str  # service:Operation, for messages
    environ: dict[str, str]
    body: bytes
    ids: list[str]
    local: bool = False  # answered by the front, not moto

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "seed": self.seed, "op": self.operation,
                           "env": self.environ, "body": base64.b64encode(self.body).decode(),
                           "ids": self.ids, "local": self.local}, sort_keys=True)  # fmt: skip

    @classmethod
    def from_json(cls, line: str) -> Entry:
        d = json.loads(line)
        return cls(int(d["seq"]), int(d["seed"]), str(d["op"]), dict(d["env"]),
                   base64.b64decode(d["body"]), list(d["ids"]), bool(d.get("local")))  # fmt: skip


@dataclass
class Journal:
    path: Path
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> Journal:
        j = cls(path)
        if path.is_file():
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    j.entries.append(Entry.from_json(line))
                except (ValueError, KeyError, TypeError) as e:
                    raise ReplayMismatch(f"{path}:{n}: not a journal entry ({e})") from e
        return j

    def next_seed(self) -> int:
        return SEED_BASE + len(self.entries)

    def append(self, entry: Entry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(entry.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.entries.append(entry)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.entries.clear()


def replay(front: Replayable, journal: Journal) -> int:
    """Play `journal` into a fresh moto; raise ReplayMismatch at the first other answer.
    The judge stays out: the journal holds its undos too, as moto saw them."""
    judge, front.judge = front.judge, None
    try:
        for e in journal.entries:
            front.replaying, front.replayed = e, None
            env: dict[str, Any] = dict(e.environ)
            env["wsgi.input"] = io.BytesIO(e.body)
            env["CONTENT_LENGTH"] = str(len(e.body))
            headers = {k[5:].replace("_", "-").title(): v for k, v in env.items()
                       if k.startswith("HTTP_")}  # fmt: skip
            if env.get("CONTENT_TYPE"):
                headers["Content-Type"] = env["CONTENT_TYPE"]
            r = front.handle(env, env["REQUEST_METHOD"], env.get("PATH_INFO", "/"),
                            env.get("QUERY_STRING", ""), headers, e.body)  # fmt: skip
            if r.status >= 300 or front.replayed is None:
                raise ReplayMismatch(
                    f"journal entry {e.seq} ({e.operation}) failed on replay: "
                    f"{r.status} {r.body[:300].decode(errors='replace')}"
                )
            if front.replayed != e.ids:
                diff = next(((a, b) for a, b in zip(e.ids, front.replayed, strict=False)
                             if a != b), (e.ids, front.replayed))  # fmt: skip
                raise ReplayMismatch(
                    f"journal entry {e.seq} ({e.operation}) answered other ids on "
                    f"replay: recorded {diff[0]}, now {diff[1]}"
                )
        return len(journal.entries)
    finally:
        front.replaying, front.replayed = None, None
        front.judge = judge
