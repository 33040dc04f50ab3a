"""`python -m hyperplane_emu.docsgen [reference|guide|all] [--out FILE]`.

`reference` needs no root; `guide` (and `all`) runs the commands of
docs/guide.src.md against real topologies and so needs root. Run from the
repository's top directory (the paths are docs/…, examples/…).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hyperplane_emu.docsgen")
    parser.add_argument("what", choices=("reference", "guide", "all"), nargs="?", default="all")
    parser.add_argument("--out", type=Path, help="write here instead of docs/ (one document)")
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="guide: run renamed copies of the topologies (no clash with ones already up)",
    )
    args = parser.parse_args(argv)
    if args.out is not None and args.what == "all":
        parser.error("--out needs one document: reference or guide")
    if args.what in ("reference", "all"):
        from hyperplane_emu.docsgen import reference

        path = args.out or reference.OUTPUT
        reference.write(path)
        print(f"wrote {path}", file=sys.stderr)
    if args.what in ("guide", "all"):
        from hyperplane_emu.docsgen import guide

        return guide.main(args.out, isolated=args.isolated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
