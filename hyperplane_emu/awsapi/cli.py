"""`serve` and `export`: the two verbs of the AWS API, kept out of cli/main.py."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

import click


def serve(name: str, region: str, bind: str, port: int, quiet: float) -> None:
    from hyperplane_emu.awsapi import Service
    from hyperplane_emu.awsapi.reconcile import Runtime

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s")  # fmt: skip
    started = time.monotonic()
    svc = Service(name, region, runtime=Runtime(), quiet=quiet)
    if svc.runtime.is_up(name):
        raise click.ClickException(
            f"topology {name!r} is already up: `hyperplane-emu down {name}` first, "
            "or serve under another --name"
        )
    if bind not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"warning: listening on {bind}: the API checks no signature, anyone who "
                   "reaches it can build and change the topology", err=True)  # fmt: skip
    url = svc.start(bind, port)
    click.echo(f"AWS API for topology {name!r} on {url} (region {region}); "
               f"ready in {time.monotonic() - started:.2f} s", err=True)  # fmt: skip
    click.echo(f"  AWS_ENDPOINT_URL={url} AWS_DEFAULT_REGION={region}", err=True)
    done = threading.Event()

    def stop(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    click.echo(f"stopping: taking {name} down", err=True)
    svc.stop(down=True)


def export_text(name: str) -> str:
    """The running topology as a topology file: what it was built from (or `serve` wrote)."""
    from hyperplane_emu.runtime.status import read_plan

    _, p = read_plan(name)
    source = Path(p.source) if p.source else None
    if source is None or not source.is_file():
        raise click.ClickException(f"{name}: its topology file {p.source!r} is gone")
    return source.read_text()
