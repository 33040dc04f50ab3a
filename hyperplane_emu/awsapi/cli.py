"""`serve` and `export`: the two verbs of the AWS API, kept out of cli/main.py.

`register` adds them to the CLI group with its own `needs_root`/`friendly`
decorators (passed in: importing cli.main from here would load it twice when it
runs as `python -m hyperplane_emu.cli.main`). Only click is imported up front.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def register(group: click.Group, needs_root: Callable[[Any], Any],
             friendly: Callable[[Any], Any]) -> None:  # fmt: skip
    @group.command("serve")
    @click.option("--port", default=4566, show_default=True, help="TCP port of the endpoint.")
    @click.option("--region", default="us-east-1", show_default=True)
    @click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--name", default="aws", show_default=True, help="Name of the topology built.")
    @click.option("--quiet-time", "quiet", default=0.5, show_default=True,
                  help="Seconds without a mutating call before the topology follows.")  # fmt: skip
    @click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Where the API state persists [default: "
                       "/run/hyperplane-emu-serve/NAME].")  # fmt: skip
    @click.option("--fresh", is_flag=True,
                  help="Forget the state a previous `serve` left; start empty.")  # fmt: skip
    @needs_root
    @friendly
    def serve_cmd(port: int, region: str, bind: str, name: str, quiet: float,
                  state_dir: Path | None, fresh: bool) -> None:  # fmt: skip
        """Serve the AWS API (EC2, ELBv2, API Gateway v1/v2, Cloud Map) on one endpoint;
        what boto3 or the AWS CLI builds there becomes topology NAME (docs/aws-api.md).

        \b
        Example:
          hyperplane-emu serve --port 4566 &
          AWS_ENDPOINT_URL=http://127.0.0.1:4566 python my_boto3_script.py
        """
        serve(name, region, bind, port, quiet, state_dir, fresh)

    @group.command("export")
    @click.argument("name")
    @click.option("-o", "output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
    @needs_root
    @friendly
    def export_cmd(name: str, output: str | None) -> None:
        """The running topology NAME as a topology file (also one `serve` built)."""
        text = export_text(name)
        if output:
            Path(output).write_text(text)
        else:
            click.echo(text, nl=False)


def default_state_dir(name: str) -> Path:
    # Beside the topologies' state root, not in it: `down` removes /run/hyperplane-emu/NAME,
    # and the API state must outlive the topology `serve` takes down on exit.
    from hyperplane_emu.runtime.state import STATE_ROOT

    return STATE_ROOT.parent / "hyperplane-emu-serve" / name


def serve(name: str, region: str, bind: str, port: int, quiet: float,
          state_dir: Path | None = None, fresh: bool = False) -> None:  # fmt: skip
    from hyperplane_emu.awsapi.journal import ReplayMismatch
    from hyperplane_emu.awsapi.reconcile import Runtime
    from hyperplane_emu.awsapi.service import Service

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s")  # fmt: skip
    started = time.monotonic()
    journal = (state_dir or default_state_dir(name)) / "journal.jsonl"
    if fresh:
        journal.unlink(missing_ok=True)
    try:
        svc = Service(name, region, runtime=Runtime(), quiet=quiet, journal=journal)
    except ReplayMismatch as e:
        raise click.ClickException(f"{e}; `serve --fresh` starts empty") from e
    if svc.runtime.is_up(name):
        raise click.ClickException(
            f"topology {name!r} is already up: `hyperplane-emu down {name}` first, "
            "or serve under another --name"
        )
    if bind not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"warning: listening on {bind}: the API checks no signature, anyone who "
                   "reaches it can build and change the topology", err=True)  # fmt: skip
    try:
        url = svc.start(bind, port)
    except ReplayMismatch as e:
        raise click.ClickException(
            f"the state in {journal} does not replay: {e}. Nothing was built; "
            "`serve --fresh` discards it and starts empty"
        ) from e
    restored = f"; {svc.replayed} calls replayed from {journal}" if svc.replayed else ""
    click.echo(f"AWS API for topology {name!r} on {url} (region {region}); "
               f"ready in {time.monotonic() - started:.2f} s{restored}", err=True)  # fmt: skip
    click.echo(f"  AWS_ENDPOINT_URL={url} AWS_DEFAULT_REGION={region}", err=True)
    done = threading.Event()

    def stop(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    click.echo(f"stopping: taking {name} down (its API state stays in {journal})", err=True)
    svc.stop(down=True)


def export_text(name: str) -> str:
    """The running topology as a topology file: what it was built from (or `serve` wrote)."""
    from hyperplane_emu.runtime.status import read_plan

    _, p = read_plan(name)
    source = Path(p.source) if p.source else None
    if source is None or not source.is_file():
        raise click.ClickException(f"{name}: its topology file {p.source!r} is gone")
    return source.read_text()
