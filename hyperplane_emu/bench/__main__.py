"""``python -m hyperplane_emu.bench fabric [--json]`` (root): see `bench.fabric`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import NoReturn

_MAIN_PID = os.getpid()


def _terminate(signum: int, _frame: object) -> NoReturn:
    # SIGTERM unwinds like Ctrl-C, so every Lab removes what it created. Only in
    # this process: pyroute2 forks helpers (netns.create) that inherit the handler
    # and are ended with SIGTERM; they must just go, not run our cleanup.
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description="hyperplane-emu benchmarks")
    sub = ap.add_subparsers(dest="what", required=True)
    fab = sub.add_parser("fabric", help="fabric vs kernel forwarding: TCP Gbit/s, UDP pkt/s")
    fab.add_argument("--json", action="store_true", help="print one JSON object")
    fab.add_argument("--tcp-seconds", type=float, default=5.0)
    fab.add_argument("--udp-seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print(
            "scripts/bench needs root (network namespaces): sudo scripts/bench fabric",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    from . import fabric
    from .lab import LabError

    def step(text: str) -> None:
        if not args.json:
            print(f"  {text}…", file=sys.stderr, flush=True)

    try:
        result = fabric.run(args.tcp_seconds, args.udp_seconds, step)
    except LabError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; namespaces removed", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.as_json(), sort_keys=True))
    else:
        fabric.print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
