"""API Gateway's side of the plan: its own account and VPC, and what APIs create there.

AWS (seed post; API Gateway Developer Guide, "Private REST APIs", "VPC links"):
API Gateway runs in its own account and VPC. A private API is reached through
an `execute-api` interface endpoint in the customer's VPC; a REST VPC link is
an endpoint service that AWS creates on the customer's NLB (API Gateway's
account allow-listed, so the connection is accepted at once) plus an interface
endpoint in API Gateway's VPC. `expand` adds exactly those objects to the
topology, as if the user had written them, so the rest of the plan (addresses,
PrivateLink, DNS) treats them like any other; `apis` then resolves names to ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import (
    PlanApi,
    PlanApiRoute,
    PlanEndpoint,
    PlanIntegration,
    PlanLoadBalancer,
    PlanVpc,
    PlanVpcLink,
)
from hyperplane_emu.spec.model import (
    Api,
    Endpoint,
    EndpointService,
    Host,
    SecurityGroup,
    SgRule,
    Subnet,
    Topology,
    Vpc,
)

VPC = "apigateway"
ACCOUNT_KEY = "apigateway"
ACCOUNT_ID = "392220576650"
"""API Gateway's service account, as the emulator shows it (AWS's differs per region)."""
CIDR = "10.255.0.0/16"
HOST = "apigateway"
INTERNET_VPC = "internet"
INTERNET_ACCOUNT = "000000000000"
INTERNET_CIDR = "198.51.100.0/24"  # documentation range (RFC 5737): "the internet"
INTERNET_HOST = "internet"
INTERNET_HOST_IP = "198.51.100.10"
PUBLIC_IP = "198.51.100.200"
"""API Gateway's public (regional) front as the internet sees it."""
LINK_GROUP = "vpc-links"
PORTS = (443, 80)
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def needed(t: Topology) -> bool:
    return bool(t.apis) or any(
        ep.service == "execute-api" for v in t.vpcs.values() for ep in v.endpoints.values()
    )


def link_key(api: str, link: str) -> str:
    return f"vpclink-{api}-{link}"


def expand(t: Topology) -> Topology:
    """The topology plus API Gateway's VPC, and an endpoint service + endpoint per REST VPC link."""
    if not needed(t):
        return t
    azs = sorted({s.az for v in t.vpcs.values() for s in v.subnets.values()}) or [f"{t.region}a"]
    subnets = {az[-1]: Subnet(az[-1], f"10.255.{i + 1}.0/24", az) for i, az in enumerate(azs[:6])}
    everything = SgRule("ingress", "all", 0, 65535, CIDR, "API Gateway's own traffic")
    out_all = SgRule("egress", "all", 0, 65535, "0.0.0.0/0")
    groups = {
        "default": SecurityGroup("default", "default VPC security group", (), (out_all,)),
        LINK_GROUP: SecurityGroup(LINK_GROUP, "VPC link endpoints", (everything,), (out_all,)),
    }
    vpcs = dict(t.vpcs)
    endpoints: dict[str, Endpoint] = {}
    for aname, api in t.apis.items():
        if api.type != "rest":
            continue
        for lname, link in api.vpc_links.items():
            if link.target is None:
                continue
            tvpc, nlb = link.target.split("/", 1)
            key = link_key(aname, lname)
            service = EndpointService(key, nlb, False, (ACCOUNT_ID,))
            v = vpcs[tvpc]
            vpcs[tvpc] = replace(v, endpoint_services={**v.endpoint_services, key: service})
            lb_azs = {v.subnets[s].az for s in v.load_balancers[nlb].subnets}
            chosen = tuple(s for s, sub in subnets.items() if sub.az in lb_azs) or (
                next(iter(subnets)),
            )
            endpoints[key] = Endpoint(key, f"{tvpc}/{key}", chosen, (LINK_GROUP,), False)
    vpcs[VPC] = Vpc(VPC, CIDR, ACCOUNT_KEY, subnets, groups, {}, {}, {}, endpoints)
    # "The internet": a client with a documentation-range address, and (in build)
    # API Gateway's public front beside it. No security groups out there: one open group.
    anything_in = SgRule("ingress", "all", 0, 65535, "0.0.0.0/0")
    vpcs[INTERNET_VPC] = Vpc(
        INTERNET_VPC,
        INTERNET_CIDR,
        INTERNET_VPC,
        {"public": Subnet("public", INTERNET_CIDR, f"{t.region}a")},
        {"default": SecurityGroup("default", "the internet", (anything_in,), (out_all,))},
        {INTERNET_HOST: Host(INTERNET_HOST, "public", ("default",), (), True, INTERNET_HOST_IP)},
    )
    return replace(
        t,
        vpcs=vpcs,
        accounts={**t.accounts, ACCOUNT_KEY: ACCOUNT_ID, INTERNET_VPC: INTERNET_ACCOUNT},
    )


def _short(t: str, path: str, n: int) -> str:
    d = ids.hex_digits(t, path, 2 * n)
    return "".join(_ALNUM[int(d[2 * i : 2 * i + 2], 16) % 36] for i in range(n))


def api_id(t: str, name: str) -> str:
    return _short(t, f"api/{name}", 10)


def vpc_link_id(t: str, api: str, link: str) -> str:
    return _short(t, f"api/{api}/vpclink/{link}", 6)


def apis(
    t: Topology,
    vpcs: dict[str, PlanVpc],
    endpoints: dict[str, PlanEndpoint],
    lbs: dict[str, PlanLoadBalancer],
) -> dict[str, PlanApi]:
    out = {}
    for aname, api in t.apis.items():
        aid = api_id(t.name, aname)
        account = t.accounts.get(api.account, next(iter(t.accounts.values())))
        arn = f"arn:aws:execute-api:{t.region}:{account}:{aid}"
        links = {}
        for lname, link in api.vpc_links.items():
            if link.target is None:
                continue  # HTTP API links (issue 7)
            key = link_key(aname, lname)
            lid = vpc_link_id(t.name, aname, lname)
            links[lname] = PlanVpcLink(
                lid,
                lname,
                link.target,
                f"{link.target.split('/')[0]}/{key}",
                f"{VPC}/{key}",
                "AVAILABLE",
            )
        by_name = {n: lk.id for n, lk in links.items()}
        by_name.update(
            {n: vpc_link_id(t.name, aname, n) for n, lk in api.vpc_links.items() if lk.vpc}
        )
        stages = {
            s.name: {k: by_name.get(v, v) for k, v in s.variables.items()}
            for s in api.stages.values()
        }
        routes = tuple(
            PlanApiRoute(r.method, r.path, _integration(r.integration, by_name, api, lbs))
            for r in api.routes
        )
        out[aid] = PlanApi(
            id=aid,
            name=aname,
            type=api.type,
            endpoint=api.endpoint,
            account_id=account,
            arn_prefix=arn,
            hostname=f"{aid}.execute-api.{t.region}.amazonaws.com",
            policy=_policy(api, arn, t, vpcs, endpoints),
            stages=stages,
            routes=routes,
            vpc_links={lk.id: lk for lk in links.values()},
        )
    return out


def _integration(
    i: Any, by_name: dict[str, str], api: Api, lbs: dict[str, PlanLoadBalancer]
) -> PlanIntegration:
    cid = i.connection_id
    uri = i.uri
    if cid is not None and cid in by_name:
        cid = by_name[cid]
    if uri and i.connection_type == "VPC_LINK":
        # `http://orders-nlb:80/…` (an NLB's name, as the design's examples write it)
        # becomes that NLB's DNS name, which is what AWS users put in the uri.
        for link in api.vpc_links.values():
            lb = lbs.get(link.target or "")
            if lb is not None:
                pattern = rf"^(https?://){re.escape(lb.name)}(?=[:/]|$)"
                uri = re.sub(pattern, rf"\g<1>{lb.dns_name}", uri)
    return PlanIntegration(
        i.type, i.connection_type, cid, uri, i.timeout_ms, i.mock_status, i.mock_body,
        i.overwrite_path, i.integration_target,
    )  # fmt: skip


def _policy(
    api: Api, arn: str, t: Topology, vpcs: dict[str, PlanVpc], endpoints: dict[str, PlanEndpoint]
) -> str | None:
    if api.policy is None:
        return None
    statements = []
    for st in api.policy:
        cond: dict[str, dict[str, list[str]]] = {}
        if st.source_vpce:
            cond.setdefault("StringEquals", {})["aws:SourceVpce"] = [
                endpoints[x].id if x in endpoints else x for x in st.source_vpce
            ]
        if st.source_vpc:
            cond.setdefault("StringEquals", {})["aws:SourceVpc"] = [
                vpcs[x].id if x in vpcs else x for x in st.source_vpc
            ]
        if st.not_source_vpce:
            cond.setdefault("StringNotEquals", {})["aws:SourceVpce"] = [
                endpoints[x].id if x in endpoints else x for x in st.not_source_vpce
            ]
        if st.source_ip:
            cond.setdefault("IpAddress", {})["aws:SourceIp"] = list(st.source_ip)
        resources = [
            f"{arn}/*" if r == "*" else f"{arn}/*/{r.split(' ', 1)[0]}{r.split(' ', 1)[1]}"
            for r in st.resources
        ]
        statement: dict[str, Any] = {
            "Effect": st.effect,
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": resources,
        }
        if cond:
            statement["Condition"] = cond
        statements.append(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def data_plane_config(
    plan: Any, cert: str, key: str, fabric_socket: str | None = None
) -> dict[str, Any]:
    """The API Gateway process's config (services/apigateway reads it), from the plan."""
    agw = plan.api_gateway
    assert agw is not None
    enis = {e.id: e for e in plan.enis}
    vpc_ids = {name: v.id for name, v in plan.vpcs.items()}
    sources = {}
    for ep in plan.endpoints.values():
        for eni_id in ep.ingress_enis:
            sources[enis[eni_id].ip] = {
                "vpce": ep.id,
                "vpc": vpc_ids[ep.vpc],
                "private_dns": ep.private_dns,
            }
    apis_out = {}
    for api in plan.apis.values():
        links = {}
        for lk in api.vpc_links.values():
            ep = plan.endpoints[lk.endpoint]
            links[lk.id] = {"name": lk.name, "status": lk.status, "address": enis[ep.enis[0]].ip}
        v2 = {lk.name: lk for lk in plan.vpc_links_v2.values() if lk.api == api.id}
        for lk in v2.values():
            links[lk.id] = {"name": lk.name, "status": lk.status, "address": lk.front_ip}
        apis_out[api.id] = {
            "name": api.name,
            "type": api.type,
            "endpoint": api.endpoint,
            "account_id": api.account_id,
            "policy": json.loads(api.policy) if api.policy else None,
            "stages": {name: {"variables": dict(v)} for name, v in api.stages.items()},
            "routes": [
                {
                    "method": r.method,
                    "path": r.path,
                    "integration": {
                        "type": r.integration.type,
                        "connection_type": r.integration.connection_type,
                        "connection_id": r.integration.connection_id,
                        "uri": r.integration.uri,
                        "timeout_ms": r.integration.timeout_ms,
                        "mock_status": r.integration.mock_status,
                        "mock_body": r.integration.mock_body,
                        "overwrite_path": r.integration.overwrite_path,
                        **_http_targets(r.integration, v2),
                    },
                }
                for r in api.routes
            ],
            "vpc_links": links,
        }
    return {
        "region": plan.region,
        "listen": [{"ip": agw.ip, "port": port, "tls": port == 443} for port in agw.ports],
        "tls": {"cert": cert, "key": key},
        "endpoints": sources,
        "apis": apis_out,
        "fabric_socket": fabric_socket,
    }


def _http_targets(i: PlanIntegration, links: dict[str, Any]) -> dict[str, Any]:
    """VPC link V2 (HTTP APIs, and REST APIs since Nov 2025): where the data plane connects
    (the link's front, a port per backend; several for a Cloud Map service)."""
    if i.uri is None or i.connection_type != "VPC_LINK":
        return {}
    from hyperplane_emu.plan.vpclinks import target_key

    key = target_key(i.uri, i.integration_target)
    by_id = {lk.id: lk for lk in links.values()}
    link = links.get(i.connection_id or "") or by_id.get(i.connection_id or "")
    if link is None:  # `${stageVariables.x}`: the link that reaches this target
        link = next((lk for lk in links.values() if key in lk.by_uri), None)
    if link is None or key not in link.by_uri:
        return {}
    ports = set(link.by_uri[key])
    out_id = {} if (i.connection_id or "").startswith("${") else {"connection_id": link.id}
    return {
        **out_id,
        "targets": [
            {"address": link.front_ip, "port": t.port, "host": t.host, "kind": t.kind,
             "attributes": dict(t.attributes), "healthy": t.healthy}
            for t in link.targets
            if t.port in ports
        ],
    }  # fmt: skip
