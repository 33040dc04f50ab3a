"""spec.Topology -> Plan: pure and deterministic.

Iteration follows the file's order (YAML mappings keep it), never set or hash
order, so the same file always gives the same plan. Addresses are handed out
per subnet in a fixed order: hosts, then NLB nodes, then endpoint ENIs, so
adding a load balancer or an endpoint never moves a host. Ports (the fabric's
index of ENIs that are veths) follow the same order, then one resolver per VPC;
virtual ENIs (interface endpoints) have no port.

Each AWS object family is planned in a module of its own (`build_vpcs`,
`build_hosts`, `build_elb`, `build_privatelink`, `build_apigw`): it asks for
ENIs (`enirequest`) and, once they have addresses, makes its plan objects.
This module keeps the order over all of them, hands out the addresses and
ports, and names the ENIs.
"""

from __future__ import annotations

from hyperplane_emu.plan import (
    apigateway,
    build_apigw,
    build_elb,
    build_hosts,
    build_privatelink,
    build_vpcs,
    ids,
    names,
    onprem,
    vpclinks,
)
from hyperplane_emu.plan.addresses import SubnetAllocator
from hyperplane_emu.plan.enirequest import WHAT, EniRequest
from hyperplane_emu.plan.model import PLAN_VERSION, Plan, PlanEni, PlanSettings, PlanVpc
from hyperplane_emu.spec.errors import SpecError, SpecIssue
from hyperplane_emu.spec.model import Topology


class PlanError(SpecError):
    """The file is valid but cannot be realized (e.g. a subnet has no free address).

    A SpecError subclass so that callers report both the same way: path + message.
    """


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
            self.vpcs[vname] = build_vpcs.plan_vpc(topo, t, vname, v)
            self.allocators[vname] = build_vpcs.allocators(v)

        # Addresses are handed out in this order: see the module's docstring.
        requests = build_hosts.host_requests(topo, t, self.vpcs)
        requests += build_apigw.gateway_requests(topo, t)
        lb_requests = build_elb.lb_requests(topo, t, self.vpcs)
        for reqs in lb_requests.values():
            requests += reqs
        for r in requests:
            self._address(r)
        for r in build_apigw.internet_gateway_requests(topo):
            self._address(r)
            requests.append(r)
        requests += build_vpcs.resolver_requests(t, self.vpcs)
        ep_requests = build_privatelink.endpoint_requests(topo, t, self.vpcs)
        for reqs in ep_requests.values():
            for r in reqs:
                self._address(r)
            requests += reqs
        link_requests = build_apigw.vpc_link_requests(topo, t, self.vpcs)
        for reqs in link_requests.values():
            for r in reqs:
                self._address(r)
            requests += reqs
        if self.issues:
            raise PlanError(self.issues, topo.source or "<string>")

        # ENIs come back in port order (veths first), not in request order.
        enis = self._enis(requests)
        ordered = [r for r in requests if r.veth] + [r for r in requests if not r.veth]
        by_path = {r.path: e for r, e in zip(ordered, enis, strict=True)}
        hosts = build_hosts.hosts(topo, self.region, self.vpcs, by_path)
        lbs = build_elb.load_balancers(
            topo, t, self.region, self.vpcs, lb_requests, by_path, enis, self.issues
        )
        services = build_privatelink.endpoint_services(topo, t, self.region, self.vpcs)
        endpoints = build_privatelink.endpoints(
            topo, t, self.region, self.vpcs, ep_requests, by_path, services
        )
        api_gw = build_apigw.api_gateway(by_path)
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
            settings=PlanSettings(
                s.conntrack_max, s.flow_log_interval, s.mtu, s.backend_trusted_cas
            ),
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

    def _address(self, r: EniRequest) -> None:
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
                    f"{WHAT[r.kind]}: it holds {alloc.capacity} ENIs once AWS's 5 reserved "
                    "addresses are taken",
                )
            )

    def _enis(self, requests: list[EniRequest]) -> list[PlanEni]:
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
                        f"{WHAT[e.kind]} {e.owner!r} and {WHAT[other.kind]} {other.owner!r} "
                        f"would share namespace {e.namespace}: rename one",
                    )
                )
            seen[e.namespace] = e


def _id_path(r: EniRequest) -> str:
    # Host ENI ids keep the form they had before other kinds existed.
    if r.kind == "host":
        return f"vpc/{r.vpc}/host/{r.owner}/eni/0"
    return r.path.replace(".", "/")
