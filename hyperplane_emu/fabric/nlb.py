"""Network Load Balancers and PrivateLink, as state the core consults for new flows.

Model (ELB "Network Load Balancers" guide; VPC "PrivateLink" guide; facts in
docs/privatelink.md):

- An NLB has one node (ENI, private address) per enabled subnet. A new flow to
  a node's address on a listener's port is sent to one target of the
  listener's target group, chosen by a hash of protocol, addresses, ports and,
  for TCP, the SYN's sequence number; the flow then stays on that target
  (conntrack). Nothing is proxied: the fabric rewrites the packets.
- Cross-zone off (default): a node only uses targets in its own AZ; a node
  whose AZ has no registered target cannot forward (`nlb-no-target-in-az`).
  Among the candidates, healthy targets are used; when none is healthy, all
  candidates are (fail open). A target turning unhealthy has its TCP
  connections reset on their next packet (`unhealthy_connection_termination`,
  AWS default on), unless no target of the group is healthy any more
  (`TargetGroupState.terminates_connections`).
- Proxy protocol v2 (`proxy_protocol_v2`): the path handler gives the flow a
  `ppv2.StreamInsert`; the core shifts its packets.
- Client IP preservation on: the target sees the client's address; off: the
  node's address, with a source port from `NAT_PORTS`. Over PrivateLink it is
  always off: "the targets receive the private IP addresses of the NLB".
- NLB ENIs have no security groups: nothing is evaluated on them, and a
  target's group must admit the node addresses (or the clients, when the
  client address is preserved).
- An interface endpoint ENI in the consumer VPC hands new flows (after its own
  security groups) to the endpoint service's NLB node in the same AZ, in the
  provider VPC. Only consumer -> provider flows exist: nothing in the provider
  VPC can address the endpoint. A connection that is not `available` carries
  nothing.
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.plan.model import PlanHealthCheck, PlanLoadBalancer, PlanTargetGroup

from .reasons import DropReason
from .tables import EniState, VpcState
from .tables import ip as _ip

NAT_PORTS = (10000, 65535)
"""Source ports the fabric gives NATed flows on an NLB node address; the node's
own namespace (health checks) uses ports below (realize sets its ephemeral range)."""


class TargetState:
    __slots__ = ("id", "ip", "port", "az", "eni", "health", "reason")

    def __init__(self, tid: str, ip: str, port: int, az: str, eni: EniState | None) -> None:
        self.id = tid
        self.ip = _ip(ip)
        self.port = port
        self.az = az
        self.eni = eni
        self.health = "initial"
        self.reason = ""


class TargetGroupState:
    def __init__(self, tg: PlanTargetGroup, enis: dict[str, EniState]) -> None:
        self.name = tg.name
        self.arn = tg.arn
        self.protocol = tg.protocol
        self.port = tg.port
        self.preserve_client_ip = tg.preserve_client_ip
        self.proxy_protocol_v2 = tg.proxy_protocol_v2
        self.unhealthy_connection_termination = tg.unhealthy_connection_termination
        self.health_check: PlanHealthCheck = tg.health_check
        self.targets = [
            TargetState(t.id, t.ip, t.port, t.az, enis.get(t.eni) if t.eni else None)
            for t in tg.targets
        ]

    def terminates_connections(self) -> bool:
        """Whether a target turning unhealthy has its connections reset now: the
        attribute is on and the group does not fail open (some target is healthy)."""
        return self.unhealthy_connection_termination and any(
            t.health == "healthy" for t in self.targets
        )

    def choose(self, az: str, cross_zone: bool, flow_hash: int) -> TargetState | DropReason:
        """The target for a new flow arriving at the node in `az`, or why there is none."""
        pool = self.targets if cross_zone else [t for t in self.targets if t.az == az]
        if not pool:
            return DropReason.NLB_NO_TARGET_IN_AZ if self.targets else DropReason.NLB_NO_TARGETS
        healthy = [t for t in pool if t.health == "healthy"]
        candidates = healthy or pool  # fail open when no candidate is healthy
        return candidates[flow_hash % len(candidates)]


class LoadBalancerState:
    def __init__(self, lb: PlanLoadBalancer, vpc: VpcState, enis: dict[str, EniState]) -> None:
        self.key = lb.key
        self.name = lb.name
        self.arn = lb.arn
        self.vpc = vpc
        self.cross_zone = lb.cross_zone
        # Groups on every node ENI (none: not filtered, AWS's NLB without groups).
        self.security_groups = lb.security_groups
        self.enforce_privatelink = lb.enforce_sg_inbound_on_privatelink
        self.nodes = [enis[e] for e in lb.enis]
        self.node_by_az = {n.az: n for n in self.nodes}
        self.target_groups = {
            name: TargetGroupState(tg, enis) for name, tg in lb.target_groups.items()
        }
        self.listeners: dict[tuple[int, int], tuple[TargetGroupState, int]] = {
            (li.protocol, li.port): (self.target_groups[li.target_group], li.idle_timeout)
            for li in lb.listeners
        }

    def node_for(self, az: str) -> EniState:
        """The node a PrivateLink flow from an endpoint ENI in `az` enters."""
        return self.node_by_az.get(az) or self.nodes[0]

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "nodes": [{"eni": n.id, "az": n.az} for n in self.nodes],
            "security_groups": list(self.security_groups),
            "target_groups": {
                name: [
                    {"id": t.id, "port": t.port, "az": t.az, "health": t.health, "reason": t.reason}
                    for t in tg.targets
                ]
                for name, tg in self.target_groups.items()
            },
        }


class EndpointState:
    def __init__(
        self, endpoint_id: str, key: str, state: str, lb: LoadBalancerState | None, service_id: str
    ) -> None:
        self.id = endpoint_id
        self.key = key
        self.state = state
        self.lb = lb  # None: a service the fabric does not emulate
        self.service_id = service_id
        # Per-AZ source addresses in the service's VPC that stand for this endpoint
        # (execute-api); empty: the NLB's nodes are the source, as for endpoint services.
        self.nodes: dict[str, EniState] = {}


def flow_hash(proto: int, src: int, dst: int, sport: int, dport: int, seq: int) -> int:
    """Deterministic (ints hash to themselves in CPython, tuples combine them fixedly)."""
    return hash((proto, src, dst, sport, dport, seq)) & 0x7FFFFFFF
