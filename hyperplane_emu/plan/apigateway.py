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

import re
from dataclasses import replace

from hyperplane_emu.plan import ids, vpclinks
from hyperplane_emu.plan.model import (
    PlanApi,
    PlanApiRoute,
    PlanEndpoint,
    PlanEni,
    PlanIntegration,
    PlanIntegrationTarget,
    PlanLoadBalancer,
    PlanPolicyStatement,
    PlanStage,
    PlanVpc,
    PlanVpcLink,
    PlanVpcLinkV2,
)
from hyperplane_emu.spec.model import (
    Api,
    Endpoint,
    EndpointService,
    Host,
    Integration,
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


api_id = ids.api_id
vpc_link_id = ids.vpc_link_id


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
            s.name: PlanStage(s.name, {k: by_name.get(v, v) for k, v in s.variables.items()})
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
            vpc_endpoint_ids=tuple(endpoints[k].id for k in api.vpc_endpoint_ids),
        )
    return out


def _integration(
    i: Integration, by_name: dict[str, str], api: Api, lbs: dict[str, PlanLoadBalancer]
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
    tls = i.tls_config
    return PlanIntegration(
        i.type, i.connection_type, cid, uri, i.timeout_ms, i.mock_status, i.mock_body,
        i.overwrite_path, i.integration_target,
        tls_skip_verification=tls is not None and tls.insecure_skip_verification,
        tls_server_name=tls.server_name_to_verify if tls is not None else None,
    )  # fmt: skip


def _policy(
    api: Api, arn: str, t: Topology, vpcs: dict[str, PlanVpc], endpoints: dict[str, PlanEndpoint]
) -> tuple[PlanPolicyStatement, ...] | None:
    """The spec's statements with names resolved to ids and resources to ARN patterns."""
    if api.policy is None:
        return None

    def vpce(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(endpoints[x].id if x in endpoints else x for x in names)

    return tuple(
        PlanPolicyStatement(
            effect=st.effect,
            resources=tuple(
                f"{arn}/*" if r == "*" else f"{arn}/*/{r.split(' ', 1)[0]}{r.split(' ', 1)[1]}"
                for r in st.resources
            ),
            source_vpce=vpce(st.source_vpce),
            not_source_vpce=vpce(st.not_source_vpce),
            source_vpc=tuple(vpcs[x].id if x in vpcs else x for x in st.source_vpc),
            source_ip=st.source_ip,
            vpc_source_ip=st.vpc_source_ip,
        )
        for st in api.policy
    )


def resolve_links(
    apis: dict[str, PlanApi],
    links_v2: dict[str, PlanVpcLinkV2],
    endpoints: dict[str, PlanEndpoint],
    enis: dict[str, PlanEni],
) -> dict[str, PlanApi]:
    """Where the data plane connects: each REST (V1) link's endpoint address, and each
    VPC link V2 integration's targets (the link's front, a port per backend)."""
    out = {}
    for aid, api in apis.items():
        v1 = {
            lid: replace(lk, address=enis[endpoints[lk.endpoint].enis[0]].ip)
            for lid, lk in api.vpc_links.items()
        }
        v2 = {lk.name: lk for lk in links_v2.values() if lk.api == aid}
        routes = tuple(replace(r, integration=_link_targets(r.integration, v2)) for r in api.routes)
        out[aid] = replace(api, vpc_links=v1, routes=routes)
    return out


def _link_targets(i: PlanIntegration, links: dict[str, PlanVpcLinkV2]) -> PlanIntegration:
    if i.uri is None or i.connection_type != "VPC_LINK":
        return i
    key = vpclinks.target_key(i.uri, i.integration_target)
    by_id = {lk.id: lk for lk in links.values()}
    link = links.get(i.connection_id or "") or by_id.get(i.connection_id or "")
    if link is None:  # `${stageVariables.x}`: the link that reaches this target
        link = next((lk for lk in links.values() if key in lk.by_uri), None)
    if link is None or key not in link.by_uri:
        return i
    ports = set(link.by_uri[key])
    targets = tuple(
        PlanIntegrationTarget(link.front_ip, t.port, t.host, t.kind, dict(t.attributes), t.healthy)
        for t in link.targets
        if t.port in ports
    )
    cid = i.connection_id if (i.connection_id or "").startswith("${") else link.id
    return replace(i, connection_id=cid, targets=targets)
