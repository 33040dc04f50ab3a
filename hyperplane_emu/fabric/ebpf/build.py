"""Compile fastpath.bpf.c into fastpath.bpf.o beside it, only when needed.

`python -m hyperplane_emu.fabric.ebpf.build` prints one line (exit 1 on failure).
The object is rebuilt when it is missing or when the source (or the compile
command) changed: the sha256 of both is stored in fastpath.bpf.o.sha256 beside it.
"""

from __future__ import annotations

import glob
import hashlib
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "fastpath.bpf.c"
OBJECT = HERE / "fastpath.bpf.o"
SETUP_HINT = "install clang llvm libbpf-dev: run scripts/setup"
CFLAGS = ("-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Werror")


class BuildError(Exception):
    """str(e) is one line saying what is wrong and what to do."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    path: Path
    built: bool  # False: it was up to date
    digest: str


def _stamp(obj: Path) -> Path:
    return obj.with_name(obj.name + ".sha256")


def _asm_include() -> list[str]:
    """linux/types.h includes <asm/types.h>, which Debian keeps under the multiarch
    directory that clang does not search for -target bpf."""
    machine = platform.machine()
    arch = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine, machine)
    preferred = Path(f"/usr/include/{arch}-linux-gnu")
    if (preferred / "asm" / "types.h").exists():
        return ["-I", str(preferred)]
    found = sorted(glob.glob("/usr/include/*-linux-gnu/asm/types.h"))
    return ["-I", str(Path(found[0]).parent.parent)] if found else []


def command(source: Path, obj: Path, clang: str = "clang") -> list[str]:
    return [clang, *CFLAGS, *_asm_include(), "-c", str(source), "-o", str(obj)]


def digest(source: Path) -> str:
    """sha256 of the source and of the compile flags (a flag change rebuilds)."""
    h = hashlib.sha256(source.read_bytes())
    h.update("\0".join(CFLAGS).encode())
    return h.hexdigest()


def is_stale(source: Path = SOURCE, obj: Path = OBJECT) -> bool:
    """True when `obj` must be (re)built from `source`."""
    if not obj.exists():
        return True
    try:
        stored = _stamp(obj).read_text().strip()
    except OSError:
        return True
    return stored != digest(source)


def build(source: Path = SOURCE, obj: Path = OBJECT, force: bool = False) -> BuildResult:
    """Compile `source` into `obj` if stale; BuildError (one line) if it cannot."""
    if not source.exists():
        raise BuildError(f"source missing: {source}")
    want = digest(source)
    if not force and not is_stale(source, obj):
        return BuildResult(obj, False, want)
    clang = shutil.which("clang")
    if clang is None:
        raise BuildError(f"clang missing: {SETUP_HINT}")
    if not Path("/usr/include/bpf/bpf_helpers.h").exists():
        raise BuildError(f"libbpf headers missing (/usr/include/bpf): {SETUP_HINT}")
    tmp = obj.with_name(obj.name + ".tmp")
    proc = subprocess.run(command(source, tmp, clang), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip())
        raise BuildError(f"clang failed on {source.name}: {first[:300]} ({SETUP_HINT}?)")
    tmp.replace(obj)
    _stamp(obj).write_text(want + "\n")
    return BuildResult(obj, True, want)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        res = build(force="--force" in args)
    except (BuildError, OSError) as e:
        print(f"ebpf: error: {e}", file=sys.stderr)
        return 1
    state = "built" if res.built else "up to date"
    print(f"ebpf: {res.path} {state} (source {res.digest[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
