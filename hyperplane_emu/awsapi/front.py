"""The WSGI front in front of moto: route, keep, answer, rewrite, notify.

moto is the control plane's memory (ids, ARNs, validation of most inputs). This
layer sits before it and:

- recognises each request as a botocore operation (`protocol.recognise`) and
  answers anything outside the served services with AWS's error shape naming it;
- keeps the fields moto drops (`put_integration`'s `connectionId` and
  `integrationTarget`) and puts them back into what `get_integration` returns;
- answers the operations moto lacks (`describe/accept/reject_vpc_endpoint_connections`);
- turns moto's unimplemented operations (a 500 HTML page) into `NotImplemented`;
- rewrites what AWS would say differently: network load balancer ARNs are
  `loadbalancer/net/…` (moto writes `app/`), endpoints of a service that requires
  acceptance are `pendingAcceptance` until accepted;
- tells the reconciler (`on_change`) after every successful mutating call.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hyperplane_emu.awsapi import calls, cbor, protocol
from hyperplane_emu.awsapi.accounts import DEFAULT_ACCOUNT, account_of
from hyperplane_emu.awsapi.journal import Entry, Journal, environ_of, ids_of
from hyperplane_emu.awsapi.protocol import Call, Unrecognised

log = logging.getLogger("hyperplane_emu.awsapi")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
READ_PREFIXES = ("Describe", "Get", "List", "Discover")
_NET_TO_APP = (
    (b"loadbalancer%2Fnet%2F", b"loadbalancer%2Fapp%2F"),
    (b"loadbalancer/net/", b"loadbalancer/app/"),
    (b"loadbalancer\\/net\\/", b"loadbalancer\\/app\\/"),
)


@dataclass
class EndpointConnection:
    service_id: str
    endpoint_id: str
    owner: str
    state: str  # pendingAcceptance | available | rejected
    created: str


@dataclass
class Kept:
    """What moto would forget, keyed the way the API addresses it."""

    # (rest api id, resource id, method) -> {"connectionId": …, "integrationTarget": …}
    integrations: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    # endpoint id -> its connection to one of our endpoint services
    connections: dict[str, EndpointConnection] = field(default_factory=dict)
    # endpoint service id -> acceptance required
    acceptance: dict[str, bool] = field(default_factory=dict)
    # endpoint service id -> the account that owns it (sees and decides its connections)
    service_owners: dict[str, str] = field(default_factory=dict)
    # network load balancer names (their ARNs are rewritten app/ -> net/)
    network_lbs: set[str] = field(default_factory=set)
    # Cloud Map private DNS namespace name -> VPC id (GetNamespace does not say)
    namespace_vpcs: dict[str, str] = field(default_factory=dict)
    # HTTP API id -> its deployments (moto 5.2 has no apigatewayv2 deployments)
    deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # endpoint id -> PrivateDnsEnabled as written (moto turns an absent one into true)
    private_dns: dict[str, bool] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes = b""  # moto's own answer, before the front's rewrites


class Front:
    def __init__(
        self,
        backend: WsgiApp,
        on_change: Callable[[Call], None] = lambda _: None,
        judge: Any = None,
    ) -> None:
        self.backend = backend
        self.on_change = on_change
        # `judge.Judge`: refuses, in AWS's error shape, what the validator refuses.
        self.judge = judge
        # The running topology's plan (None before the first `up`): what was really built.
        self.built: Callable[[], Any] = lambda: None
        # (target group ARN, target id) -> (state, reason) as the emulator's checks see it
        self.target_health: Callable[[str, str], tuple[str, str] | None] = lambda a, t: None
        self.judging = threading.Lock()
        self.kept = Kept()
        self.lock = threading.RLock()
        # Accepted mutations, for a restart (journal.py); None: nothing persists.
        self.journal: Journal | None = None
        # moto's calls one at a time: a mutation's seed must not be drawn on by a read.
        self.moto = threading.RLock()
        # During journal.replay: the entry being replayed, and the ids its call answered.
        self.replaying: Entry | None = None
        self.replayed: list[str] | None = None
        # Accounts that changed something, in the order they first did (the first is
        # the topology's `customer`); a journal replay rebuilds the same order.
        self.accounts: list[str] = []
        # Called once per account on its first request, before it reaches moto: moto
        # builds an account's backends (drawing ids) on first use, which a seeded
        # mutation must not pay for. The default account is warmed by `Service.warm`.
        self.on_account: Callable[[str], None] = lambda _: None
        self.seen: set[str] = {DEFAULT_ACCOUNT}

    # -- WSGI ---------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING", "")
        bridged = cbor.is_cbor(path, headers)
        if bridged:
            environ, path, headers, body = _from_cbor(environ, path, headers, body)
        try:
            r = self.handle(environ, method, path, query, headers, body)
            if bridged:
                r = _to_cbor(r, headers)
        except Exception as e:  # never a traceback page: an AWS-shaped internal error
            log.exception("front failed on %s %s", method, path)
            r = Response(*protocol.error("rest-json", "InternalFailure", f"{type(e).__name__}: {e}",
                                         500))  # fmt: skip
        start_response(f"{r.status} {_reason(r.status)}", r.headers)
        return [r.body]

    def handle(self, environ: dict[str, Any], method: str, path: str, query: str,
               headers: dict[str, str], body: bytes) -> Response:  # fmt: skip
        try:
            call = protocol.recognise(method, path, query, headers, body)
        except Unrecognised as e:
            proto = _guess_protocol(e.service, headers, body)
            return Response(*protocol.not_implemented(proto, e.service, e.operation, str(e)))
        account = account_of(environ, call.access_key)
        call = dataclasses.replace(call, account=account)
        # moto 5.2 maps only its IAM users' keys to accounts; the header is its other way.
        environ = {**environ, "HTTP_X_MOTO_ACCOUNT_ID": account}
        if account not in self.seen:
            self.seen.add(account)
            self.on_account(account)
        if not calls.supported(call.service, call.operation):
            return Response(
                *protocol.not_implemented(
                    call.protocol,
                    call.service,
                    call.operation,
                    "the topology could not carry it (docs/aws-api.md lists the calls served)",
                )
            )
        local = getattr(self, f"_local_{call.operation}", None)
        if local is not None and not call.operation.startswith(READ_PREFIXES):
            with self.moto:
                self._seed()
                answer = local(call)
                if answer is not None and answer.status < 300:
                    self._record(call, environ, body, ids_of(answer.body), local=True)
        else:
            answer = local(call) if local is not None else None
        if answer is not None:
            return answer
        if self.judge is None or not self.judge.concerns(call):
            return self._forward(environ, call, method, path, query, body)
        with self.judging:  # one judged call at a time: each compares against the last
            pre = self.judge.before(call)
            if isinstance(pre, tuple):
                return Response(*protocol.error(call.protocol, *pre))
            r = self._forward(environ, call, method, path, query, body, judged=pre is not None)
            if pre is not None and r.status < 300:
                refusal = self.judge.after(call, r.raw, pre)
                if refusal is not None:
                    return Response(*protocol.error(call.protocol, *refusal))
            return r

    def _forward(self, environ: dict[str, Any], call: Call, method: str, path: str, query: str,
                 body: bytes, judged: bool = False) -> Response:  # fmt: skip
        self._before(call)
        # moto stores every load balancer under app/: hand it back the ARN it made.
        for net, app in _NET_TO_APP:
            body = body.replace(net, app)
            query = query.replace(net.decode(), app.decode())
        if call.operation.startswith(READ_PREFIXES):
            with self.moto:
                r = self._backend(environ, method, path, query, body)
        else:
            with self.moto:  # seed, call and journal entry in one piece
                self._seed()
                r = self._backend(environ, method, path, query, body)
                if r.status < 300:
                    self._record(call, {**environ, "QUERY_STRING": query}, body, ids_of(r.body))
        if (
            r.status >= 500
            and b"<html" in r.body[:200].lower()
            or r.status == 404
            and (b"<html" in r.body[:200].lower())
        ):
            log.warning("moto could not answer %s:%s (%d)", call.service, call.operation, r.status)
            return Response(*protocol.not_implemented(call.protocol, call.service, call.operation))
        if r.status < 300:
            r.raw = r.body
            r = self._after(call, r)
            if not call.operation.startswith(READ_PREFIXES):
                self.on_change(call)
        return r

    def _backend(self, environ: dict[str, Any], method: str, path: str, query: str,
                 body: bytes) -> Response:  # fmt: skip
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env["QUERY_STRING"] = query
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = headers

        try:
            chunks = self.backend(env, start_response)
            data = b"".join(chunks)
            close = getattr(chunks, "close", None)
            if close:
                close()
        except Exception as e:  # moto raised past Flask: never a traceback to the caller
            log.exception("moto failed")
            return Response(500, [("Content-Type", "text/html")], f"<html>{e}".encode())
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        return Response(captured["status"], headers, data)

    # -- persistence (journal.py) -------------------------------------------

    def _seed(self) -> None:
        from moto.moto_api._internal import mock_random

        if self.replaying is not None:
            mock_random.seed(self.replaying.seed)
        elif self.journal is not None:
            mock_random.seed(self.journal.next_seed())

    def _record(self, call: Call, environ: dict[str, Any], body: bytes, ids: list[str],
                local: bool = False) -> None:  # fmt: skip
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)
        if account not in self.accounts:
            self.accounts.append(account)
        if self.replaying is not None:
            self.replayed = ids
        elif self.journal is not None:
            j = self.journal
            j.append(Entry(len(j.entries), j.next_seed(), f"{call.service}:{call.operation}",
                           environ_of(environ), body, ids, local))  # fmt: skip

    # -- what moto drops or says differently --------------------------------

    def _before(self, call: Call) -> None:
        p = call.params
        with self.lock:
            if call.operation == "PutIntegration":
                key = _integration_key(call)
                self.kept.integrations[key] = {
                    k: p[k] for k in ("connectionId", "integrationTarget") if p.get(k)
                }
            elif call.operation == "CreateLoadBalancer" and p.get("Type") == "network":
                self.kept.network_lbs.add(p.get("Name", ""))
            elif call.operation == "CreatePrivateDnsNamespace":
                self.kept.namespace_vpcs[p.get("Name", "")] = p.get("Vpc", "")

    def _after(self, call: Call, r: Response) -> Response:
        op = call.operation
        if call.service == "apigateway" and op in ("PutIntegration", "GetIntegration"):
            kept = self.kept.integrations.get(_integration_key(call), {})
            if kept:
                doc = json.loads(r.body or b"{}")
                doc.update(kept)
                r.body = json.dumps(doc).encode()
        if self.kept.network_lbs:
            r.body = self._net_arns(r.body)
        if call.service == "ec2" and op == "CreateVpcEndpointServiceConfiguration":
            self._record_service(call, r)
        elif call.service == "ec2" and op == "CreateVpcEndpoint":
            self._record_connection(call, r)
        elif call.service == "ec2" and op == "DeleteVpcEndpoints":
            with self.lock:  # a deleted endpoint has no connection left to describe
                for k, v in call.params.items():
                    if k.startswith("VpcEndpointId."):
                        self.kept.connections.pop(v, None)
        if call.service == "elbv2" and op == "DescribeTargetHealth":
            r.body = self._target_health(call.params.get("TargetGroupArn", ""), r.body)
        if call.service == "ec2" and op in ("CreateVpcEndpoint", "DescribeVpcEndpoints"):
            r.body = self._endpoint_states(r.body)
        if call.service == "ec2" and op in ("DescribeVpcEndpoints", "DescribeNetworkInterfaces"):
            p = self.built()
            if p is not None:
                r.body = _as_built(p, r.body)
        return r

    def _net_arns(self, body: bytes) -> bytes:
        names = "|".join(re.escape(n) for n in sorted(self.kept.network_lbs) if n)
        if not names:
            return body
        return re.sub(rf"loadbalancer/app/({names})/".encode(), rb"loadbalancer/net/\1/", body)

    def _record_service(self, call: Call, r: Response) -> None:
        root = ET.fromstring(r.body)
        sid = _find(root, "serviceId")
        if sid:
            required = call.params.get("AcceptanceRequired", "true").lower() != "false"
            with self.lock:
                self.kept.acceptance[sid] = required
                self.kept.service_owners[sid] = _account(call)

    def _record_connection(self, call: Call, r: Response) -> None:
        service = call.params.get("ServiceName", "")
        sid = service.rpartition(".")[2]
        eid = _find(ET.fromstring(r.body), "vpcEndpointId")
        if not eid:
            return
        if "PrivateDnsEnabled" in call.params:
            self.kept.private_dns[eid] = call.params["PrivateDnsEnabled"].lower() == "true"
        if not sid.startswith("vpce-svc-"):
            return
        required = self.kept.acceptance.get(sid, True)
        with self.lock:
            self.kept.connections[eid] = EndpointConnection(
                sid, eid, _account(call), "pendingAcceptance" if required else "available",
                datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            )  # fmt: skip

    def _endpoint_states(self, body: bytes) -> bytes:
        if not self.kept.connections:
            return body

        def edit(item: ET.Element, kids: dict[str, ET.Element], ns: str) -> bool:
            eid, state = kids.get("vpcEndpointId"), kids.get("state")
            if eid is None or state is None:
                return False
            conn = self.kept.connections.get(eid.text or "")
            if conn is None or (state.text or "").lower() == "deleted":
                return False
            state.text = conn.state
            return True

        return _edit_xml(body, edit)

    def _target_health(self, arn: str, body: bytes) -> bytes:
        """moto says every target is healthy; the data plane's health checks know better."""

        def edit(member: ET.Element, kids: dict[str, ET.Element], ns: str) -> bool:
            target, health = kids.get("Target"), kids.get("TargetHealth")
            if target is None or health is None:
                return False
            seen = self.target_health(arn.replace("/net/", "/app/"), _find(target, "Id"))
            if seen is None:
                return False
            for c in list(health):
                health.remove(c)
            ET.SubElement(health, f"{{{ns}}}State").text = seen[0]
            if seen[1]:
                ET.SubElement(health, f"{{{ns}}}Reason").text = seen[1]
            return True

        return _edit_xml(body, edit)

    def endpoint_state(self, endpoint_id: str) -> str | None:
        conn = self.kept.connections.get(endpoint_id)
        return conn.state if conn else None

    # -- what moto lacks ----------------------------------------------------

    def _local_CreateDeployment(self, call: Call) -> Response | None:  # noqa: N802
        if call.service != "apigatewayv2":
            return None
        from moto.moto_api._internal import mock_random

        api = call.path_params.get("apiId", "")
        # moto's seeded random, not secrets: a replayed journal gives the same id.
        d = {"DeploymentId": mock_random.get_random_hex(6), "DeploymentStatus": "DEPLOYED",
             "CreatedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "AutoDeployed": False, "Description": call.params.get("Description", "")}  # fmt: skip
        with self.lock:
            self.kept.deployments.setdefault(api, []).append(d)
        # A deployment changes nothing the topology holds: HTTP APIs here serve
        # their current routes on every stage (docs/aws-api.md).
        return _json_ok(201, {k[0].lower() + k[1:]: v for k, v in d.items()})

    def _local_GetDeployments(self, call: Call) -> Response | None:  # noqa: N802
        if call.service != "apigatewayv2":
            return None
        items = self.kept.deployments.get(call.path_params.get("apiId", ""), [])
        return _json_ok(200, {"items": [{k[0].lower() + k[1:]: v for k, v in d.items()}
                                        for d in items]})  # fmt: skip

    def _local_DescribeVpcEndpointConnections(self, call: Call) -> Response:  # noqa: N802
        items = "".join(
            "<item>"
            f"<serviceId>{c.service_id}</serviceId><vpcEndpointId>{c.endpoint_id}</vpcEndpointId>"
            f"<vpcEndpointOwner>{c.owner}</vpcEndpointOwner>"
            f"<vpcEndpointState>{c.state}</vpcEndpointState>"
            f"<creationTimestamp>{c.created}</creationTimestamp>"
            "</item>"
            for c in self.kept.connections.values()
            if _matches_filters(call.params, c) and self._owns(call, c.service_id)
        )
        return _ec2_ok(
            "DescribeVpcEndpointConnections",
            f"<vpcEndpointConnectionSet>{items}</vpcEndpointConnectionSet>",
        )

    def _owns(self, call: Call, service_id: str) -> bool:
        # Only the service's account sees and decides its connections (AWS).
        return self.kept.service_owners.get(service_id, _account(call)) == _account(call)

    def _local_AcceptVpcEndpointConnections(self, call: Call) -> Response:  # noqa: N802
        return self._decide(call, "available")

    def _local_RejectVpcEndpointConnections(self, call: Call) -> Response:  # noqa: N802
        return self._decide(call, "rejected")

    def _decide(self, call: Call, state: str) -> Response:
        sid = call.params.get("ServiceId", "")
        wanted = [v for k, v in sorted(call.params.items()) if k.startswith("VpcEndpointId.")]
        bad = []
        with self.lock:
            for eid in wanted:
                conn = self.kept.connections.get(eid)
                if conn is None or conn.service_id != sid or not self._owns(call, sid):
                    bad.append((eid, "InvalidVpcEndpointId.NotFound",
                                f"The VPC endpoint {eid} is not connected to {sid}"))  # fmt: skip
                elif conn.state != "pendingAcceptance":
                    bad.append(
                        (
                            eid,
                            "InvalidState",
                            f"Endpoint {eid} is {conn.state}, not pendingAcceptance",
                        )
                    )
                else:
                    conn.state = state
        items = "".join(
            f"<item><error><code>{c}</code><message>{m}</message></error>"
            f"<resourceId>{e}</resourceId></item>"
            for e, c, m in bad
        )
        if len(bad) < len(wanted):
            self.on_change(call)
        op = call.operation
        return _ec2_ok(op, f"<unsuccessful>{items}</unsuccessful>")


def _guess_protocol(service: str, headers: dict[str, str], body: bytes) -> str:
    """The error shape the caller's SDK will parse, for a request we could not place."""
    if service in calls.SUPPORTED:
        return protocol.protocol_of(service)
    if any(k.lower() == "x-amz-target" for k in headers):
        return "json"
    if body.startswith(b"Action=") or b"&Action=" in body:
        return "query"
    return "rest-json"


def _from_cbor(environ: dict[str, Any], path: str, headers: dict[str, str],
               body: bytes) -> tuple[dict[str, Any], str, dict[str, str], bytes]:  # fmt: skip
    prefix, op = cbor.operation_of(path)
    body = cbor.to_json(cbor.decode(body))
    env = dict(environ)
    env["PATH_INFO"] = "/"
    env["CONTENT_TYPE"] = "application/x-amz-json-1.1"
    env["HTTP_X_AMZ_TARGET"] = f"{prefix}.{op}"
    headers = {**headers, "X-Amz-Target": f"{prefix}.{op}",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    return env, "/", headers, body


def _to_cbor(r: Response, headers: dict[str, str]) -> Response:
    op = headers["X-Amz-Target"].rpartition(".")[2]
    try:
        value = json.loads(r.body or b"{}")
    except ValueError:
        value = {"__type": "InternalFailure", "message": r.body.decode(errors="replace")}
    shape = None
    if r.status < 300:
        m = protocol.model("servicediscovery")
        if op in m.operation_names:
            shape = m.operation_model(op).output_shape
    body = cbor.encode(value, shape) if shape is not None or r.status >= 300 else b""
    kept = [(k, v) for k, v in r.headers if k.lower() not in ("content-type", "content-length")]
    return Response(r.status, [*kept, ("Content-Type", "application/cbor"),
                               ("smithy-protocol", "rpc-v2-cbor")], body)  # fmt: skip


def _as_built(p: Any, body: bytes) -> bytes:
    """Endpoint DNS names and endpoint ENI addresses as the data plane has them."""
    endpoints = {e.id: e for e in p.endpoints.values()}
    eni_ips = {e.id: e.ip for e in p.enis}

    def edit(item: ET.Element, kids: dict[str, ET.Element], ns: str) -> bool:
        changed = False
        eid, dns = kids.get("vpcEndpointId"), kids.get("dnsEntrySet")
        if eid is not None and dns is not None and (eid.text or "") in endpoints:
            ep = endpoints[eid.text or ""]
            zone = _find(dns, "hostedZoneId")
            for c in list(dns):
                dns.remove(c)
            for name in (*ep.dns_names, *ep.private_dns_names):
                entry = ET.SubElement(dns, f"{{{ns}}}item")
                ET.SubElement(entry, f"{{{ns}}}dnsName").text = name
                ET.SubElement(entry, f"{{{ns}}}hostedZoneId").text = zone
            changed = True
        eni = kids.get("networkInterfaceId")
        if eni is not None and (eni.text or "") in eni_ips and "privateIpAddress" in kids:
            ip = eni_ips[eni.text or ""]
            for el in item.iter():
                if el.tag.rpartition("}")[2] == "privateIpAddress":
                    el.text = ip
            changed = True
        return changed

    return _edit_xml(body, edit)


def _edit_xml(body: bytes, edit: Callable[[ET.Element, dict[str, ET.Element], str], bool]) -> bytes:
    """`edit(element, its children by local name, namespace)` on every element of a moto
    XML answer; the document re-serialized if any call changed it, else `body` as is."""
    root = ET.fromstring(body)
    ns = root.tag.partition("}")[0].lstrip("{")
    changed = False
    for el in root.iter():
        changed |= edit(el, {c.tag.rpartition("}")[2]: c for c in el}, ns)
    if not changed:
        return body
    ET.register_namespace("", ns)
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


def _integration_key(call: Call) -> tuple[str, str, str]:
    pp = call.path_params
    return (pp.get("restapi_id", ""), pp.get("resource_id", ""), pp.get("http_method", "").upper())


def _account(call: Call) -> str:
    return call.account or account_of({}, call.access_key)


def _matches_filters(params: dict[str, str], c: EndpointConnection) -> bool:
    fields = {"service-id": c.service_id, "vpc-endpoint-id": c.endpoint_id,
              "vpc-endpoint-owner": c.owner, "vpc-endpoint-state": c.state}  # fmt: skip
    return all(fields.get(k) in v for k, v in protocol.ec2_filters(params).items()
               if k in fields)  # fmt: skip


def _find(root: ET.Element, tag: str) -> str:
    for el in root.iter():
        if el.tag.rpartition("}")[2] == tag:
            return el.text or ""
    return ""


def _ec2_ok(operation: str, inner: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation}Response xmlns="{EC2_NS}">'
        f"<requestId>{datetime.now(UTC).timestamp()}</requestId>{inner}</{operation}Response>"
    ).encode()
    return Response(200, [("Content-Type", "text/xml")], body)


def _json_ok(status: int, doc: dict[str, Any]) -> Response:
    return Response(status, [("Content-Type", "application/json")], json.dumps(doc).encode())


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
