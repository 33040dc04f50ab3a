"""The fabric's control protocol: one JSON object per line over a unix socket.

Sans-IO: `ControlHandler.handle_line(bytes) -> bytes` answers one request
line; `LineReader` splits a byte stream into request lines (at most
`MAX_LINE` bytes each). The daemon wires them to the socket inside its epoll
loop; unit tests call them directly. `request()` is the tiny client.

Requests: ``{"op": "<name>", ...args}``. Answers: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.

| op | args | answer |
|---|---|---|
| ping | | ``pong: true`` |
| status | | ``counters, flows, ports, uptime, pid`` |
| replace_sg | ``sg``: a PlanSecurityGroup as a JSON object | ``sg_id`` |
| replace_nacl | ``acl``: a PlanNetworkAcl as a JSON object | ``acl_id, flows_ended`` |
| conntrack | | ``flows``: list of flow dicts |
| capture_start | ``eni``, ``path`` | ``eni, path`` |
| capture_stop | ``eni`` | ``eni, frames`` |
| flush_flow_logs | | ``records``: lines written |
| set_target_health | ``load_balancer, target_group, target, state, reason`` | |
| set_endpoint_state | ``endpoint, state`` | |
| load_balancers | | ``load_balancers``: targets and their health |
| trace_start | ``addresses`` (empty: every flow) | |
| trace_stop | | ``hops`` recorded since trace_start |
| nat_origin | ``vpc, proto, src, sport, dst, dport`` | ``origin``: the opener, or null |

Target states: initial, healthy, unhealthy; endpoint states: available,
pendingAcceptance, rejected. `nat_origin` takes a translated flow as its
receiver sees it (``proto`` defaults to 6) and answers who opened it (``src,
sport, dst, dport, vpc, eni``). A unit test checks the table against
`ControlHandler.ops` (tests/unit/fabric/test_control_ops.py).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from hyperplane_emu.plan.model import (
    PlanNaclEntry,
    PlanNetworkAcl,
    PlanSecurityGroup,
    PlanSgRule,
)

MAX_LINE = 64 * 1024


class ControlError(Exception):
    """The fabric could not be reached or answered something that is not a reply."""


class FabricService(Protocol):
    """What the control protocol needs from the running fabric (`driver.Driver`)."""

    def status(self) -> dict[str, object]: ...

    def conntrack(self) -> list[dict[str, object]]: ...

    def replace_sg(self, sg: PlanSecurityGroup) -> None: ...

    def replace_nacl(self, acl: PlanNetworkAcl) -> int: ...

    def capture_start(self, eni_id: str, path: str) -> None: ...

    def capture_stop(self, eni_id: str) -> int: ...

    def flush_flow_logs(self) -> int: ...

    def set_target_health(
        self, load_balancer: str, target_group: str, target: str, state: str, reason: str
    ) -> None: ...

    def set_endpoint_state(self, endpoint_id: str, state: str) -> None: ...

    def load_balancers(self) -> list[dict[str, object]]: ...

    def nat_origin(
        self, vpc: str, proto: int, src: str, sport: int, dst: str, dport: int
    ) -> dict[str, object] | None: ...

    def trace_start(self, addresses: list[str]) -> None: ...

    def trace_stop(self) -> list[dict[str, object]]: ...


class RequestError(ValueError):
    """A request the fabric refuses; its text goes back as ``error``."""


class ControlHandler:
    """Turns one request line into one answer line, never raising."""

    def __init__(self, service: FabricService) -> None:
        self.service = service
        self._ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "ping": lambda a: {"pong": True},
            "status": lambda a: dict(service.status()),
            "replace_sg": self._replace_sg,
            "replace_nacl": self._replace_nacl,
            "conntrack": lambda a: {"flows": service.conntrack()},
            "capture_start": self._capture_start,
            "capture_stop": self._capture_stop,
            "flush_flow_logs": lambda a: {"records": service.flush_flow_logs()},
            "set_target_health": self._set_target_health,
            "set_endpoint_state": self._set_endpoint_state,
            "load_balancers": lambda a: {"load_balancers": service.load_balancers()},
            "trace_start": self._trace_start,
            "trace_stop": lambda a: {"hops": service.trace_stop()},
            "nat_origin": lambda a: {
                "origin": service.nat_origin(
                    _str_arg(a, "vpc"),
                    int(a.get("proto", 6)),
                    _str_arg(a, "src"),
                    int(a["sport"]),
                    _str_arg(a, "dst"),
                    int(a["dport"]),
                )
            },
        }

    @property
    def ops(self) -> tuple[str, ...]:
        """The operations served, in dispatch order."""
        return tuple(self._ops)

    def handle_line(self, line: bytes) -> bytes:
        return (json.dumps(self.handle(line), default=str) + "\n").encode()

    def handle(self, line: bytes) -> dict[str, Any]:
        if len(line) > MAX_LINE:
            return _error(f"request longer than {MAX_LINE} bytes")
        try:
            req = json.loads(line)
        except (ValueError, UnicodeDecodeError) as e:
            return _error(f"request is not JSON: {e}")
        if not isinstance(req, dict):
            return _error("request must be a JSON object")
        op = req.get("op")
        fn = self._ops.get(op) if isinstance(op, str) else None
        if fn is None:
            return _error(f"unknown op {op!r}; ops: {', '.join(sorted(self._ops))}")
        try:
            answer = fn(req)
        except (RequestError, KeyError, ValueError, TypeError) as e:
            text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            return _error(str(text))
        except OSError as e:  # e.g. capture path not writable
            return _error(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "))
        return {"ok": True, **answer}

    def _replace_sg(self, req: dict[str, Any]) -> dict[str, Any]:
        sg = security_group_from_json(req.get("sg"))
        self.service.replace_sg(sg)
        return {"sg_id": sg.id}

    def _replace_nacl(self, req: dict[str, Any]) -> dict[str, Any]:
        acl = network_acl_from_json(req.get("acl"))
        return {"acl_id": acl.id, "flows_ended": self.service.replace_nacl(acl)}

    def _set_target_health(self, req: dict[str, Any]) -> dict[str, Any]:
        state = _str_arg(req, "state")
        if state not in ("initial", "healthy", "unhealthy"):
            raise RequestError(f"state: {state!r} is not initial, healthy or unhealthy")
        self.service.set_target_health(
            _str_arg(req, "load_balancer"),
            _str_arg(req, "target_group"),
            _str_arg(req, "target"),
            state,
            str(req.get("reason", "")),
        )
        return {}

    def _trace_start(self, req: dict[str, Any]) -> dict[str, Any]:
        addresses = req.get("addresses", [])
        if not isinstance(addresses, list):
            raise RequestError("addresses: a list of IPv4 addresses (empty: every flow)")
        self.service.trace_start([str(a) for a in addresses])
        return {}

    def _set_endpoint_state(self, req: dict[str, Any]) -> dict[str, Any]:
        state = _str_arg(req, "state")
        if state not in ("available", "pendingAcceptance", "rejected"):
            raise RequestError(f"state: {state!r} is not available, pendingAcceptance or rejected")
        self.service.set_endpoint_state(_str_arg(req, "endpoint"), state)
        return {}

    def _capture_start(self, req: dict[str, Any]) -> dict[str, Any]:
        eni = _str_arg(req, "eni")
        path = _str_arg(req, "path")
        self.service.capture_start(eni, path)
        return {"eni": eni, "path": path}

    def _capture_stop(self, req: dict[str, Any]) -> dict[str, Any]:
        eni = _str_arg(req, "eni")
        return {"eni": eni, "frames": self.service.capture_stop(eni)}


def _error(text: str) -> dict[str, Any]:
    return {"ok": False, "error": text}


def error_line(text: str) -> bytes:
    """An ``{"ok": false}`` answer line, for errors found before a request is parsed."""
    return (json.dumps(_error(text)) + "\n").encode()


def _str_arg(req: dict[str, Any], name: str) -> str:
    v = req.get(name)
    if not isinstance(v, str) or not v:
        raise RequestError(f"{name}: a non-empty string is required")
    return v


def network_acl_from_json(obj: object) -> PlanNetworkAcl:
    """A `PlanNetworkAcl` from its JSON form (``dataclasses.asdict``), checked."""
    if not isinstance(obj, dict):
        raise RequestError("acl: a network ACL object is required")
    try:
        entries = tuple(
            PlanNaclEntry(
                int(e["rule_number"]), bool(e["egress"]), int(e["protocol"]),
                _action(e["rule_action"]), str(e["cidr"]),
                int(e.get("from_port", 0)), int(e.get("to_port", 65535)),
            )
            for e in obj["entries"]
        )  # fmt: skip
        for e in entries:
            if not (1 <= e.rule_number <= 32767):
                raise RequestError(f"acl: rule number {e.rule_number} outside 1-32767")
            ipaddress.IPv4Network(e.cidr)
        return PlanNetworkAcl(
            str(obj["id"]), str(obj["name"]), str(obj["vpc"]), bool(obj["is_default"]),
            tuple(str(s) for s in obj["subnets"]), entries,
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError) as e:
        raise RequestError(f"acl: malformed ({e!r})") from None


def _action(value: object) -> Literal["allow", "deny"]:
    if value not in ("allow", "deny"):
        raise RequestError(f"acl: rule_action {value!r} is not allow or deny")
    return "allow" if value == "allow" else "deny"


def security_group_from_json(obj: object) -> PlanSecurityGroup:
    """A `PlanSecurityGroup` from its JSON form (``dataclasses.asdict``), checked."""
    if not isinstance(obj, dict):
        raise RequestError("sg: a security group object is required")

    def field(d: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
        if name not in d:
            raise RequestError(f"{where}.{name}: missing")
        v = d[name]
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise RequestError(f"{where}.{name}: wrong type {type(v).__name__}")
        return v

    rules_raw = field(obj, "rules", list, "sg")
    rules: list[PlanSgRule] = []
    for i, r in enumerate(rules_raw):
        where = f"sg.rules[{i}]"
        if not isinstance(r, dict):
            raise RequestError(f"{where}: an object is required")
        direction = field(r, "direction", str, where)
        if direction not in ("ingress", "egress"):
            raise RequestError(f"{where}.direction: must be ingress or egress")
        cidr = field(r, "cidr", (str, type(None)), where)
        group_id = field(r, "group_id", (str, type(None)), where)
        if (cidr is None) == (group_id is None):
            raise RequestError(f"{where}: exactly one of cidr and group_id")
        rules.append(
            PlanSgRule(
                rule_id=field(r, "rule_id", str, where),
                direction=direction,
                protocol=field(r, "protocol", int, where),
                from_port=field(r, "from_port", int, where),
                to_port=field(r, "to_port", int, where),
                cidr=cidr,
                group_id=group_id,
                description=r.get("description", "") or "",
            )
        )
    return PlanSecurityGroup(
        id=field(obj, "id", str, "sg"),
        name=field(obj, "name", str, "sg"),
        vpc=field(obj, "vpc", str, "sg"),
        description=obj.get("description", "") or "",
        rules=tuple(rules),
    )


class LineReader:
    """Splits received bytes into request lines; refuses lines over `MAX_LINE`."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Complete lines in ``data`` (without newline). Raises `RequestError` when
        a line grows past the limit (the connection should then be answered and closed)."""
        self._buf += data
        lines: list[bytes] = []
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                break
            lines.append(bytes(self._buf[:i]))
            del self._buf[: i + 1]
        if len(self._buf) > self.limit or any(len(x) > self.limit for x in lines):
            self._buf.clear()
            raise RequestError(f"request longer than {self.limit} bytes")
        return lines


def request(sock_path: str, op: str, timeout: float = 5.0, **args: Any) -> dict[str, Any]:
    """Send one request to the fabric at ``sock_path`` and return its answer.

    Returns the answer as is (``ok`` false included); raises `ControlError`
    when the fabric cannot be reached, does not answer within ``timeout``
    seconds, or answers something that is not a JSON object line.
    """
    payload = (json.dumps({"op": op, **args}) + "\n").encode()
    if len(payload) > MAX_LINE:
        raise ControlError(f"request longer than {MAX_LINE} bytes")
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock_path)
            s.sendall(payload)
            buf = bytearray()
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except TimeoutError:
        raise ControlError(f"fabric at {sock_path}: no answer within {timeout} s") from None
    except OSError as e:
        raise ControlError(f"fabric at {sock_path}: {e.strerror or e}") from None
    line = bytes(buf).split(b"\n", 1)[0]
    try:
        answer = json.loads(line)
    except ValueError:
        raise ControlError(f"fabric at {sock_path}: answer is not JSON: {line[:200]!r}") from None
    if not isinstance(answer, dict):
        raise ControlError(f"fabric at {sock_path}: answer is not a JSON object")
    return answer
