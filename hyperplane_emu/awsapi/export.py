"""The control plane's state, read through public describe/get calls, as a topology document.

Names in the document: a resource's `Name` tag (made a valid topology name) or
else its AWS id, so `exec aws client` and `exec aws i-0abc…` both reach a host
(`aliases` maps ids to names). The ids AWS handed out go to `overrides`, keyed
as `plan.ids` seeds them, so the plan built under `ids.overrides(...)` carries
the same vpc-, subnet-, sg-, eni-, vpce- and API ids as the API's answers.

What the document cannot say is reported in `notes` (and left out), never
silently dropped: a target group no listener uses, an interface endpoint to a
service we do not emulate, ...
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.awsapi.export_apis import ApiGatewayExport
from hyperplane_emu.awsapi.exportbase import TAG_SERVE, Export, _name, _port, _tags
from hyperplane_emu.awsapi.front import Kept


class _Exporter(ApiGatewayExport):
    def __init__(self, c: dict[str, Any], name: str, region: str, kept: Kept) -> None:
        self.c, self.name, self.region, self.kept = c, name, region, kept
        self.out = Export({})
        self.vpc_names: dict[str, str] = {}  # vpc id -> name
        self.subnets: dict[str, tuple[str, str]] = {}  # subnet id -> (vpc name, name)
        self.groups: dict[str, tuple[str, str]] = {}  # sg id -> (vpc name, name)
        self.instances: dict[str, tuple[str, str]] = {}  # instance id -> (vpc, host)
        self.lbs: dict[str, tuple[str, str, str]] = {}  # lb arn -> (vpc, name, type)
        self.listeners: dict[str, tuple[str, str, int]] = {}  # listener arn -> (vpc, lb, port)
        self.endpoints: dict[str, tuple[str, str]] = {}  # vpce id -> (vpc, name)
        self.services: dict[str, tuple[str, str]] = {}  # vpce-svc id -> (vpc, name)
        self.host_names: set[str] = set()
        self.lb_names: set[str] = set()
        self.account = ""
        # account id -> its clients, in the order the accounts first changed something
        self.per_account: dict[str, dict[str, Any]] = (
            {"": c} if "ec2" in c else dict(c)  # one account's clients, or several accounts'
        )
        self.account_names: dict[str, str] = {}  # account id -> key of `accounts`
        self.cloud_map_services: dict[str, str] = {}  # service arn -> "<ns>/<svc>"

    def _account_key(self, account: str) -> str:
        # The first account is `customer` (the topology's default: single-account output
        # says no `account:` at all); the others are named after their ids.
        if account not in self.account_names:
            self.account_names[account] = "customer" if not self.account_names else f"a{account}"
        return self.account_names[account]

    def run(self) -> Export:
        vpcs: dict[str, Any] = {}
        doc: dict[str, Any] = {"name": self.name, "region": self.region}
        owned: dict[str, list[str]] = {}  # account id -> its VPC names
        for account, c in self.per_account.items():
            self.c = c
            for v in c["ec2"].describe_vpcs()["Vpcs"]:
                if v.get("IsDefault"):
                    continue
                n = _name(_tags(v).get("Name", ""), v["VpcId"], set(vpcs))
                self.vpc_names[v["VpcId"]] = n
                vpcs[n] = {"cidr": v["CidrBlock"], "subnets": {}, "security_groups": {}}
                owned.setdefault(account or v.get("OwnerId", ""), []).append(n)
                self.out.overrides[f"vpc:vpc/{n}"] = v["VpcId"]
        for account, names in owned.items():
            key = self._account_key(account)
            for n in names:
                if key != "customer":
                    vpcs[n] = {"cidr": vpcs[n]["cidr"], "account": key,
                               **{k: v for k, v in vpcs[n].items() if k != "cidr"}}  # fmt: skip
        if self.account_names:
            doc["accounts"] = {k: a for a, k in self.account_names.items()}
            self.account = next(iter(self.account_names))
        doc["vpcs"] = vpcs
        self.out.doc = doc
        if not vpcs:
            return self.out
        # Every account's endpoint services before any endpoint: a consumer's endpoint
        # names a service of another account.
        for c in self.per_account.values():
            self.c = c
            self._subnets(vpcs)
            self._groups(vpcs)
            self._instances(vpcs)
            self._load_balancers(vpcs)
            self._endpoint_services(vpcs)
        apis: dict[str, Any] = {}
        for account, c in self.per_account.items():
            self.c = c
            self._endpoints(vpcs)
            self._cloud_map(doc)
            before = set(apis)
            self._rest_apis(apis)
            self._http_apis(apis)
            key = self.account_names.get(account, "customer") if account else "customer"
            if key != "customer":
                for n in set(apis) - before:
                    apis[n] = {"type": apis[n]["type"], "account": key,
                               **{k: v for k, v in apis[n].items() if k != "type"}}  # fmt: skip
        if apis:
            doc["apis"] = apis
        for v in vpcs.values():
            for k in ("hosts", "load_balancers", "endpoints", "endpoint_services"):
                if k in v and not v[k]:
                    del v[k]
        return self.out

    # -- EC2 ----------------------------------------------------------------

    def _subnets(self, vpcs: dict[str, Any]) -> None:
        taken: dict[str, set[str]] = {}
        for s in self.c["ec2"].describe_subnets()["Subnets"]:
            vn = self.vpc_names.get(s["VpcId"])
            if vn is None:
                continue
            n = _name(_tags(s).get("Name", ""), s["SubnetId"], taken.setdefault(vn, set()))
            vpcs[vn]["subnets"][n] = {"cidr": s["CidrBlock"], "az": s["AvailabilityZone"]}
            self.subnets[s["SubnetId"]] = (vn, n)
            self.out.overrides[f"subnet:vpc/{vn}/subnet/{n}"] = s["SubnetId"]

    def _groups(self, vpcs: dict[str, Any]) -> None:
        groups = [g for g in self.c["ec2"].describe_security_groups()["SecurityGroups"]
                  if g.get("VpcId") in self.vpc_names]  # fmt: skip
        taken: dict[str, set[str]] = {}
        for g in groups:
            vn = self.vpc_names[g["VpcId"]]
            n = _name(g["GroupName"], g["GroupId"], taken.setdefault(vn, set()))
            self.groups[g["GroupId"]] = (vn, n)
            self.out.overrides[f"sg:vpc/{vn}/sg/{n}"] = g["GroupId"]
        for g in groups:
            vn, n = self.groups[g["GroupId"]]
            body: dict[str, Any] = {"description": g.get("Description", "")[:255]}
            body["ingress"] = self._rules(g.get("IpPermissions", []), "source", vn)
            body["egress"] = self._rules(g.get("IpPermissionsEgress", []), "destination", vn)
            if n == "default" and not g.get("IpPermissions"):
                # AWS's default group lets its members talk to each other; moto's has no rule.
                body["ingress"] = [{"protocol": "all", "source": "sg/default"}]
            vpcs[vn]["security_groups"][n] = body

    def _rules(self, perms: list[dict[str, Any]], peer_key: str, vn: str) -> list[dict[str, Any]]:
        out = []
        for p in perms:
            proto = str(p.get("IpProtocol", "-1"))
            proto = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)
            base: dict[str, Any] = {"protocol": proto}
            if proto in ("tcp", "udp"):
                base["port"] = _port(int(p.get("FromPort", 0)), int(p.get("ToPort", 65535)))
            for r in p.get("IpRanges", []):
                out.append(
                    {
                        **base,
                        peer_key: r["CidrIp"],
                        **({"description": r["Description"]} if r.get("Description") else {}),
                    }
                )
            for pair in p.get("UserIdGroupPairs", []):
                ref = self.groups.get(pair.get("GroupId", ""))
                if ref is None or ref[0] != vn:
                    self.out.notes.append(f"rule peer {pair.get('GroupId')} is not a group of {vn}")
                    continue
                out.append({**base, peer_key: f"sg/{ref[1]}"})
        return out

    def _instances(self, vpcs: dict[str, Any]) -> None:
        for res in self.c["ec2"].describe_instances()["Reservations"]:
            for i in res["Instances"]:
                if i.get("State", {}).get("Name") in ("terminated", "shutting-down"):
                    continue
                where = self.subnets.get(i.get("SubnetId", ""))
                if where is None:
                    self.out.notes.append(f"{i['InstanceId']}: not in a subnet of a served VPC")
                    continue
                vn, sn = where
                tags = _tags(i)
                n = _name(tags.get("Name", ""), i["InstanceId"], self.host_names)
                host: dict[str, Any] = {"subnet": sn}
                groups = [self.groups[g["GroupId"]][1] for g in i.get("SecurityGroups", [])
                          if g["GroupId"] in self.groups]  # fmt: skip
                if groups:
                    host["security_groups"] = groups
                if i.get("PrivateIpAddress"):
                    host["private_ip"] = i["PrivateIpAddress"]
                if tags.get(TAG_SERVE):
                    host["serve"] = [s.strip() for s in tags[TAG_SERVE].split(",") if s.strip()]
                if i.get("SourceDestCheck") is False:
                    host["source_dest_check"] = False
                vpcs[vn].setdefault("hosts", {})[n] = host
                self.instances[i["InstanceId"]] = (vn, n)
                self.out.aliases[i["InstanceId"]] = n
                for eni in i.get("NetworkInterfaces", []):
                    if eni.get("Attachment", {}).get("DeviceIndex", 0) == 0:
                        self.out.overrides[f"eni:vpc/{vn}/host/{n}/eni/0"] = eni[
                            "NetworkInterfaceId"
                        ]
                        self.out.aliases[eni["NetworkInterfaceId"]] = n

    # -- ELB ----------------------------------------------------------------

    def _load_balancers(self, vpcs: dict[str, Any]) -> None:
        elb = self.c["elbv2"]
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            vn = self.vpc_names.get(lb.get("VpcId", ""))
            if vn is None:
                continue
            n = _name(lb["LoadBalancerName"], "lb-" + lb["LoadBalancerArn"][-8:], self.lb_names)
            kind = lb.get("Type", "application")
            self.lbs[lb["LoadBalancerArn"]] = (vn, n, kind)
            self.out.overrides[f"hex:vpc/{vn}/nlb/{n}"] = lb["LoadBalancerArn"].rsplit("/", 1)[1]
            body: dict[str, Any] = {
                "type": kind,
                "scheme": lb.get("Scheme", "internet-facing"),
                "subnets": [
                    self.subnets[z["SubnetId"]][1]
                    for z in lb["AvailabilityZones"]
                    if z.get("SubnetId") in self.subnets
                ],  # fmt: skip
            }
            sgs = [self.groups[g][1] for g in lb.get("SecurityGroups", []) if g in self.groups]
            if sgs:
                body["security_groups"] = sgs
            attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}  # fmt: skip
            if kind == "network" and attrs.get("load_balancing.cross_zone.enabled") == "true":
                body["cross_zone"] = True
            if kind == "application" and attrs.get("idle_timeout.timeout_seconds"):
                body["idle_timeout"] = int(attrs["idle_timeout.timeout_seconds"])
            tgs: dict[str, Any] = {}
            tg_names: dict[str, str] = {}
            listeners = []
            for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
                self.listeners[li["ListenerArn"]] = (vn, n, int(li["Port"]))
                self._lb = (vn, n)
                entry = self._listener(li, kind, tgs, tg_names)
                if entry is not None:
                    listeners.append(entry)
            body["listeners"] = listeners
            body["target_groups"] = tgs
            vpcs[vn].setdefault("load_balancers", {})[n] = body

    def _action(self, actions: list[dict[str, Any]], tgs: dict[str, Any],
                tg_names: dict[str, str], kind: str) -> dict[str, Any] | None:  # fmt: skip
        for a in actions:
            if a.get("Type") == "forward":
                arn = (
                    a.get("TargetGroupArn")
                    or a["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]
                )
                return {"forward": self._target_group(arn, tgs, tg_names, kind)}
            if a.get("Type") == "fixed-response":
                fr = a["FixedResponseConfig"]
                out: dict[str, Any] = {"status": int(fr["StatusCode"])}
                if fr.get("MessageBody"):
                    out["body"] = fr["MessageBody"]
                if fr.get("ContentType"):
                    out["content_type"] = fr["ContentType"]
                return {"fixed_response": out}
            self.out.notes.append(f"listener action {a.get('Type')} is not emulated")
        return None

    def _listener(self, li: dict[str, Any], kind: str, tgs: dict[str, Any],
                  tg_names: dict[str, str]) -> dict[str, Any] | None:  # fmt: skip
        action = self._action(li.get("DefaultActions", []), tgs, tg_names, kind)
        if kind == "network":
            if action is None or "forward" not in action:
                return None
            return {"protocol": li["Protocol"].lower(), "port": int(li["Port"]),
                    "target_group": action["forward"]}  # fmt: skip
        entry: dict[str, Any] = {"port": int(li["Port"]), "protocol": "http"}
        if action is not None:
            entry["default_action"] = action
        rules = []
        for r in self.c["elbv2"].describe_rules(ListenerArn=li["ListenerArn"])["Rules"]:
            if r.get("IsDefault"):
                continue
            act = self._action(r.get("Actions", []), tgs, tg_names, kind)
            conds: dict[str, Any] = {}
            for cnd in r.get("Conditions", []):
                field_ = cnd.get("Field")
                if field_ == "path-pattern":
                    conds["path"] = cnd.get("PathPatternConfig", {}).get("Values") or cnd.get(
                        "Values", []
                    )
                elif field_ == "host-header":
                    conds["host"] = cnd.get("HostHeaderConfig", {}).get("Values") or cnd.get(
                        "Values", []
                    )
                elif field_ == "http-request-method":
                    conds["http_method"] = cnd.get("HttpRequestMethodConfig", {}).get("Values", [])
                elif field_ == "http-header":
                    h = cnd.get("HttpHeaderConfig", {})
                    conds.setdefault("http_header", {})[h.get("HttpHeaderName", "")] = h.get(
                        "Values", []
                    )
            if act is not None:
                rules.append({"priority": int(r["Priority"]), "conditions": conds, "action": act})
        if rules:
            entry["rules"] = rules
        return entry

    def _target_group(self, arn: str, tgs: dict[str, Any], tg_names: dict[str, str],
                      kind: str) -> str:  # fmt: skip
        if arn in tg_names:
            return tg_names[arn]
        elb = self.c["elbv2"]
        tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        n = _name(tg["TargetGroupName"], "tg-" + arn[-8:], set(tgs))
        tg_names[arn] = n
        vn, lbname = self._lb
        self.out.overrides[f"hex:vpc/{vn}/nlb/{lbname}/tg/{n}"] = arn.rsplit("/", 1)[1]
        self.out.target_groups[arn] = (f"{vn}/{lbname}", n)
        body: dict[str, Any] = {
            "protocol": tg.get("Protocol", "TCP").lower(),
            "port": int(tg["Port"]),
            "target_type": tg.get("TargetType", "instance"),
        }
        if body["target_type"] not in ("instance", "ip"):
            self.out.notes.append(f"target group {n}: target type {body['target_type']}")
            body["target_type"] = "instance"
        hc: dict[str, Any] = {}
        if tg.get("HealthCheckProtocol"):
            hc["protocol"] = tg["HealthCheckProtocol"].lower()
        if tg.get("HealthCheckPort") and tg["HealthCheckPort"] != "traffic-port":
            hc["port"] = int(tg["HealthCheckPort"])
        for key, src in (("interval", "HealthCheckIntervalSeconds"),
                         ("timeout", "HealthCheckTimeoutSeconds"),
                         ("healthy_threshold", "HealthyThresholdCount"),
                         ("unhealthy_threshold", "UnhealthyThresholdCount")):  # fmt: skip
            if tg.get(src):
                hc[key] = int(tg[src])
        if "timeout" in hc and "interval" in hc:
            hc["timeout"] = min(hc["timeout"], hc["interval"])
        if hc.get("protocol") == "http":
            if tg.get("HealthCheckPath"):
                hc["path"] = tg["HealthCheckPath"]
            if tg.get("Matcher", {}).get("HttpCode"):
                hc["matcher"] = str(tg["Matcher"]["HttpCode"])
        if kind == "application" and hc.get("protocol") == "https":
            hc["protocol"] = "http"
        body["health_check"] = hc
        if kind == "network":
            attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
                TargetGroupArn=arn)["Attributes"]}  # fmt: skip
            if attrs.get("preserve_client_ip.enabled") in ("true", "false"):
                explicit = attrs["preserve_client_ip.enabled"] == "true"
                default = body["target_type"] == "instance" or body["protocol"] == "udp"
                if explicit != default:
                    body["preserve_client_ip"] = explicit
            if attrs.get("proxy_protocol_v2.enabled") == "true":
                body["proxy_protocol_v2"] = True
        targets = []
        for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
            t = d["Target"]
            port = int(t.get("Port", body["port"]))
            if body["target_type"] == "instance":
                where = self.instances.get(t["Id"])
                if where is None:
                    self.out.notes.append(f"target {t['Id']} of {n} is not a running instance")
                    continue
                targets.append(where[1] if port == body["port"] else
                               {"host": where[1], "port": port})  # fmt: skip
            else:
                targets.append(t["Id"] if port == body["port"] else {"ip": t["Id"], "port": port})
        body["targets"] = targets
        tgs[n] = body
        return n

    # -- PrivateLink --------------------------------------------------------

    def _endpoint_services(self, vpcs: dict[str, Any]) -> None:
        ec2 = self.c["ec2"]
        for s in ec2.describe_vpc_endpoint_service_configurations().get(
            "ServiceConfigurations", []
        ):
            arns = s.get("NetworkLoadBalancerArns", [])
            lb = self.lbs.get(arns[0]) if arns else None
            if lb is None:
                self.out.notes.append(f"{s['ServiceId']}: its NLB is not served")
                continue
            vn, lbname, _ = lb
            sid = s["ServiceId"]
            n = _name(_tags(s).get("Name", ""), sid, set(vpcs[vn].get("endpoint_services", {})))
            body: dict[str, Any] = {
                "load_balancer": lbname,
                "acceptance_required": bool(s.get("AcceptanceRequired")),
            }
            perms = ec2.describe_vpc_endpoint_service_permissions(ServiceId=sid)
            principals = [p["Principal"] for p in perms.get("AllowedPrincipals", [])]
            if principals:
                body["allowed_principals"] = principals
            if s.get("PrivateDnsName"):
                body["private_dns_name"] = s["PrivateDnsName"]
            vpcs[vn].setdefault("endpoint_services", {})[n] = body
            self.services[sid] = (vn, n)
            self.out.overrides[f"vpce-svc:vpc/{vn}/endpoint-service/{n}"] = sid

    def _endpoints(self, vpcs: dict[str, Any]) -> None:
        for e in self.c["ec2"].describe_vpc_endpoints()["VpcEndpoints"]:
            vn = self.vpc_names.get(e["VpcId"])
            if str(e.get("State", "")).lower() == "deleted":  # moto keeps deleted endpoints
                continue
            if vn is None or e.get("VpcEndpointType") != "Interface":
                if vn is not None:
                    self.out.notes.append(f"{e['VpcEndpointId']}: only interface endpoints")
                continue
            svc = e["ServiceName"]
            if svc == f"com.amazonaws.{self.region}.execute-api":
                service = "execute-api"
            elif svc.rpartition(".")[2] in self.services:
                sv, sn = self.services[svc.rpartition(".")[2]]
                service = f"{sv}/{sn}"
            else:
                self.out.notes.append(f"{e['VpcEndpointId']}: service {svc} is not emulated")
                continue
            eid = e["VpcEndpointId"]
            n = _name(_tags(e).get("Name", ""), eid, set(vpcs[vn].get("endpoints", {})))
            subnets = [self.subnets[s][1] for s in e.get("SubnetIds", []) if s in self.subnets]
            body: dict[str, Any] = {"service": service, "subnets": subnets}
            groups = [self.groups[g["GroupId"]][1] for g in e.get("Groups", [])
                      if g["GroupId"] in self.groups]  # fmt: skip
            if groups:
                body["security_groups"] = groups
            if eid in self.kept.private_dns:
                body["private_dns"] = self.kept.private_dns[eid]
            elif service != "execute-api":
                # moto reports true when the call said nothing; AWS enables it only
                # where the service has a private DNS name to enable.
                sv, sn = service.split("/")
                body["private_dns"] = bool(
                    vpcs[sv].get("endpoint_services", {}).get(sn, {}).get("private_dns_name")
                )
            else:
                body["private_dns"] = bool(e.get("PrivateDnsEnabled", True))
            vpcs[vn].setdefault("endpoints", {})[n] = body
            self.endpoints[eid] = (vn, n)
            self.out.overrides[f"vpce:vpc/{vn}/endpoint/{n}"] = eid
            self.out.aliases[eid] = f"{vn}/{n}"
            enis = e.get("NetworkInterfaceIds", [])
            for sub, eni in zip(subnets, enis, strict=False):
                self.out.overrides[f"eni:vpcs/{vn}/endpoints/{n}/subnets/{sub}"] = eni

    # -- Cloud Map ----------------------------------------------------------

    def _cloud_map(self, doc: dict[str, Any]) -> None:
        sd = self.c["servicediscovery"]
        # Several accounts add to one `cloud_map` section.
        namespaces: dict[str, Any] = doc.get("cloud_map", {}).get("namespaces", {})
        services: dict[str, Any] = doc.get("cloud_map", {}).get("services", {})
        by_id: dict[str, str] = {}
        for ns in sd.list_namespaces().get("Namespaces", []):
            kind = {"DNS_PRIVATE": "dns_private", "HTTP": "http"}.get(ns.get("Type", ""))
            if kind is None:
                self.out.notes.append(f"Cloud Map namespace {ns['Name']}: {ns.get('Type')}")
                continue
            body: dict[str, Any] = {"type": kind}
            if kind == "dns_private":
                vpc = self.kept.namespace_vpcs.get(ns["Name"], "")
                if vpc not in self.vpc_names:
                    self.out.notes.append(f"Cloud Map namespace {ns['Name']}: VPC not served")
                    continue
                body["vpc"] = self.vpc_names[vpc]
            namespaces[ns["Name"]] = body
            by_id[ns["Id"]] = ns["Name"]
        for s in sd.list_services().get("Services", []):
            svc = sd.get_service(Id=s["Id"])["Service"]
            ns_name = by_id.get(svc.get("NamespaceId", ""))
            if ns_name is None:
                continue
            instances: dict[str, Any] = {}
            for inst in sd.list_instances(ServiceId=s["Id"]).get("Instances", []):
                a = dict(inst.get("Attributes", {}))
                body = {"ip": a.pop("AWS_INSTANCE_IPV4", ""),
                        "port": int(a.pop("AWS_INSTANCE_PORT", "80"))}  # fmt: skip
                health = a.pop("AWS_INIT_HEALTH_STATUS", "HEALTHY").lower()
                if health == "unhealthy":
                    body["health"] = "unhealthy"
                a = {k: v for k, v in a.items() if not k.startswith("AWS_")}
                if a:
                    body["attributes"] = a
                instances[inst["Id"]] = body
            services[svc["Name"]] = {"namespace": ns_name, "instances": instances}
            self.cloud_map_services[svc["Arn"]] = f"cloud_map/{ns_name}/{svc['Name']}"
        if namespaces:
            doc["cloud_map"] = {"namespaces": namespaces, "services": services}


def export(clients: dict[str, Any], name: str, region: str, kept: Kept | None = None) -> Export:
    """Read the state behind `clients` (one account's, service -> client; or several
    accounts', account id -> clients, the first being `customer`); `kept`: what the front
    remembered that moto drops."""
    e = _Exporter(clients, name, region, kept or Kept())
    return e.run()


__all__ = ["Export", "export"]
