"""Elastic Load Balancing v2 resources -> the topology's `load_balancers`.

Load balancers, target groups (placed under the load balancer whose listener uses
them), targets, listeners and listener rules with their actions and conditions.
"""

from __future__ import annotations

import re
from typing import Any

from hyperplane_emu.cfn.ec2 import vpc_of
from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import ENI, INSTANCE, LB, LISTENER, RULE, SG, SUBNET, TG, VPC
from hyperplane_emu.cfn.translate import Handler, Translator


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
    for key, value, apath in p.attributes("LoadBalancerAttributes"):
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
    p.place(path, subnets="Subnets" if p.has("Subnets") else "SubnetMappings")


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
    for key, value, apath in p.attributes("TargetGroupAttributes"):
        if key == "preserve_client_ip.enabled":
            tg["preserve_client_ip"] = p.boolean(value, f"{apath}.Value")
        elif key == "proxy_protocol_v2.enabled":
            tg["proxy_protocol_v2"] = p.boolean(value, f"{apath}.Value")
        elif key == "target_health_state.unhealthy.connection_termination.enabled":
            tg["unhealthy_connection_termination"] = p.boolean(value, f"{apath}.Value")
        else:
            tr.ignore(f"{res.type} attribute {key}: not emulated")
    name = tr.names[res.id]
    lb["target_groups"][name] = tg
    path = f"vpcs.{vname}.load_balancers.{lb_name}.target_groups.{name}"
    p.place(
        path,
        port="Port",
        protocol="Protocol",
        targets="Targets",
        health_check="HealthCheckProtocol",
    )
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
    p.place(path, port="Port")
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


HANDLERS: dict[str, Handler] = {
    LB: _load_balancer,
    LISTENER: _listener,
    RULE: _listener_rule,
}
"""Type -> its translator (resources.translate_all runs them in dependence order)."""
