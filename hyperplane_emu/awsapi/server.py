"""`serve`: one HTTP endpoint for every served service (LocalStack's habit).

moto's own WSGI dispatcher, in-process, behind `front.Front`; a threaded
werkzeug server on 127.0.0.1 unless told otherwise. The reconciler reads the
state back through the same endpoint (public describe/get calls only).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from hyperplane_emu.awsapi.front import Front

SERVED = ("ec2", "elbv2", "apigateway", "apigatewayv2", "servicediscovery")


def moto_app() -> Any:
    # moto reads these when it builds ARNs and default resources.
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


@dataclass
class Server:
    front: Front
    httpd: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start(front: Front, bind: str = "127.0.0.1", port: int = 0) -> Server:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    httpd = make_server(bind, port, front, threaded=True, request_handler=Quiet)
    t = threading.Thread(target=httpd.serve_forever, name="aws-api", daemon=True)
    t.start()
    return Server(front, httpd, t)


def clients(url: str, region: str, account: str = "") -> dict[str, Any]:
    """boto3 clients on our own endpoint, for reading the state back; `account`: a
    12-digit id, used as the access key id (the front's rule for accounts)."""
    import boto3
    from botocore.config import Config

    from hyperplane_emu.awsapi.protocol import session as botocore_session

    session = boto3.session.Session(
        aws_access_key_id=account or "test",
        aws_secret_access_key="test",
        region_name=region,
        botocore_session=botocore_session(),
    )
    cfg = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return {s: session.client(s, endpoint_url=url, config=cfg) for s in SERVED}
