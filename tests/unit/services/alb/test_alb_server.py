"""The ALB on loopback, in process: real sockets, keep-alive, routing, failures.

Any 127/8 address is local on Linux, so 127.0.0.2 and 127.0.0.3 stand for the
ALB's ENI addresses (nodes) without root.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import pytest
from alb_helpers import (
    Backend,
    Client,
    alb_config,
    check,
    fixed,
    forward,
    free_port,
    rule,
    run,
    set_default,
    set_group,
    set_target_az,
    until,
    with_alb,
)

from hyperplane_emu.plan.model import PlanAlbRule
from hyperplane_emu.services import upstream
from hyperplane_emu.services.alb.config import Node
from hyperplane_emu.services.alb.server import AlbServer

FAST_CHECK = check(interval=0.05, timeout=0.5, healthy_threshold=2, unhealthy_threshold=2)
TRACE = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}")


def api_rule(group: str = "api", priority: int = 10) -> PlanAlbRule:
    return rule(priority, forward(group), path=("/api/*",))


def test_routing_by_path_keep_alive_and_what_targets_see() -> None:
    async def main() -> None:
        api1, api2, web = Backend(), Backend(), Backend()
        ports = [await b.start() for b in (api1, api2, web)]
        raw = alb_config(
            {"api": ports[:2], "web": ports[2:]},
            rules=[api_rule()],
            default=forward("web"),
        )

        async def body(srv: AlbServer, port: int) -> None:
            c = await Client.open(port)
            for i in range(6):
                r = await c.request(
                    "GET", f"/api/orders/{i}?x=1", [("X-Forwarded-For", "203.0.113.7")]
                )
                assert r.status == 200
            r = await c.request("GET", "/index.html")
            assert (r.status, r.body) == (200, f"hello from {ports[2]}".encode())
            await c.close()
            # Round robin over the two api targets, the rest to the default group.
            assert len(api1.requests()) == len(api2.requests()) == 3
            assert [s.target for s in web.requests()] == ["/index.html"]
            seen = api1.requests()[0]
            assert seen.target == "/api/orders/0?x=1"  # the path is not rewritten
            assert seen.header("Host") == "shop.example.com"
            assert seen.header("X-Forwarded-For") == "203.0.113.7, 127.0.0.1"  # appended
            assert seen.header("X-Forwarded-Proto") == "http"
            assert seen.header("X-Forwarded-Port") == str(port)
            assert TRACE.fullmatch(seen.header("X-Amzn-Trace-Id") or "")
            assert web.requests()[0].header("X-Forwarded-For") == "127.0.0.1"  # created
            # Keep-alive on both sides: one client connection, one per target.
            assert (api1.connections, api2.connections, web.connections) == (1, 1, 1)
            assert srv.pool.opened == 3 and srv.pool.reused == 4
            assert srv.statuses[200] == 7

        await with_alb(raw, body)

    run(main())


def test_fixed_response_and_rule_priority() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = alb_config(
            {"api": [port]},
            rules=[
                api_rule(priority=20),
                rule(5, fixed(403, '{"no":1}', "application/json"), path=("/api/admin/*",)),
            ],
        )

        async def body(srv: AlbServer, alb_port: int) -> None:
            c = await Client.open(alb_port)
            admin = await c.request("GET", "/api/admin/users")
            assert (admin.status, admin.body) == (403, b'{"no":1}')
            assert admin.headers["content-type"] == "application/json"
            assert admin.headers["server"] == "awselb/2.0"
            other = await c.request("GET", "/nothing")
            assert (other.status, other.reason, other.body) == (404, b"Not Found", b"none")
            assert (await c.request("GET", "/api/x")).status == 200
            await c.close()
            assert len(be.requests()) == 1

        await with_alb(raw, body)

    run(main())


def test_post_body_head_and_chunked_request() -> None:
    async def main() -> None:
        be = Backend(respond=lambda s: (201, [("X-Len", str(len(s.body)))], s.body[::-1]))
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"))

        async def body(srv: AlbServer, alb_port: int) -> None:
            c = await Client.open(alb_port)
            r = await c.request("POST", "/p", body=b"abcdef")
            assert (r.status, r.body, r.headers["x-len"]) == (201, b"fedcba", "6")
            head = await c.request("HEAD", "/p")
            assert head.status == 201 and head.body == b""
            await c.close()
            # A chunked upload reaches the target with a Content-Length.
            reader, writer = await asyncio.open_connection("127.0.0.1", alb_port)
            writer.write(
                b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
            answer = await reader.readuntil(b"edcba")
            assert answer.startswith(b"HTTP/1.1 201 ")
            writer.close()
            last = be.requests()[-1]
            assert (last.method, last.body, last.header("Content-Length")) == ("PUT", b"abcde", "5")
            assert last.header("Transfer-Encoding") is None

        await with_alb(raw, body)

    run(main())


def test_503_when_the_group_has_no_target_in_use() -> None:
    async def main() -> None:
        raw = alb_config({"empty": [], "elsewhere": [1]}, rules=[api_rule("elsewhere")])
        raw = set_default(raw, forward("empty"))
        raw = dataclasses.replace(raw, nodes=(Node("us-east-1a", "127.0.0.1"),))
        raw = set_target_az(raw, "elsewhere", 0, "us-east-1b")  # no node there

        async def body(srv: AlbServer, port: int) -> None:
            c = await Client.open(port)
            for path in ("/x", "/api/y"):
                r = await c.request("GET", path)
                assert (r.status, r.reason) == (503, b"Service Temporarily Unavailable")
                assert b"<title>503 Service Temporarily Unavailable</title>" in r.body
                assert r.headers["server"] == "awselb/2.0"
            await c.close()

        await with_alb(raw, body)

    run(main())


@pytest.mark.parametrize("mode", ["reset", "garbage", "close"])
def test_502_when_the_target_misbehaves(mode: str) -> None:
    async def main() -> None:
        bad, good = Backend(mode=mode), Backend()
        ports = [await bad.start(), await good.start()]
        raw = alb_config({"api": [ports[0]], "ok": [ports[1]]}, rules=[api_rule()])
        raw = set_default(raw, forward("ok"))

        async def body(srv: AlbServer, port: int) -> None:
            c = await Client.open(port)
            r = await c.request("GET", "/api/x")
            assert (r.status, r.reason) == (502, b"Bad Gateway")
            assert r.body.startswith(b"<html>\r\n<head><title>502 Bad Gateway</title>")
            # The client connection survives the target's failure.
            assert (await c.request("GET", "/fine")).status == 200
            await c.close()

        await with_alb(raw, body)

    run(main())


def test_502_when_the_target_refuses() -> None:
    async def main() -> None:
        raw = alb_config({"api": [free_port()]}, default=forward("api"))

        async def body(srv: AlbServer, port: int) -> None:
            c = await Client.open(port)
            assert (await c.request("GET", "/")).status == 502
            await c.close()

        await with_alb(raw, body)

    run(main())


@pytest.mark.parametrize("mode", ["silent", "short"])
def test_504_when_the_target_goes_quiet(mode: str) -> None:
    async def main() -> None:
        be = Backend(mode=mode)
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"), idle_timeout=0.3)

        async def body(srv: AlbServer, alb_port: int) -> None:
            c = await Client.open(alb_port)
            r = await c.request("GET", "/slow")
            assert (r.status, r.reason) == (504, b"Gateway Time-out")
            assert b"<h1>504 Gateway Time-out</h1>" in r.body
            await c.close()

        await with_alb(raw, body)

    run(main())


def test_504_when_the_connect_never_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3600)

    monkeypatch.setattr(upstream, "_open_connection", never)

    async def main() -> None:
        raw = alb_config({"api": [1]}, default=forward("api"), connect_timeout=0.2)

        async def body(srv: AlbServer, port: int) -> None:
            c = await Client.open(port)
            assert (await c.request("GET", "/")).status == 504
            await c.close()

        await with_alb(raw, body)

    run(main())


def test_health_checks_steer_traffic_then_fail_open() -> None:
    async def main() -> None:
        a, b = Backend(), Backend()
        ports = [await a.start(), await b.start()]
        raw = alb_config({"api": ports}, default=forward("api"), check=FAST_CHECK)

        async def body(srv: AlbServer, port: int) -> None:
            def states() -> list[object]:
                return [t["state"] for t in srv.describe()["target_groups"]["api"]]  # type: ignore[index]

            await until(lambda: states() == ["healthy", "healthy"])
            checks = [s for s in a.seen if s.header("User-Agent") == "ELB-HealthChecker/2.0"]
            assert checks and checks[0].target == "/" and checks[0].header("Connection") == "close"
            await b.stop()
            await until(lambda: states() == ["healthy", "unhealthy"])
            c = await Client.open(port)
            for _ in range(4):
                assert (await c.request("GET", "/x")).body == f"hello from {ports[0]}".encode()
            # Every target unhealthy: the ALB fails open and tries them all anyway.
            await a.stop()
            await until(lambda: states() == ["unhealthy", "unhealthy"])
            statuses = [(await c.request("GET", "/x")).status for _ in range(2)]
            assert statuses == [502, 502]
            # A target that comes back is healthy again after healthy_threshold checks.
            await b.start()
            await until(lambda: states() == ["unhealthy", "healthy"])
            assert (await c.request("GET", "/x")).body == f"hello from {ports[1]}".encode()
            await c.close()

        await with_alb(raw, body)

    run(main())


def test_health_check_matcher_and_path() -> None:
    async def main() -> None:
        be = Backend(respond=lambda s: (204 if s.target == "/health" else 500, [], b""))
        port = await be.start()
        good = dataclasses.replace(FAST_CHECK, path="/health", matcher="200-299")
        wrong = dataclasses.replace(FAST_CHECK, path="/")
        raw = alb_config({"good": [port], "bad": [port]}, default=forward("good"), check=wrong)
        raw = set_group(raw, "good", health_check=good)

        async def body(srv: AlbServer, alb_port: int) -> None:
            def state(group: str) -> tuple[object, object]:
                t = srv.describe()["target_groups"][group][0]  # type: ignore[index]
                return t["state"], t["reason"]

            await until(lambda: state("good")[0] == "healthy")
            await until(lambda: state("bad") == ("unhealthy", "Target.ResponseCodeMismatch"))

        await with_alb(raw, body)

    run(main())


def test_connections_leave_from_the_node_address() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"), check=FAST_CHECK)
        nodes = (Node("us-east-1a", "127.0.0.2"), Node("us-east-1b", "127.0.0.3"))
        raw = dataclasses.replace(raw, listen_address="0.0.0.0", nodes=nodes)
        raw = set_target_az(raw, "api", 0, "us-east-1b")

        async def body(srv: AlbServer, alb_port: int) -> None:
            # Health checks come from the node in the target's AZ.
            await until(lambda: bool(be.seen))
            assert be.seen[0].peer == "127.0.0.3"
            # A client reaching node a's address is forwarded from node a (cross-zone).
            c = await Client.open(alb_port, host="127.0.0.2")
            await c.request("GET", "/via-a")
            await c.close()
            assert be.requests("/via-a")[0].peer == "127.0.0.2"
            # Reaching the ALB on an address that is no node: the target's AZ node.
            c = await Client.open(alb_port, host="127.0.0.1")
            await c.request("GET", "/via-lo")
            await c.close()
            assert be.requests("/via-lo")[0].peer == "127.0.0.3"

        await with_alb(raw, body)

    run(main())


def test_one_node_process_forwards_across_zones() -> None:
    async def main() -> None:
        a, b = Backend(), Backend()
        ports = [await a.start(), await b.start()]
        raw = alb_config({"api": ports}, default=forward("api"), check=FAST_CHECK)
        raw = dataclasses.replace(
            raw,
            listen_address="0.0.0.0",
            nodes=(Node("us-east-1a", "127.0.0.2"),),  # this process's node
            zones=("us-east-1a", "us-east-1b"),  # the ALB's: cross-zone is always on
        )
        raw = set_target_az(raw, "api", 0, "us-east-1a")
        raw = set_target_az(raw, "api", 1, "us-east-1b")

        async def body(srv: AlbServer, alb_port: int) -> None:
            await until(lambda: all(t.health.state == "healthy" for t in srv.groups["api"].states))
            c = await Client.open(alb_port, host="127.0.0.2")
            for _ in range(4):
                assert (await c.request("GET", "/x")).status == 200
            await c.close()
            assert len(a.requests()) == len(b.requests()) == 2
            # Everything, health checks included, leaves from this node's address.
            assert set(a.peers) == set(b.peers) == {"127.0.0.2"}

        await with_alb(raw, body)

    run(main())


def test_target_closing_an_idle_connection_is_not_a_502() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"))

        async def body(srv: AlbServer, alb_port: int) -> None:
            c = await Client.open(alb_port)
            assert (await c.request("GET", "/1")).status == 200
            for w in list(be._writers):  # the target's keep-alive timer fires
                w.close()
            await until(lambda: not be._writers)
            idle = srv.pool.idle_connections()
            await until(lambda: all(c.reader.at_eof() for c in idle))  # the FIN arrived
            assert (await c.request("GET", "/2")).status == 200
            await c.close()
            assert srv.pool.opened == 2

        await with_alb(raw, body)

    run(main())


def test_alb_answers_trace_too_many_hops_and_bad_requests() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"))

        async def body(srv: AlbServer, alb_port: int) -> None:
            c = await Client.open(alb_port)
            assert (await c.request("TRACE", "/")).status == 405
            thirty = ", ".join(f"10.0.0.{i}" for i in range(30))
            r = await c.request("GET", "/", [("X-Forwarded-For", thirty)])
            assert r.status == 463  # 30 + the client: over AWS's limit
            ok = ", ".join(f"10.0.0.{i}" for i in range(29))
            assert (await c.request("GET", "/", [("X-Forwarded-For", ok)])).status == 200
            await c.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", alb_port)
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            answer = await reader.read()
            assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert b"connection: close" in answer.lower()
            writer.close()
            assert be.requests() and len(be.requests()) == 1

        await with_alb(raw, body)

    run(main())


def test_idle_client_connections_are_closed() -> None:
    async def main() -> None:
        raw = alb_config({}, idle_timeout=0.2)

        async def body(srv: AlbServer, port: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing said
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHo")  # stops mid-request
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith(b"HTTP/1.1 408 ")
            writer.close()

        await with_alb(raw, body)

    run(main())


def test_http10_client_gets_its_answer_then_close() -> None:
    async def main() -> None:
        be = Backend()
        port = await be.start()
        raw = alb_config({"api": [port]}, default=forward("api"))

        async def body(srv: AlbServer, alb_port: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", alb_port)
            writer.write(b"GET /old HTTP/1.0\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"hello from %d" % port)
            writer.close()

        await with_alb(raw, body)

    run(main())
