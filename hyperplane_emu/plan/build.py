"""spec.Topology -> Plan: pure and deterministic.

Iteration follows the file's order (YAML mappings keep it), never set or hash
order, so the same file always gives the same plan. Addresses are handed out
per subnet in a fixed order: hosts, then NLB nodes, then endpoint ENIs, so
adding a load balancer or an endpoint never moves a host. Ports (the fabric's
index of ENIs that are veths) follow the same order, then one resolver per VPC;
virtual ENIs (interface endpoints) have no port.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_network

from hyperplane_emu.plan import (
    apigateway,
    elb,
    flowlogs,
    ids,
    nacl,
    names,
    onprem,
    privatelink,
    vpclinks,
)
from hyperplane_emu.plan.addresses import SubnetAllocator, dns, router
from hyperplane_emu.plan.model import (
    PLAN_VERSION,
    EniKind,
    Plan,
    PlanApiGateway,
    PlanEndpoint,
    PlanEndpointService,
    PlanEni,
    PlanHost,
    PlanLoadBalancer,
    PlanRoute,
    PlanSecurityGroup,
    PlanServe,
    PlanSettings,
    PlanSgRule,
    PlanSubnet,
    PlanTarget,
    PlanVpc,
)
from hyperplane_emu.spec.errors import SpecError, SpecIssue
from hyperplane_emu.spec.model import SecurityGroup, Topology, Vpc

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "all": -1}
AMAZON_DNS_LINK_LOCAL = "169.254.169.253"


class PlanError(SpecError):
    """The file is valid but cannot be realized (e.g. a subnet has no free address).

    A SpecError subclass so that callers report both the same way: path + message.
    """


@dataclass
class _EniRequest:
    """An ENI to be given an address and, if it is a veth, a port."""

    kind: EniKind
    path: str  # id seed and error path
    vpc: str
    subnet: str
    owner: str
    description: str
    groups: tuple[str, ...]
    source_dest_check: bool
    namespace: str
    ip: IPv4Address | None = None
    prefixlen: int = 0
    veth: bool = True


def build(topology: Topology) -> Plan:
    return _Builder(topology).build()


class _Builder:
    def __init__(self, topology: Topology) -> None:
        reserved = (apigateway.VPC, apigateway.INTERNET_VPC, onprem.VPC)
        if any(n in topology.vpcs for n in reserved) or any(
            n in v.hosts for v in topology.vpcs.values() for n in reserved
        ):
            names_ = " and ".join(map(repr, reserved))
            raise PlanError(
                [
                    SpecIssue(
                        "vpcs",
                        f"{names_} name API Gateway's own VPC and the internet "
                        "in the emulator: rename yours",
                    )
                ],
                topology.source or "<string>",
            )
        self.user_vpcs = set(topology.vpcs)
        topology = apigateway.expand(onprem.expand(topology))
        self.topo = topology
        self.t = topology.name
        self.region = topology.region
        self.issues: list[SpecIssue] = []
        self.vpcs: dict[str, PlanVpc] = {}
        self.allocators: dict[str, dict[str, SubnetAllocator]] = {}

    def build(self) -> Plan:
        topo, t = self.topo, self.t
        for vname, v in topo.vpcs.items():
            self.vpcs[vname] = self._vpc(vname, v)
            self.allocators[vname] = _allocators(v)

        requests: list[_EniRequest] = []
        for vname, v in topo.vpcs.items():
            for hname, h in v.hosts.items():
                ip = IPv4Address(h.private_ip) if h.private_ip else None
                requests.append(
                    _EniRequest(
                        "host",
                        f"vpcs.{vname}.hosts.{hname}",
                        vname,
                        h.subnet,
                        hname,
                        f"Primary network interface of {hname}",
                        tuple(self.vpcs[vname].security_groups[g].id for g in h.security_groups),
                        h.source_dest_check,
                        names.namespace(t, hname),
                        ip,
                    )
                )
        if apigateway.VPC in topo.vpcs:
            requests.append(
                _EniRequest(
                    "apigw",
                    "apigateway.data-plane",
                    apigateway.VPC,
                    next(iter(topo.vpcs[apigateway.VPC].subnets)),
                    apigateway.HOST,
                    "API Gateway data plane",
                    (),
                    True,
                    names.namespace(t, apigateway.HOST),
                )
            )
            requests.append(
                _EniRequest(
                    "apigw-public",
                    "apigateway.public",
                    apigateway.INTERNET_VPC,
                    "public",
                    apigateway.HOST,
                    "API Gateway regional front",
                    (),
                    True,
                    "",
                    IPv4Address(apigateway.PUBLIC_IP),
                    veth=False,
                )
            )
        lb_requests: dict[str, list[_EniRequest]] = {}
        for vname, v in topo.vpcs.items():
            for lbname, lb in v.load_balancers.items():
                hexid = elb.lb_hex(t, vname, lbname)
                alb = lb.type == "application"
                # ALB nodes are proxy processes with security groups, one namespace per
                # node; NLB nodes have no groups and their namespace only health-checks.
                lb_groups = tuple(
                    self.vpcs[vname].security_groups[g].id
                    for g in (lb.security_groups or (("default",) if alb else ()))
                )
                reqs = [
                    _EniRequest(
                        "alb" if alb else "nlb",
                        f"vpcs.{vname}.load_balancers.{lbname}.subnets.{s}",
                        vname,
                        s,
                        lbname,
                        elb.eni_description(lbname, hexid, "app" if alb else "net"),
                        lb_groups,
                        True,
                        names.namespace(t, f"{'alb' if alb else 'nlb'}-{lbname}-{s}"),
                    )
                    for s in lb.subnets
                ]
                lb_requests[f"{vname}/{lbname}"] = reqs
                requests += reqs
        for r in requests:
            self._address(r)
        if apigateway.INTERNET_VPC in topo.vpcs:
            for vname in topo.vpcs:
                if vname == apigateway.INTERNET_VPC:
                    continue
                r = _EniRequest(
                    "igw", f"vpcs.{vname}.internet_gateway", apigateway.INTERNET_VPC, "public",
                    vname, f"public address of {vname} (internet gateway / NAT)", (), False, "",
                    veth=False,
                )  # fmt: skip
                self._address(r)
                requests.append(r)
        # Resolvers: the VPC's DNS address (base + 2) and the link-local one.
        for vname, pv in self.vpcs.items():
            requests.append(
                _EniRequest(
                    "resolver",
                    f"vpcs.{vname}.resolver",
                    vname,
                    "",
                    f"dns-{vname}",
                    f"Amazon DNS server of {vname}",
                    (),
                    False,
                    names.namespace(t, f"dns-{vname}"),
                    IPv4Address(pv.dns_ip),
                    _net(pv.cidr).prefixlen,
                )
            )
        ep_requests: dict[str, list[_EniRequest]] = {}
        for vname, v in topo.vpcs.items():
            for ename, ep in v.endpoints.items():
                groups = ep.security_groups or ("default",)
                eid = ids.aws_id("vpce", t, f"vpc/{vname}/endpoint/{ename}")
                reqs = [
                    _EniRequest(
                        "vpce",
                        f"vpcs.{vname}.endpoints.{ename}.subnets.{s}",
                        vname,
                        s,
                        ename,
                        f"VPC Endpoint Interface {eid}",
                        tuple(self.vpcs[vname].security_groups[g].id for g in groups),
                        True,
                        "",
                        veth=False,
                    )
                    for s in ep.subnets
                ]
                for r in reqs:
                    self._address(r)
                ep_requests[f"{vname}/{ename}"] = reqs
                requests += reqs
                if ep.service == privatelink.EXECUTE_API:
                    ingress = self._ingress_requests(vname, ename, eid, ep.subnets)
                    ep_requests[f"{vname}/{ename}/ingress"] = ingress
                    requests += ingress
        link_requests = self._vpc_link_requests()
        for reqs in link_requests.values():
            requests += reqs
        if self.issues:
            raise PlanError(self.issues, topo.source or "<string>")

        # ENIs come back in port order (veths first), not in request order.
        enis = self._enis(requests)
        ordered = [r for r in requests if r.veth] + [r for r in requests if not r.veth]
        by_path = {r.path: e for r, e in zip(ordered, enis, strict=True)}
        hosts = self._hosts(by_path)
        lbs = self._load_balancers(lb_requests, by_path, enis)
        services = self._endpoint_services(lbs)
        endpoints = self._endpoints(ep_requests, by_path, services)
        api_gw = self._api_gateway(by_path)
        apis = apigateway.apis(topo, self.vpcs, endpoints, lbs)
        links_v2 = vpclinks.plan_links(
            topo, self.t, link_requests, by_path, apis, lbs, {e.id: e for e in enis}
        )
        apis = apigateway.resolve_links(apis, links_v2, endpoints, {e.id: e for e in enis})
        self._check_namespaces(enis)
        if self.issues:
            raise PlanError(self.issues, topo.source or "<string>")
        s = topo.settings
        return Plan(
            version=PLAN_VERSION,
            name=t,
            region=self.region,
            accounts=dict(topo.accounts),
            prefix=names.topology_prefix(t),
            fabric_namespace=names.fabric_namespace(t),
            vpcs=self.vpcs,
            hosts=hosts,
            enis=tuple(enis),
            settings=PlanSettings(s.conntrack_max, s.flow_log_interval, s.mtu),
            source=topo.source,
            load_balancers=lbs,
            endpoint_services=services,
            endpoints=endpoints,
            api_gateway=api_gw,
            apis=apis,
            vpc_links_v2=links_v2,
            cloud_map=vpclinks.cloud_map_data(topo, enis),
        )

    # ------------------------------------------------------------ pieces

    def _internet_route(self, vname: str) -> tuple[PlanRoute, ...]:
        """With the emulated internet present, every VPC reaches it through its own
        gateway, with one public address (a NAT gateway's Elastic IP, in effect)."""
        if apigateway.INTERNET_VPC not in self.topo.vpcs or vname == apigateway.INTERNET_VPC:
            return ()
        return (PlanRoute("0.0.0.0/0", ids.aws_id("igw", self.t, f"vpc/{vname}/igw")),)

    def _vpc(self, vname: str, v: Vpc) -> PlanVpc:
        t = self.t
        vpc_net = _net(v.cidr)
        subnets = {
            sname: PlanSubnet(
                id=ids.aws_id("subnet", t, f"vpc/{vname}/subnet/{sname}"),
                name=sname,
                vpc=vname,
                cidr=s.cidr,
                az=s.az,
                router_ip=str(router(_net(s.cidr))),
            )
            for sname, s in v.subnets.items()
        }
        return PlanVpc(
            id=ids.aws_id("vpc", t, f"vpc/{vname}"),
            name=vname,
            account_id=self.topo.accounts[v.account],
            cidr=v.cidr,
            dns_ip=str(dns(vpc_net)),
            subnets=subnets,
            security_groups=_security_groups(t, vname, v),
            flow_logs=flowlogs.flow_logs(t, vname, v),
            network_acls=nacl.network_acls(
                t, vname, v, {name: s.id for name, s in subnets.items()}
            ),
            routes=(
                PlanRoute(v.cidr, "local"),
                *onprem.routes(self.topo, vname),
                *self._internet_route(vname),
            ),
        )

    def _address(self, r: _EniRequest) -> None:
        alloc = self.allocators[r.vpc][r.subnet]
        r.prefixlen = alloc.subnet.prefixlen
        if r.ip is not None:
            return
        r.ip = alloc.take()
        if r.ip is None:
            self.issues.append(
                SpecIssue(
                    r.path if r.kind != "host" else f"{r.path}.subnet",
                    f"subnet {r.subnet} ({alloc.subnet}) has no free address left for this "
                    f"{_WHAT[r.kind]}: it holds {alloc.capacity} ENIs once AWS's 5 reserved "
                    "addresses are taken",
                )
            )

    def _enis(self, requests: list[_EniRequest]) -> list[PlanEni]:
        veths = [r for r in requests if r.veth]
        virtual = [r for r in requests if not r.veth]
        ifnames = names.fabric_ifnames([(i, r.owner) for i, r in enumerate(veths)])
        out = []
        for port, r in [*enumerate(veths), *((-1, r) for r in virtual)]:
            pv = self.vpcs[r.vpc]
            eni_path = _id_path(r)
            assert r.ip is not None
            out.append(
                PlanEni(
                    id=ids.aws_id("eni", self.t, eni_path),
                    kind=r.kind,
                    owner=r.owner,
                    description=r.description,
                    vpc=r.vpc,
                    subnet=r.subnet,
                    az=pv.subnets[r.subnet].az if r.subnet else "",
                    ip=str(r.ip),
                    prefixlen=r.prefixlen,
                    mac=ids.mac(self.t, eni_path),
                    fabric_mac=ids.mac(self.t, eni_path + "/router"),
                    security_groups=r.groups,
                    source_dest_check=r.source_dest_check,
                    mtu=self.topo.settings.mtu,
                    namespace=r.namespace,
                    ifname=names.host_ifname(0) if r.veth else "",
                    fabric_ifname=ifnames[port] if r.veth else "",
                    port=port,
                )
            )
        return out

    def _hosts(self, by_path: dict[str, PlanEni]) -> dict[str, PlanHost]:
        hosts = {}
        agw = by_path.get("apigateway.data-plane")
        if agw is not None:
            pv = self.vpcs[apigateway.VPC]
            hosts[apigateway.HOST] = PlanHost(
                name=apigateway.HOST,
                vpc=apigateway.VPC,
                subnet=agw.subnet,
                namespace=agw.namespace,
                hostname=_hostname(self.region, IPv4Address(agw.ip)),
                enis=(agw.id,),
                gateway=pv.subnets[agw.subnet].router_ip,
                resolv_conf=_resolv_conf(self.region, pv.dns_ip),
            )
        for vname, v in self.topo.vpcs.items():
            pv = self.vpcs[vname]
            for hname, h in v.hosts.items():
                e = by_path[f"vpcs.{vname}.hosts.{hname}"]
                hosts[hname] = PlanHost(
                    name=hname,
                    vpc=vname,
                    subnet=h.subnet,
                    namespace=e.namespace,
                    hostname=_hostname(self.region, IPv4Address(e.ip)),
                    enis=(e.id,),
                    gateway=pv.subnets[h.subnet].router_ip,
                    resolv_conf=_resolv_conf(self.region, pv.dns_ip),
                    serve=tuple(PlanServe(s.kind, s.port) for s in h.serve),
                )
        return hosts

    def _load_balancers(
        self,
        lb_requests: dict[str, list[_EniRequest]],
        by_path: dict[str, PlanEni],
        enis: list[PlanEni],
    ) -> dict[str, PlanLoadBalancer]:
        t, region = self.t, self.region
        host_enis = {e.owner: e for e in enis if e.kind == "host"}
        out = {}
        for vname, v in self.topo.vpcs.items():
            account = self.vpcs[vname].account_id
            for lbname, lb in v.load_balancers.items():
                key = f"{vname}/{lbname}"
                alb = lb.type == "application"
                hexid = elb.lb_hex(t, vname, lbname)
                groups = {}
                for tgname, tg in lb.target_groups.items():
                    targets = []
                    for i, tgt in enumerate(tg.targets):
                        port = tgt.port or tg.port
                        if tgt.host is not None:
                            he = host_enis[tgt.host]
                            # An ip target written as a host name is that host's address.
                            tid = tgt.host if tg.target_type == "instance" else he.ip
                            targets.append(PlanTarget(tid, he.ip, port, he.az, he.id))
                            continue
                        assert tgt.ip is not None
                        owner = next((e for e in enis if e.vpc == vname and e.ip == tgt.ip), None)
                        az = owner.az if owner else self._az_of(vname, tgt.ip)
                        if az is None:
                            self.issues.append(
                                SpecIssue(
                                    f"vpcs.{vname}.load_balancers.{lbname}.target_groups."
                                    f"{tgname}.targets[{i}]",
                                    f"{tgt.ip} is in no subnet of {vname}",
                                )
                            )
                            continue
                        targets.append(
                            PlanTarget(tgt.ip, tgt.ip, port, az, owner.id if owner else None)
                        )
                    groups[tgname] = elb.target_group(
                        t, region, account, vname, lbname, tg, tuple(targets)
                    )
                out[key] = PlanLoadBalancer(
                    key=key,
                    name=lbname,
                    id=hexid,
                    arn=elb.lb_arn(region, account, lbname, hexid),
                    vpc=vname,
                    scheme=lb.scheme,
                    dns_name=elb.dns_name(region, lbname, hexid, alb, lb.scheme),
                    cross_zone=lb.cross_zone or alb,
                    enis=tuple(by_path[r.path].id for r in lb_requests[key]),
                    listeners=elb.listeners(t, region, account, vname, lb, hexid),
                    target_groups=groups,
                    kind="alb" if alb else "nlb",
                    security_groups=tuple(by_path[lb_requests[key][0].path].security_groups),
                    enforce_sg_inbound_on_privatelink=lb.enforce_sg_inbound_on_privatelink,
                    idle_timeout=lb.idle_timeout if alb else 350,
                    alb_listeners=elb.alb_listeners(lb) if alb else (),
                )
        return out

    def _az_of(self, vname: str, ip: str) -> str | None:
        a = IPv4Address(ip)
        for s in self.vpcs[vname].subnets.values():
            if a in _net(s.cidr):
                return s.az
        return None

    def _endpoint_services(
        self, lbs: dict[str, PlanLoadBalancer]
    ) -> dict[str, PlanEndpointService]:
        out = {}
        for vname, v in self.topo.vpcs.items():
            for sname, svc in v.endpoint_services.items():
                key = f"{vname}/{sname}"
                sid = ids.aws_id("vpce-svc", self.t, f"vpc/{vname}/endpoint-service/{sname}")
                out[key] = PlanEndpointService(
                    key=key,
                    id=sid,
                    name=sname,
                    service_name=privatelink.service_name(self.region, sid),
                    vpc=vname,
                    account_id=self.vpcs[vname].account_id,
                    load_balancer=f"{vname}/{svc.load_balancer}",
                    acceptance_required=svc.acceptance_required,
                    allowed_principals=svc.allowed_principals,
                    private_dns_name=svc.private_dns_name,
                )
        return out

    def _endpoints(
        self,
        ep_requests: dict[str, list[_EniRequest]],
        by_path: dict[str, PlanEni],
        services: dict[str, PlanEndpointService],
    ) -> dict[str, PlanEndpoint]:
        out = {}
        for vname, v in self.topo.vpcs.items():
            pv = self.vpcs[vname]
            for ename, ep in v.endpoints.items():
                key = f"{vname}/{ename}"
                eid = ids.aws_id("vpce", self.t, f"vpc/{vname}/endpoint/{ename}")
                enis = [by_path[r.path] for r in ep_requests[key]]
                if ep.service == privatelink.EXECUTE_API:
                    service_key, service_id, private_name = ep.service, ep.service, None
                    state = "available"
                else:
                    svc = services[ep.service]
                    service_key, service_id = svc.key, svc.id
                    private_name = svc.private_dns_name
                    state = "pendingAcceptance" if svc.acceptance_required else "available"
                groups = ep.security_groups or ("default",)
                out[key] = PlanEndpoint(
                    key=key,
                    id=eid,
                    name=ename,
                    vpc=vname,
                    account_id=pv.account_id,
                    service=service_key,
                    service_name=privatelink.service_name(self.region, service_id),
                    subnets=ep.subnets,
                    security_groups=tuple(pv.security_groups[g].id for g in groups),
                    enis=tuple(e.id for e in enis),
                    dns_names=privatelink.endpoint_dns_names(
                        self.region,
                        eid,
                        ids.dns_suffix(self.t, key),
                        service_id,
                        [e.az for e in enis],
                    ),
                    private_dns=ep.private_dns,
                    private_dns_names=(
                        privatelink.private_dns_names(self.region, service_id, private_name)
                        if ep.private_dns
                        else ()
                    ),
                    state=state,  # type: ignore[arg-type]
                    ingress_enis=tuple(
                        by_path[r.path].id for r in ep_requests.get(f"{key}/ingress", [])
                    ),
                )
        return out

    def _ingress_requests(
        self, vname: str, ename: str, eid: str, subnets: tuple[str, ...]
    ) -> list[_EniRequest]:
        """Per AZ of an execute-api endpoint: its source address in API Gateway's VPC."""
        agw = self.topo.vpcs[apigateway.VPC]
        by_az = {s.az: name for name, s in agw.subnets.items()}
        consumer = self.topo.vpcs[vname]
        out = []
        for s in subnets:
            target = by_az.get(consumer.subnets[s].az, next(iter(agw.subnets)))
            r = _EniRequest(
                "vpce-ingress",
                f"vpcs.{vname}.endpoints.{ename}.ingress.{s}",
                apigateway.VPC,
                target,
                ename,
                f"PrivateLink ingress of {eid}",
                (),
                True,
                "",
                veth=False,
            )
            self._address(r)
            out.append(r)
        return out

    def _vpc_link_requests(self) -> dict[str, list[_EniRequest]]:
        """HTTP API VPC links: a Hyperplane ENI per subnet (customer VPC), one front (ours)."""
        out: dict[str, list[_EniRequest]] = {}
        for aname, api in self.topo.apis.items():
            for lname, link in api.vpc_links.items():
                if link.vpc is None:
                    continue  # a REST V1 link: endpoint service + endpoint (apigateway.expand)
                lid = ids.vpc_link_id(self.t, aname, lname)
                groups = link.security_groups or ("default",)
                sg_ids = tuple(self.vpcs[link.vpc].security_groups[g].id for g in groups)
                reqs = [
                    _EniRequest(
                        "vpclink", f"apis.{aname}.vpc_links.{lname}.subnets.{sub}", link.vpc,
                        sub, lname, f"VPC Link ENI {lid} (requester-managed by API Gateway)",
                        sg_ids, True, "", veth=False,
                    )
                    for sub in link.subnets
                ]  # fmt: skip
                front = _EniRequest(
                    "vpclink-front", f"apis.{aname}.vpc_links.{lname}.front", apigateway.VPC,
                    next(iter(self.topo.vpcs[apigateway.VPC].subnets)), lname,
                    f"API Gateway side of VPC link {lid}", (), False, "", veth=False,
                )  # fmt: skip
                for r in (*reqs, front):
                    self._address(r)
                out[f"{aname}/{lname}"] = [*reqs, front]
        return out

    def _api_gateway(self, by_path: dict[str, PlanEni]) -> PlanApiGateway | None:
        e = by_path.get("apigateway.data-plane")
        if e is None:
            return None
        public = by_path["apigateway.public"]
        return PlanApiGateway(
            apigateway.VPC,
            apigateway.ACCOUNT_ID,
            apigateway.HOST,
            e.id,
            e.ip,
            apigateway.PORTS,
            public.id,
            public.ip,
        )

    def _check_namespaces(self, enis: list[PlanEni]) -> None:
        seen: dict[str, PlanEni] = {}
        for e in enis:
            if not e.namespace:
                continue
            other = seen.get(e.namespace)
            if other is not None and other.owner != e.owner:
                self.issues.append(
                    SpecIssue(
                        f"vpcs.{e.vpc}",
                        f"{_WHAT[e.kind]} {e.owner!r} and {_WHAT[other.kind]} {other.owner!r} "
                        f"would share namespace {e.namespace}: rename one",
                    )
                )
            seen[e.namespace] = e


_WHAT = {
    "host": "host",
    "nlb": "load balancer",
    "vpce": "endpoint",
    "resolver": "resolver",
    "apigw": "API Gateway",
    "apigw-public": "API Gateway",
    "vpce-ingress": "endpoint",
    "vpclink": "VPC link",
    "vpclink-front": "VPC link",
    "igw": "internet gateway",
    "alb": "load balancer",
}


def _id_path(r: _EniRequest) -> str:
    # Host ENI ids keep the form they had before other kinds existed.
    if r.kind == "host":
        return f"vpc/{r.vpc}/host/{r.owner}/eni/0"
    return r.path.replace(".", "/")


def _net(cidr: str) -> IPv4Network:
    n = ip_network(cidr)
    assert isinstance(n, IPv4Network)
    return n


def _allocators(v: Vpc) -> dict[str, SubnetAllocator]:
    pinned: dict[str, set[IPv4Address]] = {s: set() for s in v.subnets}
    for h in v.hosts.values():
        if h.private_ip is not None:
            pinned[h.subnet].add(IPv4Address(h.private_ip))
    return {s: SubnetAllocator(_net(v.subnets[s].cidr), pinned[s]) for s in v.subnets}


def _security_groups(t: str, vname: str, v: Vpc) -> dict[str, PlanSecurityGroup]:
    group_ids = {g: ids.aws_id("sg", t, f"vpc/{vname}/sg/{g}") for g in v.security_groups}
    return {g: _security_group(t, vname, sg, group_ids) for g, sg in v.security_groups.items()}


def _security_group(
    t: str, vname: str, sg: SecurityGroup, group_ids: dict[str, str]
) -> PlanSecurityGroup:
    rules: list[PlanSgRule] = []
    for direction, spec_rules in (("ingress", sg.ingress), ("egress", sg.egress)):
        for i, r in enumerate(spec_rules):
            proto = PROTOCOL_NUMBERS[r.protocol]
            # AWS spells "every port" as -1 for all-protocol and ICMP-any rules.
            lo, hi = (r.from_port, r.to_port) if proto in (6, 17) else (-1, -1)
            rules.append(
                PlanSgRule(
                    rule_id=ids.aws_id("sgr", t, f"vpc/{vname}/sg/{sg.name}/{direction}/{i}"),
                    direction="ingress" if direction == "ingress" else "egress",
                    protocol=proto,
                    from_port=lo,
                    to_port=hi,
                    cidr=None if r.peer_is_group else r.peer,
                    group_id=group_ids[r.peer_group] if r.peer_is_group else None,
                    description=r.description,
                )
            )
    return PlanSecurityGroup(
        id=group_ids[sg.name],
        name=sg.name,
        vpc=vname,
        description=sg.description,
        rules=tuple(rules),
    )


def _hostname(region: str, ip: IPv4Address) -> str:
    """EC2's private DNS hostname (IP-based naming)."""
    dashed = "ip-" + str(ip).replace(".", "-")
    return f"{dashed}.{_search_domain(region)}"


def _search_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def _resolv_conf(region: str, dns_ip: str) -> str:
    return f"nameserver {dns_ip}\nsearch {_search_domain(region)}\noptions timeout:2 attempts:2\n"
