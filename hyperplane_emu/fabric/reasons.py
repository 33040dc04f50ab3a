"""Why the fabric dropped a packet: every reason by name.

A reason is a `str` (StrEnum), so ``"dropped." + reason`` counters, `DropEvent.reason`,
JSON status and the tests that compare with plain strings see exactly the text below;
the names only stop typos and let a reader find every place a reason is produced.
docs/fabric.md lists what each one means.
"""

from __future__ import annotations

from enum import StrEnum


class DropReason(StrEnum):
    # Layer 2 and parsing (before any decision).
    UNKNOWN_PORT = "unknown-port"
    TRUNCATED = "truncated"
    VLAN_TAGGED = "vlan-tagged"
    IPV6_NOT_ENABLED = "ipv6-not-enabled"
    UNSUPPORTED_ETHERTYPE = "unsupported-ethertype"
    NOT_UNICAST = "not-unicast"
    L2_NOT_FOR_ROUTER = "l2-not-for-router"
    BAD_IP_VERSION = "bad-ip-version"
    BAD_IHL = "bad-ihl"
    BAD_IP_CHECKSUM = "bad-ip-checksum"
    TRUNCATED_L4 = "truncated-l4"
    BAD_TCP_OFFSET = "bad-tcp-offset"
    # The VPC router.
    SRC_DST_CHECK = "src-dst-check"
    TTL_EXPIRED = "ttl-expired"
    VPC_SERVICE_NOT_EMULATED = "vpc-service-not-emulated"
    BAD_ICMP_CHECKSUM = "bad-icmp-checksum"
    NO_ROUTE = "no-route"
    ROUTE_TARGET_NOT_EMULATED = "route-target-not-emulated"
    NO_ENI = "no-eni"
    BLACKHOLE = "blackhole"
    # Security groups and connection tracking.
    SG_EGRESS = "sg-egress"
    SG_INGRESS = "sg-ingress"
    CONNTRACK_FULL = "conntrack-full"
    FLOW_WRONG_ENI = "flow-wrong-eni"
    FRAGMENT_NO_FLOW = "fragment-no-flow"
    # Network ACLs (boundary.py): the subnet's outbound / inbound rules denied.
    NACL_OUTBOUND = "nacl-outbound"
    NACL_INBOUND = "nacl-inbound"
    # NLB, PrivateLink, API Gateway fronts.
    NLB_PROTOCOL_NOT_FORWARDED = "nlb-protocol-not-forwarded"
    NLB_NO_LISTENER = "nlb-no-listener"
    NLB_NO_FLOW = "nlb-no-flow"
    NLB_NO_TARGETS = "nlb-no-targets"
    NLB_NO_TARGET_IN_AZ = "nlb-no-target-in-az"
    TARGET_NOT_EMULATED = "target-not-emulated"
    NAT_PORTS_EXHAUSTED = "nat-ports-exhausted"
    SERVICE_NOT_EMULATED = "service-not-emulated"
    ENDPOINT_PENDING_ACCEPTANCE = "endpoint-pendingAcceptance"
    ENDPOINT_REJECTED = "endpoint-rejected"
    # Gateways and VPC links.
    VGW_UNREACHABLE = "vgw-unreachable"
    INTERNET_UNREACHABLE = "internet-unreachable"
    NAT_NO_FLOW = "nat-no-flow"
    VPCLINK_NO_FLOW = "vpclink-no-flow"
    VPCLINK_NO_TARGET = "vpclink-no-target"


ENDPOINT_NOT_AVAILABLE: dict[str, DropReason] = {
    "pendingAcceptance": DropReason.ENDPOINT_PENDING_ACCEPTANCE,
    "rejected": DropReason.ENDPOINT_REJECTED,
}
"""An interface endpoint connection state that carries nothing -> its drop reason."""
