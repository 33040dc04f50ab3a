"""API Gateway data plane process.

    python -m hyperplane_emu.services.apigateway --plan plan.json [--cert PEM --key PEM] \\
        [--fabric-socket PATH] [--ready-file PATH] [--name he-apigw] [--log-level INFO]

Reads the topology's plan (plan/serialize.py) and listens on API Gateway's
addresses in it (443 with TLS when --cert/--key are given, and 80). Once all are bound, one
line `apigw listening on https://10.255.0.10:443 http://10.255.0.10:80 ...` goes
to stdout (real ports when the file says 0) and, with `--ready-file`, that
file appears (atomically) holding JSON `{"pid": ..., "listen": [{"ip", "port",
"tls"}, ...]}`. SIGHUP re-reads the plan (a bad file is logged and the old
one kept); SIGTERM/SIGINT close listeners and connections, remove the ready
file and exit 0. `--log-level DEBUG` logs one line per request.
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


def _load(args: argparse.Namespace) -> config_mod.GatewayConfig:
    """Raises OSError or ValueError (serialize.PlanFormatError is one)."""
    cfg = config_mod.load(args.plan, args.cert, args.key, args.fabric_socket)
    # Trusted: --backend-ca (or the topology's CA) plus settings.backend_trusted_cas.
    cfg = dataclasses.replace(cfg, backend_cas=(*_backend_cas(args), *cfg.backend_cas))
    if args.listen:
        cfg = dataclasses.replace(
            cfg, listen=tuple(config_mod.parse_listen(x) for x in args.listen)
        )
    return cfg


def _backend_cas(args: argparse.Namespace) -> list[str]:
    """--backend-ca files, else the topology's CA next to --cert (`up` writes both in
    <state>/apigw/): the issuers an HTTPS integration's certificate may chain to."""
    if args.backend_ca:
        return list(args.backend_ca)
    if args.cert:
        ca = Path(args.cert).parent / "ca.pem"
        if ca.is_file():
            return [str(ca)]
    return []


async def serve(args: argparse.Namespace) -> int:
    try:
        cfg = _load(args)
    except (OSError, ValueError) as e:
        print(f"apigw: cannot read plan {args.plan}:\n{e}", file=sys.stderr)
        return 2
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
            new = _load(args)
        except (OSError, ValueError) as e:
            log.error("plan reload failed, keeping the old one:\n%s", e)
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
    p.add_argument("--plan", required=True, help="the topology's plan.json")
    p.add_argument("--cert", help="TLS certificate (PEM) for the 443 listeners")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--fabric-socket", help="the fabric's control socket (nat_origin)")
    p.add_argument(
        "--backend-ca", action="append", metavar="PEM",
        help="a CA HTTPS integrations may chain to (default: ca.pem beside --cert)",
    )  # fmt: skip
    p.add_argument(
        "--listen", action="append", metavar="IP:PORT[:tls]",
        help="listen here instead of the plan's API Gateway addresses (tests, bench on loopback)",
    )  # fmt: skip
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
