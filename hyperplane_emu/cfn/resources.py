"""EC2, Elastic Load Balancing, PrivateLink and Cloud Map resources -> topology keys.

The order of `translate_all` is the order of dependence in the topology (a subnet
needs its VPC's entry, a listener its load balancer's), not the template's order;
each service's translators live in their own module (ec2, nacl, elbv2,
privatelink, cloudmap), this one only runs them in that order.
"""

from __future__ import annotations

from hyperplane_emu.cfn import cloudmap, ec2, elbv2, nacl, privatelink
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.rtypes import (
    ENDPOINT,
    ENI,
    FLOW_LOG,
    HTTP_NAMESPACE,
    INSTANCE,
    LB,
    LISTENER,
    NACL,
    NACL_ASSOCIATION,
    NACL_ENTRY,
    NAMESPACE,
    PERMISSIONS,
    RULE,
    SD_INSTANCE,
    SD_SERVICE,
    SERVICE,
    SG,
    SG_EGRESS,
    SG_INGRESS,
    SUBNET,
    TG,
    VPC,
)
from hyperplane_emu.cfn.translate import Translator

ORDER = (
    VPC,
    SUBNET,
    SG,
    NACL,
    NACL_ENTRY,
    NACL_ASSOCIATION,
    SG_INGRESS,
    SG_EGRESS,
    INSTANCE,
    ENI,
    FLOW_LOG,
    LB,
    LISTENER,
    RULE,
    SERVICE,
    PERMISSIONS,
    ENDPOINT,
    NAMESPACE,
    HTTP_NAMESPACE,
    SD_SERVICE,
    SD_INSTANCE,
)
"""Types in the order they are placed (target groups come with their listener)."""

HANDLERS = {
    **ec2.HANDLERS,
    **nacl.HANDLERS,
    **elbv2.HANDLERS,
    **privatelink.HANDLERS,
    **cloudmap.HANDLERS,
}


def translate_all(tr: Translator) -> None:
    by_type: dict[str, list[Resource]] = {}
    for res in tr.stack.resources.values():
        by_type.setdefault(res.type, []).append(res)
    tr.by_type = by_type
    for res in tr.stack.resources.values():
        tr.props(res)  # every value resolved first: addresses read by GetAtt get pinned
    for t in ORDER:
        for res in by_type.get(t, []):
            tr.guarded(res, HANDLERS[t])
    for res in by_type.get(TG, []):
        if res.id not in tr.out.names:
            tr.ignore(f"{res.path}: target group used by no listener; nothing reaches it")
