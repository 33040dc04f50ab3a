"""Starting API Gateway's data plane: its CA, its certificate, its trust.

At `up` the runtime makes a CA for this topology (`<state>/apigw/ca.pem`), issues
the data plane a certificate for `*.execute-api.<region>.amazonaws.com` and the
`vpce` names, and adds the CA to the trust store that `ip netns exec` shows every
emulated host (`/etc/netns/<ns>/ssl`, a link to `<state>/apigw/ssl`, bind-mounted
over /etc/ssl), so a plain
`curl https://<api-id>.execute-api.<region>.amazonaws.com/prod/…` works in `exec`.
Other clients: `--cacert /run/hyperplane-emu/<name>/apigw/ca.pem`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from hyperplane_emu.plan.model import Plan
from hyperplane_emu.realize.network import ETC_NETNS
from hyperplane_emu.runtime.state import PLAN_FILE

SYSTEM_SSL = Path("/etc/ssl")
BUNDLE = Path("certs/ca-certificates.crt")


def topology_ca(p: Plan, state_dir: Path) -> tuple[Path, Path]:
    """The topology's CA (`<state>/apigw/ca.pem`, `ca.key`), made on first use: before
    the hosts' TLS servers start (their certificates come from it) and reused by the
    data plane's."""
    import hyperplane_emu.services.apigateway.ca as ca

    d = state_dir / "apigw"
    d.mkdir(mode=0o700, exist_ok=True)
    if (d / "ca.pem").is_file() and (d / "ca.key").is_file():
        return d / "ca.pem", d / "ca.key"
    return ca.make_ca(d, p.name)


def host_certificates(p: Plan, state_dir: Path) -> dict[str, tuple[Path, Path]]:
    """Issue each TLS-serving host its certificate (`<state>/certs/<host>.pem`, `.key`,
    both 0600): from the topology's CA, or self-signed. Returns host -> (cert, key)."""
    import hyperplane_emu.services.apigateway.ca as ca

    out: dict[str, tuple[Path, Path]] = {}
    d = state_dir / "certs"
    for h in p.hosts.values():
        if h.certificate is None:
            continue
        d.mkdir(mode=0o700, exist_ok=True)
        issuer = topology_ca(p, state_dir) if h.certificate.issuer == "topology" else None
        cert, key = ca.issue(
            issuer, h.certificate.names, d, p.region, basename=h.name, execute_api_names=False
        )
        os.chmod(cert, 0o600)
        out[h.name] = (cert, key)
    return out


def prepare(p: Plan, state_dir: Path) -> tuple[list[str], Path]:
    """Write CA and certificate; returns (argv of the data plane, ready file)."""
    import hyperplane_emu.services.apigateway.ca as ca

    d = state_dir / "apigw"
    ca_cert, ca_key = topology_ca(p, state_dir)
    names = [
        f"*.execute-api.{p.region}.amazonaws.com",
        f"*.{p.region}.vpce.amazonaws.com",
        f"*.execute-api.{p.region}.vpce.amazonaws.com",
        *(f"*.{s.id}.{p.region}.vpce.amazonaws.com" for s in p.endpoint_services.values()),
        *(n for ep in p.endpoints.values() for n in ep.dns_names),
    ]  # fmt: skip
    ca.issue((ca_cert, ca_key), names, d)
    ready = d / "ready"
    # The data plane reads plan.json itself (plan/serialize.py), as the fabric does;
    # `apply` replaces that file and sends SIGHUP.
    argv = [
        sys.executable, "-m", "hyperplane_emu.services.apigateway",
        "--plan", str(state_dir / PLAN_FILE), "--cert", str(d / "server.pem"),
        "--key", str(d / "server.key"), "--fabric-socket", str(state_dir / "fabric.sock"),
        "--ready-file", str(ready), "--name", "he-apigw",
    ]  # fmt: skip
    return argv, ready


def trust(p: Plan, ca_cert: Path, etc_netns: str = ETC_NETNS) -> None:
    """Every host namespace trusts the topology's CA (system roots kept).

    One trust store per topology, beside the CA (`<state>/apigw/ssl`, on /run's
    tmpfs, removed with the state directory), and one symlink per host
    (`/etc/netns/<ns>/ssl`; `ip netns exec` bind-mounts what it points to over
    /etc/ssl). Copying /etc/ssl into /etc/netns for every host cost ~0.3 s a
    host (hundreds of symlinks on a slow /etc), most of `up`'s API Gateway step.
    """
    shared = ca_cert.parent / "ssl"
    if shared.exists():
        shutil.rmtree(shared)
    if SYSTEM_SSL.is_dir():
        shutil.copytree(SYSTEM_SSL, shared, symlinks=True)
    (shared / "certs").mkdir(parents=True, exist_ok=True)
    pem = ca_cert.read_text()
    system = (SYSTEM_SSL / BUNDLE).read_text() if (SYSTEM_SSL / BUNDLE).exists() else ""
    bundle = shared / BUNDLE
    if bundle.is_symlink():
        bundle.unlink()
    bundle.write_text(system + ("\n" if system and not system.endswith("\n") else "") + pem)
    os.chmod(bundle, 0o644)
    for h in p.hosts.values():
        ssl_dir = Path(etc_netns) / h.namespace / "ssl"
        if ssl_dir.is_symlink() or ssl_dir.is_file():
            ssl_dir.unlink()
        elif ssl_dir.exists():
            shutil.rmtree(ssl_dir)
        ssl_dir.parent.mkdir(parents=True, exist_ok=True)
        ssl_dir.symlink_to(shared, target_is_directory=True)
