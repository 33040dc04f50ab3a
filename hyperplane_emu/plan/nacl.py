"""Network ACLs of a VPC as EC2 describes them (DescribeNetworkAcls).

Every VPC has a default ACL (`IsDefault`), rule 100 allowing all traffic each
way, holding every subnet that no other ACL is associated with; each ACL lists
its entries by direction and rule number and ends with the `*` deny that AWS
reports as rule 32767 (VPC User Guide, "Default network ACL",
https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html).
Ids are `acl-` + 17 hex, derived like every other id (plan.ids).
"""

from __future__ import annotations

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import PlanNaclEntry, PlanNetworkAcl
from hyperplane_emu.spec.model import NaclRule, NetworkAcl, Vpc

DEFAULT = "default"
DENY_ALL_RULE = 32767
_ALLOW_ALL = (NaclRule(100, "allow", -1, 0, 65535, "0.0.0.0/0"),)


def network_acls(
    t: str, vname: str, v: Vpc, subnet_ids: dict[str, str]
) -> dict[str, PlanNetworkAcl]:
    """ACL name -> ACL, the default one first; `subnet_ids` maps subnet names to ids."""
    claimed = {s for acl in v.network_acls.values() for s in acl.subnets}
    written_default = v.network_acls.get(DEFAULT)
    default = NetworkAcl(
        DEFAULT,
        tuple(s for s in v.subnets if s not in claimed),
        written_default.inbound if written_default else _ALLOW_ALL,
        written_default.outbound if written_default else _ALLOW_ALL,
    )
    out = {DEFAULT: _plan(t, vname, default, subnet_ids, is_default=True)}
    for name, acl in v.network_acls.items():
        if name != DEFAULT:
            out[name] = _plan(t, vname, acl, subnet_ids, is_default=False)
    return out


def _plan(
    t: str, vname: str, acl: NetworkAcl, subnet_ids: dict[str, str], *, is_default: bool
) -> PlanNetworkAcl:
    entries = [
        *(_entry(r, egress=False) for r in sorted(acl.inbound, key=lambda r: r.rule)),
        PlanNaclEntry(DENY_ALL_RULE, False, -1, "deny", "0.0.0.0/0"),
        *(_entry(r, egress=True) for r in sorted(acl.outbound, key=lambda r: r.rule)),
        PlanNaclEntry(DENY_ALL_RULE, True, -1, "deny", "0.0.0.0/0"),
    ]
    return PlanNetworkAcl(
        id=ids.aws_id("acl", t, f"vpc/{vname}/acl/{acl.name}"),
        name=acl.name,
        vpc=vname,
        is_default=is_default,
        subnets=tuple(subnet_ids[s] for s in acl.subnets),
        entries=tuple(entries),
    )


def _entry(r: NaclRule, *, egress: bool) -> PlanNaclEntry:
    return PlanNaclEntry(r.rule, egress, r.protocol, r.action, r.cidr, r.from_port, r.to_port)
