"""`Service`: moto + the front + the reconciler, on one port (what `serve` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperplane_emu.awsapi import server
from hyperplane_emu.awsapi.accounts import DEFAULT_ACCOUNT
from hyperplane_emu.awsapi.export import Export, export
from hyperplane_emu.awsapi.front import Front
from hyperplane_emu.awsapi.journal import WARM_SEED, Journal, replay
from hyperplane_emu.awsapi.judge import Judge
from hyperplane_emu.awsapi.reconcile import Reconciler, write_aliases


class Service:
    """moto + front + reconciler, on one port."""

    def __init__(self, name: str, region: str, *, runtime: Any = None,
                 quiet: float = 0.5, journal: Path | None = None) -> None:  # fmt: skip
        self.name, self.region = name, region
        # Opened (and its entries read) now: a bad journal fails before anything listens.
        self.journal = Journal.open(journal) if journal is not None else None
        self.replayed = 0
        self.front = Front(server.moto_app())
        self.reconciler = Reconciler(name, self.export, quiet=quiet, runtime=runtime,
                                     on_applied=self._applied)  # fmt: skip
        self.front.on_change = self.reconciler.poke
        self.front.judge = Judge(self.export, self._reader, region, lambda: self.front.accounts)
        self.front.on_account = self.warm
        self.front.target_health = self.target_health
        self.front.built = self.built
        self.last: Export | None = None
        self.runtime = runtime
        self.http: server.Server | None = None
        self._clients: dict[str, dict[str, Any]] = {}  # account id -> clients

    def reset(self) -> None:
        """Forget every resource: moto's state is per process, not per Service."""
        import io

        env = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/moto-api/reset",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "CONTENT_LENGTH": "0",
        }
        b"".join(self.front.backend(env, lambda *a: None))

    def start(self, bind: str = "127.0.0.1", port: int = 0, warm: bool = True) -> str:
        self.http = server.start(self.front, bind, port)
        if warm or self.journal is not None:
            self.warm()
        if self.journal is not None:
            # The replayed state is reconciled (brought up) as soon as the loop starts.
            try:
                self.replayed = replay(self.front, self.journal)
            except Exception:
                self.http.stop()
                self.http = None
                raise
            self.front.journal = self.journal
        self.reconciler.start()
        return self.url

    def warm(self, account: str = DEFAULT_ACCOUNT) -> None:
        """One read per service before saying ready: moto builds each backend on first
        use (EC2's takes seconds), which would otherwise be the user's first call. Also
        run for each other account on its first request (`Front.on_account`)."""
        from moto.moto_api._internal import mock_random

        c = self._reader(account)
        # Backends built here draw ids (the default VPC's, its security group's): the
        # same seed on every start gives them the same ones, as the journal expects.
        with self.front.moto:
            mock_random.seed(WARM_SEED)
        c["ec2"].describe_vpcs()
        c["elbv2"].describe_load_balancers()
        c["apigateway"].get_rest_apis()
        c["apigatewayv2"].get_apis()
        c["servicediscovery"].list_namespaces()

    def _reader(self, account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
        account = account or DEFAULT_ACCOUNT
        if account not in self._clients:
            self._clients[account] = server.clients(self.url, self.region, account)
        return self._clients[account]

    @property
    def url(self) -> str:
        assert self.http is not None
        host, port = self.http.httpd.server_address[:2]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{port}"

    def export(self) -> Export:
        accounts = self.front.accounts or [DEFAULT_ACCOUNT]
        if accounts == [DEFAULT_ACCOUNT]:  # the account is the VPCs' owner, as before
            return export(self._reader(), self.name, self.region, self.front.kept)
        return export({a: self._reader(a) for a in accounts}, self.name, self.region,
                      self.front.kept)  # fmt: skip

    def built(self) -> Any:
        """The running topology's plan, or None (no runtime, or not up yet)."""
        if self.runtime is None or not self.runtime.is_up(self.name):
            return None
        from hyperplane_emu.runtime.status import read_plan

        try:
            return read_plan(self.name)[1]
        except Exception:  # between down and up of a rebuild: answer moto's view
            return None

    def target_health(self, arn: str, target: str) -> tuple[str, str] | None:
        """A target's state as the running topology's NLB health checks see it (the fabric)."""
        from hyperplane_emu.runtime.lifecycle import fabric_request
        from hyperplane_emu.runtime.state import StateDir

        ex = self.last
        if ex is None or self.runtime is None or arn not in ex.target_groups:
            return None
        lb, tg = ex.target_groups[arn]
        answer = fabric_request(StateDir.of(self.name), "load_balancers", timeout=2.0)
        if not answer or not answer.get("ok"):
            return None
        host = ex.aliases.get(target, target)
        for entry in answer.get("load_balancers", []):
            if entry.get("key") != lb:
                continue
            for t in entry.get("target_groups", {}).get(tg, []):
                if t.get("id") == host:
                    return str(t.get("health", "")), str(t.get("reason") or "")
        return None

    def _applied(self, ex: Export) -> None:
        self.last = ex
        if self.runtime is None:
            return
        write_aliases(self.name, ex)
        self._push_endpoint_states(ex)

    def _push_endpoint_states(self, ex: Export) -> None:
        from hyperplane_emu.awsapi import connections

        connections.push(self.name, self.front.kept.connections, ex)

    def stop(self, down: bool = True) -> None:
        self.reconciler.stop()
        if self.http is not None:
            self.http.stop()
        if down and self.runtime is not None and self.runtime.is_up(self.name):
            self.runtime.down(self.name)
        if down:
            import shutil

            shutil.rmtree(self.reconciler.dir, ignore_errors=True)
