"""ALB data plane process.

    python -m hyperplane_emu.services.alb --plan plan.json --load-balancer VPC/NAME \\
        [--node ENI] [--listen-address IP] [--ready-file PATH] [--name he-alb-x] \\
        [--log-level INFO]

Reads the topology's plan (plan/serialize.py) and serves that ALB as node `--node`
(its ENI: the source of target connections in its AZ). Listens on
`--listen-address` (default 0.0.0.0: the process runs in a namespace holding the
node's ENI) at every listener port. Once all are bound, one line
`alb <name> listening on http://0.0.0.0:80 ...` goes to stdout (real ports when
the config says 0) and, with `--ready-file`, that file appears (atomically)
holding JSON `{"pid": ..., "name": ..., "listeners": [port, ...]}`. SIGUSR1 logs
the target health and counters as one JSON line; SIGTERM/SIGINT close
listeners and connections, remove the ready file and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from hyperplane_emu.proctitle import set_process_name
from hyperplane_emu.services.alb import config as config_mod
from hyperplane_emu.services.alb.server import AlbServer, describe_bound

log = logging.getLogger("hyperplane_emu.alb")


def _write_ready(path: Path, server: AlbServer) -> None:
    doc = {
        "pid": os.getpid(),
        "name": server.config.name,
        "listeners": [port for _, port in server.bound()],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc) + "\n")
    os.replace(tmp, path)  # a watcher never sees half a file


async def serve(args: argparse.Namespace) -> int:
    try:
        cfg = config_mod.load(args.plan, args.load_balancer, args.node)
    except (OSError, KeyError, ValueError) as e:
        print(f"alb: cannot read plan {args.plan}:\n{e}", file=sys.stderr)
        return 2
    cfg = dataclasses.replace(cfg, listen_address=args.listen_address)
    server = AlbServer(cfg)
    try:
        bound = await server.start()
    except OSError as e:
        print(f"alb: cannot listen: {e}", file=sys.stderr)
        await server.close()
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(
        signal.SIGUSR1, lambda: log.info("status %s", json.dumps(server.describe()))
    )
    print(f"alb {cfg.name} listening on {describe_bound(bound, cfg.listen_address)}", flush=True)
    if args.ready_file:
        _write_ready(Path(args.ready_file), server)
    await stop.wait()
    await server.close()
    if args.ready_file:
        Path(args.ready_file).unlink(missing_ok=True)
    log.info("alb %s stopped: %s", cfg.name, json.dumps(server.describe()))
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hyperplane_emu.services.alb", description="Application Load Balancer data plane"
    )
    p.add_argument("--plan", required=True, help="the topology's plan.json")
    p.add_argument("--load-balancer", required=True, help="the ALB's key: <vpc>/<name>")
    p.add_argument("--node", help="this node's ENI id (omit: no source binding)")
    p.add_argument("--listen-address", default=config_mod.DEFAULT_LISTEN)
    p.add_argument("--ready-file", help="written once every listener is bound")
    p.add_argument("--name", default="he-alb", help="process name (first 15 characters)")
    p.add_argument("--log-level", default="INFO", help="DEBUG logs one line per request")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s alb %(levelname)s %(message)s"
    )
    set_process_name(args.name)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
