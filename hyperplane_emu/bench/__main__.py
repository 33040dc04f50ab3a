"""``python -m hyperplane_emu.bench fabric [--json]`` (root): see `bench.fabric`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
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
    ap = argparse.ArgumentParser(
        prog="scripts/bench",
        description="hyperplane-emu benchmarks (root): each prints a table, or one JSON object "
        "with --json; all run inside namespaces they create and remove.",
    )
    sub = ap.add_subparsers(dest="what", required=True)
    fab = sub.add_parser("fabric", help="fabric vs kernel forwarding: TCP Gbit/s, UDP pkt/s")
    fab.add_argument("--tcp-seconds", type=float, default=5.0)
    fab.add_argument("--udp-seconds", type=float, default=3.0)
    fab.add_argument(
        "--no-fast-path",
        dest="fast",
        action="store_false",
        help="only the kernel and the slow path, offloads off (today's keys)",
    )
    fab.add_argument("--prefix", default="he-bench-", help="namespace name prefix (he-…-)")
    pl = sub.add_parser("privatelink", help="endpoint -> NLB -> target vs direct: conn/s, Gbit/s")
    pl.add_argument("--seconds", type=float, default=4.0)
    sub.add_parser("substrate", help="up/down wall time: the seed topology and 100 ENIs")
    http = sub.add_parser("http", help="HTTP API -> VPC link -> ALB / Cloud Map, and REST: req/s")
    http.add_argument("--seconds", type=float, default=4.0)
    http.add_argument("--connections", type=int, default=4)
    rest = sub.add_parser("rest", help="private REST API -> VPC link -> NLB vs direct: req/s, p50")
    rest.add_argument("--seconds", type=float, default=5.0)
    rest.add_argument("--connections", type=int, default=4)
    ct = sub.add_parser("conntrack", help="the core's flow table: memory per flow, bound, expiry")
    ct.add_argument("--flows", type=int, default=200_000)
    for p in (fab, pl, rest, http, ct, sub.choices["substrate"]):
        p.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.what == "conntrack":  # pure core: no namespaces, no root
        from . import conntrack

        figures = conntrack.run(args.flows)
        if args.json:
            print(json.dumps(figures, sort_keys=True))
        else:
            for k, v in figures.items():
                print(f"{k:16} {v}")
        return 0
    if os.geteuid() != 0:
        print(
            f"scripts/bench needs root (network namespaces): sudo scripts/bench {args.what}",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    from .lab import LabError

    def step(text: str) -> None:
        if not args.json:
            print(f"  {text}…", file=sys.stderr, flush=True)

    try:
        if args.what == "fabric":
            from . import fabric

            result = fabric.run(
                args.tcp_seconds,
                args.udp_seconds,
                step,
                prefix=args.prefix,
                fast=args.fast,
            )
            out: dict[str, object] = result.as_json()
            table: Callable[[], None] = lambda: fabric.print_table(result)  # noqa: E731
        elif args.what == "privatelink":
            from . import privatelink

            out = dict(privatelink.run(args.seconds, step))
            table = lambda: privatelink.print_table(out)  # type: ignore[arg-type]  # noqa: E731
        elif args.what == "substrate":
            from . import substrate

            out = dict(substrate.run(step))
            table = lambda: substrate.print_table(out)  # type: ignore[arg-type]  # noqa: E731
        elif args.what == "http":
            from . import http as http_bench

            out = http_bench.run(args.seconds, args.connections, step)
            table = lambda: http_bench.print_table(out)  # noqa: E731
        else:
            from . import rest as rest_bench

            out = rest_bench.run(args.seconds, args.connections, step)
            table = lambda: rest_bench.print_table(out)  # noqa: E731
    except (LabError, RuntimeError, OSError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; namespaces removed", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
