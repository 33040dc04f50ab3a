"""API Gateway data plane process.

    python -m hyperplane_emu.services.apigateway --config FILE [--ready-file PATH] \\
        [--name he-apigw] [--log-level INFO]

Listens on every `listen` entry of the config file. Once all are bound, one
line `apigw listening on https://10.255.0.10:443 http://10.255.0.10:80 ...` goes
to stdout (real ports when the file says 0) and, with `--ready-file`, that
file appears (atomically) holding JSON `{"pid": ..., "listen": [{"ip", "port",
"tls"}, ...]}`. SIGHUP re-reads the config (a bad file is logged and the old
one kept); SIGTERM/SIGINT close listeners and connections, remove the ready
file and exit 0. `--log-level DEBUG` logs one line per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from hyperplane_emu.proctitle import set_process_name
from hyperplane_emu.services.apigateway import config as config_mod
from hyperplane_emu.services.apigateway.server import ApiGatewayServer, describe

log = logging.getLogger("hyperplane_emu.apigateway")


def _write_ready(path: Path, server: ApiGatewayServer) -> None:
    doc = {
        "pid": os.getpid(),
        "listen": [{"ip": li.ip, "port": port, "tls": li.tls} for li, port in server.bound()],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc) + "\n")
    os.replace(tmp, path)  # a watcher never sees half a file


async def serve(args: argparse.Namespace) -> int:
    try:
        cfg = config_mod.load(args.config)
    except (OSError, config_mod.ConfigError) as e:
        print(f"apigw: cannot read config {args.config}:\n{e}", file=sys.stderr)
        return 2
    for w in cfg.warnings:
        log.warning("%s", w)
    server = ApiGatewayServer(cfg)
    try:
        bound = await server.start()
    except (OSError, ValueError) as e:
        print(f"apigw: cannot listen: {e}", file=sys.stderr)
        await server.close()
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            new = config_mod.load(args.config)
        except (OSError, config_mod.ConfigError) as e:
            log.error("config reload failed, keeping the old one:\n%s", e)
            return
        await server.reload(new)
        log.info("config reloaded: %d APIs, %d endpoints", len(new.apis), len(new.endpoints))
        if args.ready_file:
            _write_ready(Path(args.ready_file), server)

    def on_hup() -> None:
        task = loop.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    print(f"apigw listening on {describe(bound)}", flush=True)
    if args.ready_file:
        _write_ready(Path(args.ready_file), server)
    await stop.wait()
    await server.close()
    if args.ready_file:
        Path(args.ready_file).unlink(missing_ok=True)
    log.info(
        "apigw stopped after %d requests (%d upstream connections opened, %d reuses)",
        server.requests,
        server.pool.opened,
        server.pool.reused,
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hyperplane_emu.services.apigateway", description="API Gateway data plane"
    )
    p.add_argument("--config", required=True, help="JSON config (docs/apigateway.md)")
    p.add_argument("--ready-file", help="written once every listener is bound")
    p.add_argument("--name", default="he-apigw", help="process name (first 15 characters)")
    p.add_argument("--log-level", default="INFO", help="DEBUG logs one line per request")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s apigw %(levelname)s %(message)s"
    )
    set_process_name(args.name)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
