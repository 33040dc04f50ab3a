"""EC2, Elastic Load Balancing, PrivateLink and Cloud Map resources -> topology keys.

Each translator reads one resource's resolved properties (`Props`) and writes its
place in the topology document; references between resources are traced back
through their stand-in ids (`Translator.owner`). The order of `translate_all`
is the order of dependence in the topology (a subnet needs its VPC's entry,
a listener its load balancer's), not the template's order.
"""

from __future__ import annotations

import re
from typing import Any

from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.translate import (
    META_KEY,
    SERVE_TAG,
    Translator,
    _device0,
)

VPC = "AWS::EC2::VPC"
SUBNET = "AWS::EC2::Subnet"
SG = "AWS::EC2::SecurityGroup"
INSTANCE = "AWS::EC2::Instance"
ENI = "AWS::EC2::NetworkInterface"
LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
ENDPOINT = "AWS::EC2::VPCEndpoint"
NACL = "AWS::EC2::NetworkAcl"
FLOW_LOG = "AWS::EC2::FlowLog"
NACL_ENTRY = "AWS::EC2::NetworkAclEntry"
NACL_ASSOCIATION = "AWS::EC2::SubnetNetworkAclAssociation"
SERVICE = "AWS::EC2::VPCEndpointService"
PERMISSIONS = "AWS::EC2::VPCEndpointServicePermissions"
NAMESPACE = "AWS::ServiceDiscovery::PrivateDnsNamespace"
HTTP_NAMESPACE = "AWS::ServiceDiscovery::HttpNamespace"
SD_SERVICE = "AWS::ServiceDiscovery::Service"
SD_INSTANCE = "AWS::ServiceDiscovery::Instance"

EXECUTE_API = re.compile(r"com\.amazonaws\.([a-z0-9-]+)\.execute-api")
SERVICE_ID = re.compile(r"vpce-svc-[0-9a-f]{17}")
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


def translate_all(tr: Translator) -> None:
    by_type: dict[str, list[Resource]] = {}
    for res in tr.stack.resources.values():
        by_type.setdefault(res.type, []).append(res)
    tr.by_type = by_type
    for res in tr.stack.resources.values():
        tr.props(res)  # every value resolved first: addresses read by GetAtt get pinned
    for t, fn in (
        (VPC, _vpc),
        (SUBNET, _subnet),
        (SG, _security_group),
        (NACL, _network_acl),
        (NACL_ENTRY, _nacl_entry),
        (NACL_ASSOCIATION, _nacl_association),
        ("AWS::EC2::SecurityGroupIngress", _standalone_rule),
        ("AWS::EC2::SecurityGroupEgress", _standalone_rule),
        (INSTANCE, _instance),
        (ENI, _eni),
        (FLOW_LOG, _flow_log),
        (LB, _load_balancer),
        (LISTENER, _listener),
        (RULE, _listener_rule),
        (SERVICE, _endpoint_service),
        (PERMISSIONS, _permissions),
        (ENDPOINT, _endpoint),
        (NAMESPACE, _namespace),
        (HTTP_NAMESPACE, _namespace),
        (SD_SERVICE, _sd_service),
        (SD_INSTANCE, _sd_instance),
    ):
        for res in by_type.get(t, []):
            tr.guarded(res, fn)
    for res in by_type.get(TG, []):
        if res.id not in tr.out.names:
            tr.ignore(f"{res.path}: target group used by no listener; nothing reaches it")


def _vpc_entry(tr: Translator, vpc: Resource) -> dict[str, Any]:
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


# -- EC2 -------------------------------------------------------------------------


def _vpc(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    cidr = p.string("CidrBlock", required=True)
    name = tr.names[res.id]
    path = f"vpcs.{name}"
    entry = _vpc_entry(tr, res)
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
    tr.where(res.id, path)
    tr.prov(f"{path}.cidr", p.path("CidrBlock"))
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
    _vpc_entry(tr, vpc).setdefault("subnets", {})[name] = {"cidr": cidr, "az": az}
    path = f"vpcs.{vname}.subnets.{name}"
    tr.where(res.id, path)
    tr.prov(f"{path}.cidr", p.path("CidrBlock"))
    tr.prov(f"{path}.az", p.path("AvailabilityZone"))


def _rule(
    tr: Translator, p: Props, rule: Any, path: str, direction: str, vpc: str
) -> dict[str, Any] | None:
    if not isinstance(rule, dict):
        tr.error(path, "a rule is a mapping (IpProtocol, FromPort, ToPort, CidrIp…)")
        return None
    known = {
        "IpProtocol",
        "FromPort",
        "ToPort",
        "CidrIp",
        "CidrIpv6",
        "Description",
        "SourceSecurityGroupId",
        "SourceSecurityGroupOwnerId",
        "DestinationSecurityGroupId",
        "SourceSecurityGroupName",
        "SourcePrefixListId",
        "DestinationPrefixListId",
        "GroupId",
        "GroupName",
    }
    for key in rule:
        if key not in known:
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
    _vpc_entry(tr, vpc_res).setdefault("security_groups", {})[name] = group


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
    nic = _device0(p.values)
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


# -- network ACLs ------------------------------------------------------------------


def _network_acl(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    vpc = p.ref("VpcId", VPC, required=True)
    if vpc is None:
        return
    vname = tr.names[vpc.id]
    name = tr.names[res.id]
    # A new ACL has only the final `*` deny in each direction (AWS), hence no rules here.
    _vpc_entry(tr, vpc).setdefault("network_acls", {})[name] = {}
    tr.where(res.id, f"vpcs.{vname}.network_acls.{name}")


def _acl_entry_of(tr: Translator, p: Props, key: str) -> tuple[str, dict[str, Any]] | None:
    """(path, entry) of the ACL a NetworkAclId names: one of the template's, or a VPC's
    default ACL (`Fn::GetAtt Vpc.DefaultNetworkAcl`)."""
    value = p.raw(key, required=True)
    if value is None:
        return None
    owner = tr.stack.tokens.owner.get(str(value))
    if owner is not None and owner[1] == "DefaultNetworkAcl":
        vname = tr.names[owner[0]]
        acls = tr.topology["vpcs"][vname].setdefault("network_acls", {})
        if "default" not in acls:
            # AWS's default ACL: rule 100 allows everything each way; entries add to it.
            allow = {"rule": 100, "action": "allow", "protocol": "all", "cidr": "0.0.0.0/0"}
            acls["default"] = {"inbound": [dict(allow)], "outbound": [dict(allow)]}
        return f"vpcs.{vname}.network_acls.default", acls["default"]
    acl = p.ref(key, NACL)
    if acl is None or acl.id not in tr.out.names:
        return None
    path = tr.out.names[acl.id]
    parts = path.split(".")
    return path, tr.topology["vpcs"][parts[1]]["network_acls"][parts[3]]


ACL_PROTOCOLS = {6: "tcp", 17: "udp", 1: "icmp", -1: "all"}


def _nacl_entry(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    found = _acl_entry_of(tr, p, "NetworkAclId")
    number = p.number("RuleNumber", required=True)
    protocol = p.number("Protocol", required=True)
    action = (p.string("RuleAction", required=True) or "").lower()
    if p.has("Ipv6CidrBlock"):
        tr.ignore(f"{res.path}: IPv6 ACL entry dropped (the emulator has no IPv6)")
        return
    cidr = p.string("CidrBlock", required=True)
    if found is None or number is None or protocol is None or not action or cidr is None:
        return
    rule: dict[str, Any] = {
        "rule": number,
        "action": action,
        "protocol": ACL_PROTOCOLS.get(protocol, protocol),
        "cidr": cidr,
    }
    if protocol in (6, 17):
        ports = p.mapping("PortRange")
        lo = p.integer(ports.get("From"), f"{p.path('PortRange')}.From")
        hi = p.integer(ports.get("To"), f"{p.path('PortRange')}.To")
        if lo is None or hi is None:
            p.error("PortRange", "a tcp or udp entry needs PortRange {From, To}")
            return
        rule["port"] = lo if lo == hi else f"{lo}-{hi}"
    elif p.has("Icmp"):
        tr.ignore(f"{res.path}: ICMP type and code widened to every ICMP message")
    path, acl = found
    direction = "outbound" if p.flag("Egress") else "inbound"
    rules = acl.setdefault(direction, [])
    if path.endswith(".default"):
        # An entry numbered like AWS's own rule 100 stands for ReplaceNetworkAclEntry.
        rules[:] = [r for r in rules if r["rule"] != number]
    tr.prov(f"{path}.{direction}[{len(rules)}]", res.path)
    tr.out.names[res.id] = f"{path}.{direction}[{len(rules)}]"
    rules.append(rule)


def _nacl_association(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    subnet = p.ref("SubnetId", SUBNET, required=True)
    found = _acl_entry_of(tr, p, "NetworkAclId")
    if subnet is None or found is None:
        return
    path, acl = found
    if path.endswith(".default"):
        return  # subnets no other ACL names stay with the default ACL already
    if vpc_of(tr, subnet.id) != path.split(".")[1]:
        p.error("SubnetId", "the subnet is in another VPC than the network ACL")
        return
    acl.setdefault("subnets", []).append(tr.names[subnet.id])
    tr.where(res.id, f"{path}.subnets")


# -- flow logs ---------------------------------------------------------------------


def _flow_log(tr: Translator, res: Resource) -> None:
    """A flow log on a VPC, a subnet or an ENI -> the VPC's `flow_logs` (format and
    aggregation interval; where AWS delivers them does not matter here: the state
    directory and `hyperplane-emu flow-logs` hold them)."""
    p = Props(tr, res)
    kind = p.string("ResourceType", required=True)
    target = p.ref("ResourceId", VPC, SUBNET, ENI, required=True)
    traffic = (p.string("TrafficType") or "ALL").upper()
    if traffic != "ALL":
        tr.skip(
            res, f"TrafficType {traffic}: the emulator logs ACCEPT and REJECT records alike (ALL)"
        )
    if kind is None or target is None:
        return
    expected = {"VPC": VPC, "Subnet": SUBNET, "NetworkInterface": ENI}
    if kind not in expected:
        p.error(
            "ResourceType",
            f"flow logs on {kind!r} are not emulated (VPC, Subnet, NetworkInterface)",
        )
        return
    path = tr.out.names.get(target.id, "")
    parts = path.split(".")
    if target.type == VPC:
        vname, resource = tr.names[target.id], "vpc"
    elif target.type == SUBNET and len(parts) == 4:
        vname, resource = parts[1], f"subnet/{parts[3]}"
    elif len(parts) == 4 and parts[2] == "hosts":
        vname, resource = parts[1], f"host/{parts[3]}"
    else:
        return
    log: dict[str, Any] = {"name": tr.names[res.id], "resource": resource}
    if p.has("LogFormat"):
        log["format"] = p.string("LogFormat")
    if p.has("MaxAggregationInterval"):
        log["max_aggregation_interval"] = p.number("MaxAggregationInterval")
    logs = tr.topology["vpcs"][vname].setdefault("flow_logs", [])
    item = f"vpcs.{vname}.flow_logs[{len(logs)}]"
    tr.where(res.id, item)
    tr.prov(f"{item}.format", p.path("LogFormat"))
    tr.prov(f"{item}.max_aggregation_interval", p.path("MaxAggregationInterval"))
    logs.append(log)


# -- Elastic Load Balancing ----------------------------------------------------------


def _load_balancer(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    lb_type = (p.string("Type") or "application").lower()
    if lb_type not in ("network", "application"):
        p.error("Type", f"load balancer type {lb_type!r} is not emulated (network or application)")
        return
    scheme = p.string("Scheme") or "internet-facing"
    subnets: list[Resource] = []
    if p.has("SubnetMappings"):
        for i, m in enumerate(p.items("SubnetMappings")):
            mpath = f"{p.path('SubnetMappings')}[{i}]"
            if not isinstance(m, dict) or "SubnetId" not in m:
                tr.error(mpath, "a subnet mapping needs SubnetId")
                continue
            if "AllocationId" in m or "PrivateIPv4Address" in m:
                tr.ignore(
                    f"{mpath}: fixed addresses are not emulated; the plan picks the "
                    "load balancer's addresses"
                )
            s = tr.owner(m["SubnetId"], f"{mpath}.SubnetId", (SUBNET,))
            if s is not None:
                subnets.append(s)
    else:
        subnets = p.refs("Subnets", SUBNET)
        if not p.has("Subnets") and not p.failed("Subnets"):
            p.error("", "a load balancer needs Subnets or SubnetMappings")
    if not subnets:
        return
    vpcs = {vpc_of(tr, s.id) for s in subnets}
    if len(vpcs) != 1 or None in vpcs:
        p.error("Subnets", "the subnets must all be in one VPC of the template")
        return
    vname = vpcs.pop()
    assert vname is not None
    lb: dict[str, Any] = {
        "type": lb_type,
        "scheme": scheme,
        "subnets": [tr.names[s.id] for s in subnets],
    }
    if p.has("SecurityGroups"):
        groups = p.refs("SecurityGroups", SG)
        lb["security_groups"] = [tr.names[g.id] for g in groups]
    enforce = p.string("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic")
    if enforce is not None:
        if lb_type != "network":
            p.error(
                "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
                "this attribute is for Network Load Balancers",
            )
        else:
            lb["enforce_security_group_inbound_rules_on_private_link_traffic"] = enforce
    for i, attr in enumerate(p.items("LoadBalancerAttributes")):
        apath = f"{p.path('LoadBalancerAttributes')}[{i}]"
        if not isinstance(attr, dict) or "Key" not in attr:
            tr.error(apath, "an attribute is {Key, Value}")
            continue
        key, value = str(attr["Key"]), attr.get("Value")
        if key == "load_balancing.cross_zone.enabled" and lb_type == "network":
            lb["cross_zone"] = p.boolean(value, f"{apath}.Value")
        elif key == "idle_timeout.timeout_seconds" and lb_type == "application":
            lb["idle_timeout"] = p.integer(value, f"{apath}.Value")
        elif key == "load_balancing.cross_zone.enabled":
            tr.ignore(f"{apath}: cross-zone is always on for ALBs")
        else:
            tr.ignore(f"{res.type} attribute {key}: not emulated")
    if lb_type == "application":
        lb["listeners"] = []
    lb["target_groups"] = {}
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("load_balancers", {})[name] = lb
    path = f"vpcs.{vname}.load_balancers.{name}"
    tr.where(res.id, path)
    tr.prov(f"{path}.subnets", p.path("Subnets" if p.has("Subnets") else "SubnetMappings"))


def lb_entry(tr: Translator, logical: str) -> tuple[str, str, dict[str, Any]] | None:
    path = tr.out.names.get(logical, "")
    parts = path.split(".")
    if len(parts) != 4:
        return None
    return parts[1], parts[3], tr.topology["vpcs"][parts[1]]["load_balancers"][parts[3]]


def _target_group(
    tr: Translator, res: Resource, vname: str, lb_name: str, lb: dict[str, Any]
) -> str | None:
    """Place a target group under the load balancer that first forwards to it."""
    existing = tr.out.names.get(res.id)
    if existing:
        if existing.split(".")[3] != lb_name:
            tr.error(res.path, "a target group is used by one load balancer only (AWS)")
            return None
        return tr.names[res.id]
    p = Props(tr, res)
    is_nlb = lb["type"] == "network"
    protocol = (p.string("Protocol") or "").lower()
    allowed = ("tcp", "udp") if is_nlb else ("http",)
    if protocol not in allowed:
        p.error(
            "Protocol",
            f"target group protocol {p.string('Protocol')!r} is not emulated "
            f"for this load balancer ({' or '.join(a.upper() for a in allowed)})"
            if protocol
            else "Protocol is required",
        )
        return None
    target_type = (p.string("TargetType") or "instance").lower()
    if target_type not in ("instance", "ip"):
        p.error("TargetType", f"target type {target_type!r} is not emulated (instance or ip)")
        return None
    tg: dict[str, Any] = {
        "protocol": protocol,
        "port": p.number("Port", required=True),
        "target_type": target_type,
    }
    vpc = p.ref("VpcId", VPC)
    if vpc is not None and tr.names[vpc.id] != vname:
        p.error("VpcId", "the target group's VPC is not its load balancer's")
    targets = []
    for i, t in enumerate(p.items("Targets")):
        tpath = f"{p.path('Targets')}[{i}]"
        if not isinstance(t, dict) or "Id" not in t:
            tr.error(tpath, "a target is {Id, Port}")
            continue
        target = _target(tr, p, t, tpath, target_type)
        if target is not None:
            targets.append(target)
    tg["targets"] = targets
    hc: dict[str, Any] = {}
    hc_proto = (p.string("HealthCheckProtocol") or "").lower()
    if hc_proto:
        if hc_proto not in ("tcp", "http"):
            p.error(
                "HealthCheckProtocol",
                f"health check protocol {hc_proto.upper()} is not emulated (TCP or HTTP)",
            )
        elif is_nlb:
            hc["protocol"] = hc_proto
        elif hc_proto != "http":
            p.error("HealthCheckProtocol", "ALB health checks are HTTP")
    port = p.string("HealthCheckPort")
    if port and port != "traffic-port":
        hc["port"] = p.number("HealthCheckPort")
    for key, prop in (("path", "HealthCheckPath"),):
        if p.has(prop):
            hc[key] = p.string(prop)
    for key, prop in (
        ("interval", "HealthCheckIntervalSeconds"),
        ("timeout", "HealthCheckTimeoutSeconds"),
        ("healthy_threshold", "HealthyThresholdCount"),
        ("unhealthy_threshold", "UnhealthyThresholdCount"),
    ):
        if p.has(prop):
            hc[key] = p.number(prop)
    matcher = p.mapping("Matcher")
    if "GrpcCode" in matcher:
        p.error("Matcher", "gRPC health checks are not emulated")
    if "HttpCode" in matcher:
        hc["matcher"] = str(matcher["HttpCode"])
    if hc:
        tg["health_check"] = hc
    for i, attr in enumerate(p.items("TargetGroupAttributes")):
        apath = f"{p.path('TargetGroupAttributes')}[{i}]"
        if not isinstance(attr, dict) or "Key" not in attr:
            tr.error(apath, "an attribute is {Key, Value}")
            continue
        key, value = str(attr["Key"]), attr.get("Value")
        if key == "preserve_client_ip.enabled":
            tg["preserve_client_ip"] = p.boolean(value, f"{apath}.Value")
        elif key == "proxy_protocol_v2.enabled":
            tg["proxy_protocol_v2"] = p.boolean(value, f"{apath}.Value")
        else:
            tr.ignore(f"{res.type} attribute {key}: not emulated")
    name = tr.names[res.id]
    lb["target_groups"][name] = tg
    path = f"vpcs.{vname}.load_balancers.{lb_name}.target_groups.{name}"
    tr.where(res.id, path)
    for key, prop in (
        ("port", "Port"),
        ("protocol", "Protocol"),
        ("targets", "Targets"),
        ("health_check", "HealthCheckProtocol"),
    ):
        tr.prov(f"{path}.{key}", p.path(prop))
    return name


def _target(tr: Translator, p: Props, t: dict[str, Any], tpath: str, target_type: str) -> Any:
    value = t["Id"]
    port = p.integer(t.get("Port"), f"{tpath}.Port") if "Port" in t else None
    owner = tr.stack.tokens.owner.get(str(value))
    host: str | None = None
    if owner is not None:
        res = tr.stack.resources[owner[0]]
        if res.type not in (INSTANCE, ENI):
            tr.error(
                f"{tpath}.Id",
                f"refers to {res.id}, a {res.type}; expected an instance or an address",
            )
            return None
        if target_type == "instance" and owner[1] != "Ref":
            tr.error(f"{tpath}.Id", "an instance target's Id is the instance id (Ref)")
            return None
        host = tr.names[res.id]
    elif target_type == "instance":
        tr.error(f"{tpath}.Id", f"{value!r} is not an instance of this template")
        return None
    if "AvailabilityZone" in t:
        tr.ignore(f"{tpath}.AvailabilityZone: the target's own subnet decides its AZ")
    if host is not None:
        return {"host": host, "port": port} if port else host
    return {"ip": str(value), "port": port} if port else str(value)


def _actions(
    tr: Translator, actions: Any, apath: str, vname: str, lb_name: str, lb: dict[str, Any]
) -> dict[str, Any] | None:
    if not isinstance(actions, list) or not actions:
        tr.error(apath, "at least one action is needed")
        return None
    if len(actions) > 1:
        tr.error(
            f"{apath}[1]", "one action per listener or rule is emulated (no authentication actions)"
        )
        return None
    action = actions[0]
    path = f"{apath}[0]"
    if not isinstance(action, dict):
        tr.error(path, "an action is a mapping with Type")
        return None
    atype = str(action.get("Type", "")).lower()
    if atype == "forward":
        arn = action.get("TargetGroupArn")
        if arn is None:
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if len(groups) != 1 or not isinstance(groups[0], dict):
                tr.error(
                    f"{path}.ForwardConfig",
                    "weighted forwarding to several target groups is not emulated; forward to one",
                )
                return None
            arn = groups[0].get("TargetGroupArn")
        tg = tr.owner(arn, f"{path}.TargetGroupArn", (TG,))
        if tg is None:
            return None
        name = _target_group(tr, tg, vname, lb_name, lb)
        return {"forward": name} if name else None
    if atype == "fixed-response":
        cfg = action.get("FixedResponseConfig") or {}
        fixed: dict[str, Any] = {"status": int(str(cfg.get("StatusCode", "200")))}
        if "MessageBody" in cfg:
            fixed["body"] = str(cfg["MessageBody"])
        if "ContentType" in cfg:
            fixed["content_type"] = str(cfg["ContentType"])
        return {"fixed_response": fixed}
    tr.error(
        f"{path}.Type",
        f"action type {action.get('Type')!r} is not emulated (forward or fixed-response)",
    )
    return None


def _listener(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    lb_res = p.ref("LoadBalancerArn", LB, required=True)
    if lb_res is None:
        return
    found = lb_entry(tr, lb_res.id)
    if found is None:
        return
    vname, lb_name, lb = found
    port = p.number("Port", required=True)
    protocol = (p.string("Protocol") or ("tcp" if lb["type"] == "network" else "http")).lower()
    allowed = ("tcp", "udp") if lb["type"] == "network" else ("http",)
    if protocol not in allowed:
        p.error(
            "Protocol",
            f"listener protocol {protocol.upper()} is not emulated "
            f"({' or '.join(a.upper() for a in allowed)})",
        )
        return
    action = _actions(
        tr, p.raw("DefaultActions", required=True), p.path("DefaultActions"), vname, lb_name, lb
    )
    if action is None or port is None:
        return
    listener: dict[str, Any] = {"port": port, "protocol": protocol}
    if lb["type"] == "network":
        if "forward" not in action:
            p.error("DefaultActions", "an NLB listener forwards to a target group")
            return
        listener["target_group"] = action["forward"]
    else:
        listener["default_action"] = action
        listener["rules"] = []
    for i, attr in enumerate(p.items("ListenerAttributes")):
        if isinstance(attr, dict) and attr.get("Key") == "tcp.idle_timeout.seconds":
            listener["idle_timeout"] = p.integer(
                attr.get("Value"), f"{p.path('ListenerAttributes')}[{i}].Value"
            )
        else:
            tr.ignore(f"{res.type} attribute {attr}: not emulated")
    lb.setdefault("listeners", []).append(listener)
    path = f"vpcs.{vname}.load_balancers.{lb_name}.listeners[{len(lb['listeners']) - 1}]"
    tr.where(res.id, path)
    tr.prov(f"{path}.port", p.path("Port"))
    tr.listener_ports[res.id] = (vname, lb_name, port)


CONDITION_FIELDS = {
    "path-pattern": ("path", "PathPatternConfig"),
    "host-header": ("host", "HostHeaderConfig"),
    "http-request-method": ("http_method", "HttpRequestMethodConfig"),
}


def _listener_rule(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    listener_res = p.ref("ListenerArn", LISTENER, required=True)
    if listener_res is None:
        return
    path = tr.out.names.get(listener_res.id, "")
    m = re.fullmatch(r"vpcs\.([^.]+)\.load_balancers\.([^.]+)\.listeners\[(\d+)\]", path)
    if m is None:
        return
    vname, lb_name, index = m.group(1), m.group(2), int(m.group(3))
    lb = tr.topology["vpcs"][vname]["load_balancers"][lb_name]
    if lb["type"] != "application":
        p.error("ListenerArn", "listener rules are for Application Load Balancers")
        return
    conditions: dict[str, Any] = {}
    for i, c in enumerate(p.items("Conditions", required=True)):
        cpath = f"{p.path('Conditions')}[{i}]"
        if not isinstance(c, dict):
            tr.error(cpath, "a condition is {Field, Values}")
            continue
        field = str(c.get("Field", ""))
        if field == "http-header":
            cfg = c.get("HttpHeaderConfig") or {}
            conditions.setdefault("http_header", {})[str(cfg.get("HttpHeaderName"))] = [
                str(v) for v in cfg.get("Values", [])
            ]
        elif field in CONDITION_FIELDS:
            key, cfg_key = CONDITION_FIELDS[field]
            values = c.get("Values") or (c.get(cfg_key) or {}).get("Values") or []
            conditions.setdefault(key, []).extend(str(v) for v in values)
        else:
            tr.error(
                f"{cpath}.Field",
                f"condition {field!r} is not emulated (path-pattern, "
                "host-header, http-request-method, http-header)",
            )
    action = _actions(tr, p.raw("Actions", required=True), p.path("Actions"), vname, lb_name, lb)
    priority = p.number("Priority", required=True)
    if action is None or priority is None:
        return
    listener = lb["listeners"][index]
    listener["rules"].append({"priority": priority, "conditions": conditions, "action": action})
    rpath = f"{path}.rules[{len(listener['rules']) - 1}]"
    tr.where(res.id, rpath)


# -- PrivateLink -----------------------------------------------------------------


def _endpoint_service(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    if p.has("GatewayLoadBalancerArns"):
        p.error("GatewayLoadBalancerArns", "Gateway Load Balancers are not emulated")
        return
    lbs = p.refs("NetworkLoadBalancerArns", LB, required=True)
    if len(lbs) != 1:
        if lbs:
            p.error("NetworkLoadBalancerArns", "one NLB per endpoint service is emulated")
        return
    found = lb_entry(tr, lbs[0].id)
    if found is None:
        return
    vname, lb_name, _ = found
    svc: dict[str, Any] = {"load_balancer": lb_name}
    acceptance = p.flag("AcceptanceRequired")
    if acceptance is not None:
        svc["acceptance_required"] = acceptance
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("endpoint_services", {})[name] = svc
    path = f"vpcs.{vname}.endpoint_services.{name}"
    tr.where(res.id, path)
    tr.prov(f"{path}.load_balancer", p.path("NetworkLoadBalancerArns"))


def _permissions(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    svc = p.ref("ServiceId", SERVICE, required=True)
    if svc is None:
        return
    path = tr.out.names.get(svc.id, "")
    parts = path.split(".")
    if len(parts) != 4:
        return
    entry = tr.topology["vpcs"][parts[1]]["endpoint_services"][parts[3]]
    principals = entry.setdefault("allowed_principals", [])
    for i, v in enumerate(p.items("AllowedPrincipals")):
        text = p.text(v, f"{p.path('AllowedPrincipals')}[{i}]")
        if text is not None:
            principals.append(text)
    tr.prov(f"{path}.allowed_principals", p.path("AllowedPrincipals"))
    tr.out.names[res.id] = path


def _endpoint(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    etype = (p.string("VpcEndpointType") or "Gateway").lower()
    service_name = p.string("ServiceName", required=True) or ""
    if etype != "interface":
        tr.skip(
            res,
            f"{etype} endpoints are not emulated (interface endpoints are); "
            "CloudFormation's default VpcEndpointType is Gateway",
        )
        return
    vpc = p.ref("VpcId", VPC, required=True)
    if vpc is None:
        return
    vname = tr.names[vpc.id]
    service: str | None = None
    if EXECUTE_API.fullmatch(service_name):
        service = "execute-api"
    else:
        m = SERVICE_ID.search(service_name)
        owner = tr.stack.tokens.owner.get(m.group(0)) if m else None
        if owner is not None and owner[0] in tr.out.names:
            svc_path = tr.out.names[owner[0]].split(".")
            service = f"{svc_path[1]}/{svc_path[3]}"
    if service is None:
        tr.skip(
            res,
            f"interface endpoint to {service_name!r}: only execute-api and endpoint "
            "services of this template are emulated",
        )
        return
    ep: dict[str, Any] = {
        "service": service,
        "type": "interface",
        "subnets": [tr.names[s.id] for s in p.refs("SubnetIds", SUBNET, required=True)],
    }
    groups = []
    for i, g in enumerate(p.items("SecurityGroupIds")):
        group = tr.owner(
            g, f"{p.path('SecurityGroupIds')}[{i}]", (SG, VPC), "AWS::EC2::SecurityGroup"
        )
        if group is not None:
            groups.append("default" if group.type == VPC else tr.names[group.id])
    if groups:
        ep["security_groups"] = groups
    # CloudFormation's PrivateDnsEnabled defaults to false, unlike the console.
    ep["private_dns"] = bool(p.flag("PrivateDnsEnabled"))
    name = tr.names[res.id]
    tr.topology["vpcs"][vname].setdefault("endpoints", {})[name] = ep
    path = f"vpcs.{vname}.endpoints.{name}"
    tr.where(res.id, path)
    for key, prop in (
        ("subnets", "SubnetIds"),
        ("service", "ServiceName"),
        ("private_dns", "PrivateDnsEnabled"),
        ("security_groups", "SecurityGroupIds"),
    ):
        tr.prov(f"{path}.{key}", p.path(prop))


# -- Cloud Map ---------------------------------------------------------------------


def _cloud_map(tr: Translator) -> dict[str, Any]:
    return tr.topology.setdefault("cloud_map", {"namespaces": {}, "services": {}})


def _namespace(tr: Translator, res: Resource) -> None:
    private = res.type == NAMESPACE
    p = Props(tr, res)
    name = p.string("Name", required=True)
    ns: dict[str, Any] = {"type": "dns_private" if private else "http"}
    if private:
        vpc = p.ref("Vpc", VPC, required=True)
        if vpc is None:
            return
        ns["vpc"] = tr.names[vpc.id]
    if not name:
        return
    _cloud_map(tr)["namespaces"][name] = ns
    tr.where(res.id, f"cloud_map.namespaces.{name}")


def _sd_service(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    ns_value = p.raw("NamespaceId") or p.mapping("DnsConfig").get("NamespaceId")
    if ns_value is None:
        p.error("", "a Cloud Map service needs NamespaceId (or DnsConfig.NamespaceId)")
        return
    ns = tr.owner(ns_value, p.path("NamespaceId"), (NAMESPACE, HTTP_NAMESPACE))
    if ns is None or ns.id not in tr.out.names:
        return
    name = p.string("Name") or tr.names[res.id]
    ns_name = tr.out.names[ns.id].split(".", 2)[2]
    _cloud_map(tr)["services"][name] = {"namespace": ns_name, "instances": {}}
    tr.where(res.id, f"cloud_map.services.{name}")


def _sd_instance(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    svc = p.ref("ServiceId", SD_SERVICE, required=True)
    if svc is None or svc.id not in tr.out.names:
        return
    attrs = p.mapping("InstanceAttributes", required=True)
    inst: dict[str, Any] = {}
    apath = p.path("InstanceAttributes")
    ip = attrs.get("AWS_INSTANCE_IPV4")
    if ip is None:
        p.error(
            "InstanceAttributes",
            "AWS_INSTANCE_IPV4 is needed (the emulator reaches instances by address)",
        )
        return
    host = _host_of_ip(tr, str(ip))
    if host:
        inst["host"] = host
    else:
        inst["ip"] = str(ip)
    port = p.integer(attrs.get("AWS_INSTANCE_PORT"), f"{apath}.AWS_INSTANCE_PORT")
    if port is None:
        p.error("InstanceAttributes", "AWS_INSTANCE_PORT is needed")
        return
    inst["port"] = port
    health = attrs.get("AWS_INIT_HEALTH_STATUS")
    if health is not None:
        inst["health"] = str(health).lower()
    custom = {k: str(v) for k, v in attrs.items() if not k.startswith("AWS_")}
    if custom:
        inst["attributes"] = custom
    service_path = tr.out.names[svc.id]
    instance_id = p.string("InstanceId") or tr.names[res.id]
    _cloud_map(tr)["services"][service_path.split(".", 2)[2]]["instances"][instance_id] = inst
    path = f"{service_path}.instances.{instance_id}"
    tr.where(res.id, path)


def _host_of_ip(tr: Translator, ip: str) -> str | None:
    """The host that a pinned address (`Fn::GetAtt Instance.PrivateIp`) belongs to."""
    for logical in tr.stack.resources:
        if tr.pinned(logical) == ip and logical in tr.names:
            path = tr.out.names.get(logical, "")
            if ".hosts." in path:
                return path.rsplit(".", 1)[1]
    return None
