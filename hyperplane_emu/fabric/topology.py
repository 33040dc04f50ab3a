"""Everything the fabric looks up, built from a `Plan` once: the `Topology`.

How it works: each plan VPC becomes a `VpcState` (index = position in name
order, the first word of every flow key), each plan ENI an `EniState` filed by
address in its VPC and, for host ENIs, by fabric port. Security groups are
compiled once per group and shared by the `EniPolicy` of every ENI that has
them. On top of the ENIs sit the load-balanced fronts: NLBs, interface
endpoints (whose ENIs hand flows to an NLB node), API Gateway's two fronts
(`execute-api` for private APIs, `regional` for the internet, both built as
NLBs so that one path handles them), HTTP API VPC links and the internet
gateways. Nothing here runs per packet, and nothing imports the core.
"""

from __future__ import annotations

from hyperplane_emu.plan.model import (
    Plan,
    PlanHealthCheck,
    PlanLinkTarget,
    PlanListener,
    PlanLoadBalancer,
    PlanTarget,
    PlanTargetGroup,
    PlanVpcLinkV2,
)

from .nacl import AclTable
from .nlb import EndpointState, LoadBalancerState
from .packet import PROTO_TCP
from .secgroup import CompiledRule, EniPolicy, compile_group
from .tables import EniState, VpcState, unfiltered


class VpcLinkState:
    """An HTTP API VPC link: its front ENI's targets by port and its ENIs (one per subnet)."""

    __slots__ = ("link", "targets", "enis")

    def __init__(self, link: PlanVpcLinkV2, enis: list[EniState]) -> None:
        self.link = link
        self.targets: dict[int, PlanLinkTarget] = {t.port: t for t in link.targets}
        self.enis = enis


class Topology:
    """The fabric's lookup tables for one plan. Mutable only through `Fabric`'s API
    (security group replacement, target health, endpoint state)."""

    def __init__(self, plan: Plan) -> None:
        self.compiled: dict[str, dict[str, tuple[CompiledRule, ...]]] = {}
        for v in plan.vpcs.values():
            for sg in v.security_groups.values():
                self.compiled[sg.id] = compile_group(sg)
        self.vpcs: dict[str, VpcState] = {
            name: VpcState(i, v) for i, (name, v) in enumerate(sorted(plan.vpcs.items()))
        }
        self.enis: dict[str, EniState] = {}
        nports = max((e.port for e in plan.enis), default=-1) + 1
        self.ports: list[EniState | None] = [None] * nports
        self.accounts: dict[str, str] = {}
        for e in plan.enis:
            vpc = self.vpcs[e.vpc]
            policy = EniPolicy(
                e.id, e.security_groups, self.compiled, unfiltered(e.kind, e.security_groups)
            )
            st = EniState(e, vpc, policy)
            self.enis[e.id] = st
            vpc.enis[st.ip] = st
            self.accounts[e.id] = vpc.account_id
            if e.port >= 0:
                self.ports[e.port] = st
            if st.kind == "resolver":
                vpc.resolver = st
        # Subnet id -> its network ACL, for subnets whose ACL is not AWS's allow-all.
        self.acls = AclTable.from_plan(
            (a for v in plan.vpcs.values() for a in v.network_acls.values()), sparse=True
        )
        self.load_balancers: dict[str, LoadBalancerState] = {
            key: LoadBalancerState(lb, self.vpcs[lb.vpc], self.enis)
            for key, lb in plan.load_balancers.items()
        }
        # Node ENI -> the load balancer it fronts (NLB nodes, API Gateway's regional front).
        self.lb_of_node = {n.id: lb for lb in self.load_balancers.values() for n in lb.nodes}
        self.links_of_front: dict[str, VpcLinkState] = {
            link.front_eni: VpcLinkState(link, [self.enis[e] for e in link.enis])
            for link in plan.vpc_links_v2.values()
        }
        # The emulated internet: each VPC's public address (its internet gateway).
        self.internet = self.vpcs.get("internet")
        self.igw_of_vpc = {e.owner: self.enis[e.id] for e in plan.enis if e.kind == "igw"}
        execute_api = self._api_gateway_front(plan, "execute-api", (), False)
        # The regional (public) front: the internet's callers keep their address,
        # which API Gateway needs for aws:SourceIp.
        if plan.api_gateway is not None and plan.api_gateway.public_eni:
            public = self._api_gateway_front(plan, "regional", (plan.api_gateway.public_eni,), True)
            assert public is not None
            self.lb_of_node[plan.api_gateway.public_eni] = public
        self.endpoints: dict[str, EndpointState] = {}
        self.endpoint_of_eni: dict[str, EndpointState] = {}
        for ep in plan.endpoints.values():
            svc = plan.endpoint_services.get(ep.service)
            lb = self.load_balancers[svc.load_balancer] if svc else execute_api
            es = EndpointState(ep.id, ep.key, ep.state, lb, svc.id if svc else ep.service)
            for eni_id in ep.ingress_enis:
                node = self.enis[eni_id]
                es.nodes[node.az] = node
            self.endpoints[ep.id] = es
            for eni_id in ep.enis:
                self.endpoint_of_eni[eni_id] = es

    def vpc_by_index(self, index: int) -> VpcState:
        return next(v for v in self.vpcs.values() if v.index == index)

    def _api_gateway_front(
        self, plan: Plan, name: str, enis: tuple[str, ...], preserve: bool
    ) -> LoadBalancerState | None:
        """API Gateway's side of its endpoints, one listener per data-plane port.

        Built like an NLB so that the load-balanced path handles it alike. For
        `execute-api` the nodes are each endpoint's own ingress addresses
        (EndpointState.nodes), so the data plane can tell endpoints apart by
        source address; the regional front preserves the caller's address."""
        agw = plan.api_gateway
        if agw is None:
            return None
        groups = {
            f"port-{port}": PlanTargetGroup(
                f"port-{port}", "", PROTO_TCP, port, "ip",
                (PlanTarget(agw.host, agw.ip, port, self.enis[agw.eni].az, agw.eni),),
                PlanHealthCheck("tcp", port, "/", 30, 10, 5, 2, "200-399"), preserve, False,
            )
            for port in agw.ports
        }  # fmt: skip
        front = PlanLoadBalancer(
            key=f"{agw.vpc}/{name}", name=name, id="", arn="", vpc=agw.vpc,
            scheme="internal", dns_name="", cross_zone=True, enis=enis,
            listeners=tuple(
                PlanListener("", PROTO_TCP, port, f"port-{port}", 350) for port in agw.ports
            ),
            target_groups=groups,
        )  # fmt: skip
        return LoadBalancerState(front, self.vpcs[agw.vpc], self.enis)
