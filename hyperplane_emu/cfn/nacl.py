"""Network ACLs and VPC flow logs -> the topology's `network_acls` and `flow_logs`.

Apart from ec2.py because both attach to subnets/ENIs after those exist and change
for their own reasons (NACL entry numbering, flow log formats).
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.cfn.ec2 import vpc_entry, vpc_of
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import ENI, FLOW_LOG, NACL, NACL_ASSOCIATION, NACL_ENTRY, SUBNET, VPC
from hyperplane_emu.cfn.translate import Handler, Translator

# -- network ACLs ------------------------------------------------------------------


def _network_acl(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    vpc = p.ref("VpcId", VPC, required=True)
    if vpc is None:
        return
    vname = tr.names[vpc.id]
    name = tr.names[res.id]
    # A new ACL has only the final `*` deny in each direction (AWS), hence no rules here.
    vpc_entry(tr, vpc).setdefault("network_acls", {})[name] = {}
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
    p.place(item, format="LogFormat", max_aggregation_interval="MaxAggregationInterval")
    logs.append(log)


HANDLERS: dict[str, Handler] = {
    NACL: _network_acl,
    NACL_ENTRY: _nacl_entry,
    NACL_ASSOCIATION: _nacl_association,
    FLOW_LOG: _flow_log,
}
"""Type -> its translator (resources.translate_all runs them in dependence order)."""
