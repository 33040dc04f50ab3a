"""EC2 resources -> topology keys: VPCs, subnets, security groups, instances, ENIs.

Each translator reads one resource's resolved properties (`Props`) and writes its
place in the topology document; references between resources are traced back
through their stand-in ids (`Translator.owner`). Here because these are the
resources every other service's translators point into (`vpc_of`, `sg_vpc`).
"""

from __future__ import annotations

import re
from typing import Any

from hyperplane_emu.cfn.catalog import SG_EGRESS_RULE, SG_INGRESS_RULE
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import ENI, INSTANCE, SG, SG_EGRESS, SG_INGRESS, SUBNET, VPC
from hyperplane_emu.cfn.translate import (
    META_KEY,
    SERVE_TAG,
    Handler,
    Translator,
    device0,
)

PROTOCOLS = {
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "-1": "all",
    "all": "all",
}
RULE_KEYS = frozenset((*SG_INGRESS_RULE, *SG_EGRESS_RULE))
"""What a rule may hold, inline or a resource of its own: the keys of both directions."""


def group_names(tr: Translator, p: Props, key: str) -> list[str]:
    """The security groups the list property `key` names ("default": a VPC's
    DefaultSecurityGroup attribute); an id of anything else is reported and left out."""
    groups = []
    for i, g in enumerate(p.items(key)):
        group = tr.owner(g, f"{p.path(key)}[{i}]", (SG, VPC), "AWS::EC2::SecurityGroup")
        if group is not None:
            groups.append("default" if group.type == VPC else tr.names[group.id])
    return groups


def vpc_entry(tr: Translator, vpc: Resource) -> dict[str, Any]:
    return tr.topology["vpcs"].setdefault(tr.names[vpc.id], {})


def vpc_of(tr: Translator, logical: str) -> str | None:
    path = tr.out.names.get(logical, "")
    return path.split(".")[1] if path.startswith("vpcs.") else None


def sg_vpc(tr: Translator, group: Resource) -> str | None:
    """The VPC (topology name) of a security group, or of a VPC's default group, from
    its own properties: groups may refer to each other in any order."""
    if group.type == VPC:
        return tr.names[group.id]
    owner = tr.stack.tokens.owner.get(str(tr.props(group).get("VpcId")))
    return tr.names.get(owner[0]) if owner is not None else None


def _vpc(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    cidr = p.string("CidrBlock", required=True)
    name = tr.names[res.id]
    path = f"vpcs.{name}"
    entry = vpc_entry(tr, res)
    entry.update(
        {
            "cidr": cidr or "",
            "subnets": {},
            "security_groups": {},
            "hosts": {},
            "load_balancers": {},
            "endpoint_services": {},
            "endpoints": {},
        }
    )
    p.place(path, cidr="CidrBlock")
    if p.flag("EnableDnsSupport") is False:
        p.error(
            "EnableDnsSupport",
            "a VPC without DNS support is not emulated (the VPC resolver always answers)",
        )


def _subnet(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    vpc = p.ref("VpcId", VPC, required=True)
    cidr = p.string("CidrBlock", required=True)
    az = p.string("AvailabilityZone")
    if az is None:
        az = tr.subnet_az(res)
        tr.ignore(f"{res.path}: no AvailabilityZone; AWS picks one, the emulator {az}")
    if vpc is None or cidr is None:
        return
    vname = tr.names[vpc.id]
    name = tr.names[res.id]
    vpc_entry(tr, vpc).setdefault("subnets", {})[name] = {"cidr": cidr, "az": az}
    path = f"vpcs.{vname}.subnets.{name}"
    p.place(path, cidr="CidrBlock", az="AvailabilityZone")


def _rule(
    tr: Translator, p: Props, rule: Any, path: str, direction: str, vpc: str
) -> dict[str, Any] | None:
    if not isinstance(rule, dict):
        tr.error(path, "a rule is a mapping (IpProtocol, FromPort, ToPort, CidrIp…)")
        return None
    for key in rule:
        if key not in RULE_KEYS:
            tr.error(f"{path}.{key}", f"unknown rule property {key!r}")
            return None
    for key in ("SourcePrefixListId", "DestinationPrefixListId", "SourceSecurityGroupName"):
        if key in rule:
            tr.error(f"{path}.{key}", f"{key} is not emulated (use CidrIp or a group id)")
            return None
    proto_raw = str(rule.get("IpProtocol", "")).lower()
    if proto_raw not in PROTOCOLS:
        tr.error(
            f"{path}.IpProtocol",
            f"IpProtocol {rule.get('IpProtocol')!r} is not emulated (tcp, udp, icmp or -1)"
            if proto_raw
            else "IpProtocol is required",
        )
        return None
    proto = PROTOCOLS[proto_raw]
    out: dict[str, Any] = {"protocol": proto}
    if proto in ("tcp", "udp"):
        lo = p.integer(rule.get("FromPort"), f"{path}.FromPort")
        hi = p.integer(rule.get("ToPort"), f"{path}.ToPort")
        if lo is None or hi is None:
            if "FromPort" not in rule or "ToPort" not in rule:
                tr.error(path, f"a {proto} rule needs FromPort and ToPort")
            return None
        if lo == -1 and hi == -1:
            lo, hi = 0, 65535
        out["port"] = lo if lo == hi else f"{lo}-{hi}"
    elif proto == "icmp" and str(rule.get("FromPort", "-1")) != "-1":
        tr.ignore(
            f"{path}: ICMP type {rule.get('FromPort')} widened to every ICMP type "
            "(icmp rules match every type in the emulator)"
        )
    peer_key = "source" if direction == "ingress" else "destination"
    sg_key = "SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId"
    peers = [k for k in ("CidrIp", "CidrIpv6", sg_key) if k in rule]
    if len(peers) != 1:
        tr.error(path, f"a rule has exactly one of CidrIp, CidrIpv6, {sg_key}")
        return None
    if peers[0] == "CidrIpv6":
        tr.ignore(f"{path}: IPv6 rule dropped (the emulator has no IPv6)")
        return None
    if peers[0] == "CidrIp":
        out[peer_key] = str(rule["CidrIp"])
    else:
        group = tr.owner(rule[sg_key], f"{path}.{sg_key}", (SG, VPC), "AWS::EC2::SecurityGroup")
        if group is None:
            return None
        gname = "default" if group.type == VPC else tr.names[group.id]
        gvpc = sg_vpc(tr, group)
        if gvpc != vpc:
            tr.error(
                f"{path}.{sg_key}",
                f"{group.id} is in another VPC; only groups of the "
                "same VPC can be referenced (no peering)",
            )
            return None
        out[peer_key] = f"sg/{gname}"
    if rule.get("Description"):
        out["description"] = str(rule["Description"])
    return out


def _security_group(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    desc = p.string("GroupDescription", required=True)
    vpc = p.raw("VpcId")
    if vpc is None:
        p.error("", "VpcId is required: the emulator has no default VPC")
        return
    vpc_res = p.ref("VpcId", VPC)
    if vpc_res is None:
        return
    vname = tr.names[vpc_res.id]
    name = tr.names[res.id]
    path = f"vpcs.{vname}.security_groups.{name}"
    tr.where(res.id, path)
    group: dict[str, Any] = {}
    if desc:
        group["description"] = desc[:255]
    for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
        if not p.has(key):
            continue
        rules: list[dict[str, Any]] = []
        for i, rule in enumerate(p.items(key)):
            got = _rule(tr, p, rule, f"{p.path(key)}[{i}]", direction, vname)
            if got is not None:
                tr.prov(f"{path}.{direction}[{len(rules)}]", f"{p.path(key)}[{i}]")
                rules.append(got)
        group[direction] = rules
    vpc_entry(tr, vpc_res).setdefault("security_groups", {})[name] = group


def _standalone_rule(tr: Translator, res: Resource) -> None:
    direction = "ingress" if res.type.endswith("Ingress") else "egress"
    p = Props(tr, res)
    if p.has("GroupName") and not p.has("GroupId"):
        p.error("GroupName", "GroupName is for the default VPC; use GroupId")
        return
    group = p.ref("GroupId", SG, VPC, required=True)
    if group is None:
        return
    vname = sg_vpc(tr, group)
    if vname is None or vname not in tr.topology["vpcs"]:
        return
    rule_props = {k: v for k, v in p.values.items() if k != "GroupId"}
    rule = _rule(tr, p, rule_props, p.base, direction, vname)
    if rule is None:
        return
    gname = tr.names[group.id] if group.type == SG else "default"
    groups = tr.topology["vpcs"][vname].setdefault("security_groups", {})
    entry = groups.setdefault(gname, {})
    if direction == "egress" and "egress" not in entry:
        # A standalone egress rule adds to the group's rules; AWS's default "all
        # traffic out" stays unless the group wrote SecurityGroupEgress itself.
        entry["egress"] = [{"protocol": "all", "destination": "0.0.0.0/0"}]
    rules = entry.setdefault(direction, [])
    base = f"vpcs.{vname}.security_groups.{gname}.{direction}[{len(rules)}]"
    tr.prov(base, res.path)
    tr.where(res.id, base)
    rules.append(rule)


def _serve(tr: Translator, res: Resource, props: dict[str, Any]) -> list[str]:
    meta = res.metadata.get(META_KEY)
    serve: Any = None
    if isinstance(meta, dict) and "serve" in meta:
        serve = meta["serve"]
    else:
        for tag in props.get("Tags", []) or []:
            if isinstance(tag, dict) and tag.get("Key") == SERVE_TAG:
                serve = re.split(r"[,\s]+", str(tag.get("Value", "")).strip())
    if serve is None:
        return []
    return [str(s) for s in (serve if isinstance(serve, list) else [serve]) if str(s)]


def _instance(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    nic = device0(p.values)
    nics = p.items("NetworkInterfaces")
    if len(nics) > 1:
        p.error("NetworkInterfaces", "one network interface per instance is emulated (eth0)")
    if p.has("SecurityGroups"):
        p.error(
            "SecurityGroups", "SecurityGroups (names) is for the default VPC; use SecurityGroupIds"
        )
    subnet_value = p.raw("SubnetId")
    groups_value: Any = p.raw("SecurityGroupIds")
    ip = p.string("PrivateIpAddress")
    sdc = p.flag("SourceDestCheck")
    if nic is not None:
        npath = f"{p.path('NetworkInterfaces')}[{nics.index(nic)}]"
        if "NetworkInterfaceId" in nic:
            eni = tr.owner(nic["NetworkInterfaceId"], f"{npath}.NetworkInterfaceId", (ENI,))
            if eni is None:
                return
            tr.nic_owner[eni.id] = res.id
            ep = tr.props(eni)
            subnet_value = ep.get("SubnetId")
            groups_value = ep.get("GroupSet")
            ip = ep.get("PrivateIpAddress")
            if ep.get("SourceDestCheck") is not None:
                sdc = p.boolean(ep.get("SourceDestCheck"), f"{eni.path}.Properties.SourceDestCheck")
        else:
            subnet_value = nic.get("SubnetId", subnet_value)
            groups_value = nic.get("GroupSet", groups_value)
            ip = nic.get("PrivateIpAddress", ip)
    _host(tr, res, p, subnet_value, groups_value, ip, sdc)


def _host(
    tr: Translator,
    res: Resource,
    p: Props,
    subnet_value: Any,
    groups_value: Any,
    ip: Any,
    sdc: bool | None,
) -> None:
    if subnet_value is None and (p.failed("SubnetId") or p.failed("NetworkInterfaces")):
        return
    if subnet_value is None:
        p.error("", "SubnetId is required: the emulator has no default VPC")
        return
    subnet = tr.owner(subnet_value, p.path("SubnetId"), (SUBNET,))
    if subnet is None:
        return
    vname = vpc_of(tr, subnet.id)
    if vname is None:
        return
    host: dict[str, Any] = {"subnet": tr.names[subnet.id]}
    groups = []
    if groups_value is not None:
        if not isinstance(groups_value, list):
            p.error("SecurityGroupIds", "expected a list of security group ids")
            return
        for i, g in enumerate(groups_value):
            group = tr.owner(
                g, f"{p.path('SecurityGroupIds')}[{i}]", (SG, VPC), "AWS::EC2::SecurityGroup"
            )
            if group is None:
                continue
            if group.type == VPC:
                groups.append("default")
            elif sg_vpc(tr, group) != vname:
                tr.error(
                    f"{p.path('SecurityGroupIds')}[{i}]", f"{group.id} is not in the instance's VPC"
                )
            else:
                groups.append(tr.names[group.id])
    if groups:
        host["security_groups"] = groups
    pinned = tr.pinned(res.id)
    if ip or pinned:
        host["private_ip"] = str(ip or pinned)
    if sdc is not None:
        host["source_dest_check"] = sdc
    serve = _serve(tr, res, p.values)
    if serve:
        host["serve"] = serve
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("hosts", {})[name] = host
    path = f"vpcs.{vname}.hosts.{name}"
    tr.where(res.id, path)
    tr.prov(f"{path}.serve", f"{res.path}.Metadata.{META_KEY}.serve")


def _eni(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    owner = tr.nic_owner.get(res.id)
    if owner is not None:
        tr.out.names[res.id] = tr.out.names.get(owner, "")
        return
    # An ENI no instance uses: still a namespace holding its address (it answers ARP
    # and ping, and serves what its Metadata says), as an ENI of a container would.
    groups = p.raw("GroupSet")
    _host(
        tr,
        res,
        p,
        p.raw("SubnetId"),
        groups,
        p.string("PrivateIpAddress"),
        p.flag("SourceDestCheck"),
    )


HANDLERS: dict[str, Handler] = {
    VPC: _vpc,
    SUBNET: _subnet,
    SG: _security_group,
    SG_INGRESS: _standalone_rule,
    SG_EGRESS: _standalone_rule,
    INSTANCE: _instance,
    ENI: _eni,
}
"""Type -> its translator (resources.translate_all runs them in dependence order)."""
