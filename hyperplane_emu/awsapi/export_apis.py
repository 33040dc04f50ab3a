"""The API Gateway half of the exporter: REST and HTTP APIs, their VPC links and policies.

A mixin of `export._Exporter`: it reads what the EC2/ELB half resolved (load
balancers, listeners, subnets, groups by AWS id) and adds `apis` to the document.
"""

from __future__ import annotations

import json
from typing import Any

from hyperplane_emu.awsapi.exportbase import Export, _name


class ApiGatewayExport:
    # Filled by the EC2/ELB half before the APIs are read.
    c: dict[str, Any]
    out: Export
    vpc_names: dict[str, str]
    subnets: dict[str, tuple[str, str]]
    groups: dict[str, tuple[str, str]]
    lbs: dict[str, tuple[str, str, str]]
    listeners: dict[str, tuple[str, str, int]]
    cloud_map_services: dict[str, str]
    v2_links: dict[str, Any]

    # -- API Gateway --------------------------------------------------------

    def _rest_apis(self, apis: dict[str, Any]) -> None:
        ag = self.c["apigateway"]
        links = {link["id"]: link for link in ag.get_vpc_links().get("items", [])}
        self.v2_links = {
            link["VpcLinkId"]: link
            for link in self.c["apigatewayv2"].get_vpc_links().get("Items", [])
        }
        for api in ag.get_rest_apis().get("items", []):
            aid = api["id"]
            n = _name(api.get("name", ""), "api-" + aid, set(apis))
            self.out.overrides[f"short:api/{n}"] = aid
            types = api.get("endpointConfiguration", {}).get("types", ["EDGE"])
            body: dict[str, Any] = {
                "type": "rest",
                "endpoint": "private" if "PRIVATE" in types else "regional",
            }
            associated = api.get("endpointConfiguration", {}).get("vpcEndpointIds", [])
            if associated and "PRIVATE" in types:
                known = [self.out.aliases[v] for v in associated if v in self.out.aliases]
                for v in associated:
                    if v not in self.out.aliases:
                        self.out.notes.append(f"REST API {aid}: {v} is not an endpoint here")
                if known:
                    body["vpc_endpoint_ids"] = known
            if api.get("policy"):
                policy = self._policy(api["policy"])
                if policy:
                    body["policy"] = policy
            vpc_links: dict[str, Any] = {}
            routes: dict[str, Any] = {}
            for res in ag.get_resources(restApiId=aid, embed=["methods"]).get("items", []):
                for method in res.get("resourceMethods") or {}:
                    try:
                        integ = ag.get_integration(restApiId=aid, resourceId=res["id"],
                                                   httpMethod=method)  # fmt: skip
                    except ag.exceptions.NotFoundException:
                        continue
                    route = self._rest_integration(integ, links, vpc_links, n)
                    if route is not None:
                        routes[f"{method} {res['path']}"] = {"integration": route}
            if vpc_links:
                body["vpc_links"] = vpc_links
            stages = {}
            for st in ag.get_stages(restApiId=aid).get("item", []):
                stages[st["stageName"]] = (
                    {"variables": st["variables"]} if st.get("variables") else {}
                )
            body["stages"] = stages
            if routes:
                body["routes"] = routes
            if not stages:
                self.out.notes.append(f"REST API {aid}: no stage yet (create_deployment)")
                continue
            apis[n] = body

    def _rest_integration(
        self, integ: dict[str, Any], links: dict[str, Any], vpc_links: dict[str, Any], api: str
    ) -> dict[str, Any] | None:
        kind = integ.get("type", "")
        if kind == "MOCK":
            return {"type": "MOCK"}
        if kind not in ("HTTP_PROXY", "HTTP"):
            self.out.notes.append(f"{api}: integration type {kind} is not emulated")
            return None
        out: dict[str, Any] = {"type": kind, "uri": integ.get("uri", "")}
        if integ.get("timeoutInMillis"):
            out["timeout_ms"] = int(integ["timeoutInMillis"])
        if integ.get("connectionType") == "VPC_LINK":
            cid = integ.get("connectionId", "")
            if cid.startswith("${stageVariables."):
                out["connection_type"] = "VPC_LINK"
                out["connection_id"] = cid
            elif cid in links:
                link = links[cid]
                target = next((self.lbs[a] for a in link.get("targetArns", [])
                               if a.replace("/net/", "/app/") in self.lbs
                               or a in self.lbs), None)  # fmt: skip
                if target is None:
                    target = next(
                        (
                            self.lbs[k]
                            for k in self.lbs
                            for a in link.get("targetArns", [])
                            if k.replace("/app/", "/net/") == a
                        ),
                        None,
                    )
                if target is None:
                    self.out.notes.append(f"VPC link {cid}: its NLB is not served")
                    return None
                lname = _name("link-" + cid.lower(), "link-" + cid.lower(), set())
                vpc_links[lname] = {"target": f"{target[0]}/{target[1]}"}
                self.out.overrides[f"short:api/{api}/vpclink/{lname}"] = cid
                out["vpc_link"] = lname
            elif cid in self.v2_links:
                # A REST API over a VPC link V2: the link's ENIs, and integrationTarget
                # (kept by the front) says which ALB/NLB; the uri's port its listener.
                v2name = self._v2_link(self.v2_links[cid], vpc_links, api)
                if v2name is None:
                    return None
                out["vpc_link"] = v2name
                if not integ.get("integrationTarget"):
                    self.out.notes.append(f"{api}: VPC link V2 {cid} without integrationTarget")
                    return None
            else:
                self.out.notes.append(f"{api}: connectionId {cid!r} is no VPC link")
                return None
        if integ.get("integrationTarget"):
            lb = self._lb_by_arn(integ["integrationTarget"])
            if lb is not None:
                out["integration_target"] = f"{lb[0]}/{lb[1]}"
        return out

    def _lb_by_arn(self, arn: str) -> tuple[str, str, str] | None:
        return self.lbs.get(arn) or self.lbs.get(arn.replace("/net/", "/app/"))

    def _policy(self, text: str) -> list[dict[str, Any]]:
        try:
            doc = json.loads(text.replace('\\"', '"'))
        except ValueError:
            self.out.notes.append("resource policy is not JSON")
            return []
        out = []
        for st in doc.get("Statement", []):
            entry: dict[str, Any] = {"effect": st.get("Effect", "Allow")}
            for op, conds in (st.get("Condition") or {}).items():
                for key, values in conds.items():
                    vals = values if isinstance(values, list) else [values]
                    k = key.lower()
                    if k == "aws:sourcevpce":
                        vals = [self.out.aliases.get(v, v) for v in vals]
                        entry["not_source_vpce" if "Not" in op else "source_vpce"] = vals
                    elif k == "aws:sourcevpc":
                        entry["source_vpc"] = [self.vpc_names.get(v, v) for v in vals]
                    elif k == "aws:sourceip":
                        entry["source_ip"] = vals
                    elif k == "aws:vpcsourceip":
                        entry["vpc_source_ip"] = vals
                    else:
                        self.out.notes.append(f"policy condition {key} is not emulated")
            resources = st.get("Resource", "*")
            resources = resources if isinstance(resources, list) else [resources]
            entry["resources"] = [_resource(r) for r in resources]
            out.append(entry)
        return out

    def _v2_link(self, link: dict[str, Any], vpc_links: dict[str, Any], api: str) -> str | None:
        """A VPC link V2 (subnets + groups) into `vpc_links`; its name there."""
        lid = link["VpcLinkId"]
        subnets = [self.subnets[s] for s in link.get("SubnetIds", []) if s in self.subnets]
        if not subnets:
            self.out.notes.append(f"VPC link {lid}: subnets not served")
            return None
        lname = _name("link-" + lid.lower(), "link-" + lid.lower(), set())
        body: dict[str, Any] = {"vpc": subnets[0][0], "subnets": [s[1] for s in subnets]}
        groups = [self.groups[g][1] for g in link.get("SecurityGroupIds", []) if g in self.groups]
        if groups:
            body["security_groups"] = groups
        vpc_links[lname] = body
        self.out.overrides[f"short:api/{api}/vpclink/{lname}"] = lid
        return lname

    def _http_apis(self, apis: dict[str, Any]) -> None:
        v2 = self.c["apigatewayv2"]
        links = {link["VpcLinkId"]: link for link in v2.get_vpc_links().get("Items", [])}
        for api in v2.get_apis().get("Items", []):
            if api.get("ProtocolType") != "HTTP":
                self.out.notes.append(f"API {api['ApiId']}: {api.get('ProtocolType')} APIs "
                                      "are not emulated")  # fmt: skip
                continue
            aid = api["ApiId"]
            n = _name(api.get("Name", ""), "api-" + aid, set(apis))
            self.out.overrides[f"short:api/{n}"] = aid
            body: dict[str, Any] = {"type": "http"}
            vpc_links: dict[str, Any] = {}
            integrations: dict[str, dict[str, Any]] = {}
            for integ in v2.get_integrations(ApiId=aid).get("Items", []):
                out = self._http_integration(integ, links, vpc_links, n)
                if out is not None:
                    integrations[integ["IntegrationId"]] = out
            routes = {}
            for r in v2.get_routes(ApiId=aid).get("Items", []):
                target = (r.get("Target") or "").removeprefix("integrations/")
                if target in integrations:
                    routes[r["RouteKey"]] = {"integration": integrations[target]}
            stages = {}
            for st in v2.get_stages(ApiId=aid).get("Items", []):
                stages[st["StageName"]] = (
                    {"variables": st["StageVariables"]} if st.get("StageVariables") else {}
                )
            if not stages:
                self.out.notes.append(f"HTTP API {aid}: no stage yet")
                continue
            body["stages"] = stages
            if vpc_links:
                body["vpc_links"] = vpc_links
            if routes:
                body["routes"] = routes
            apis[n] = body

    def _http_integration(
        self, integ: dict[str, Any], links: dict[str, Any], vpc_links: dict[str, Any], api: str
    ) -> dict[str, Any] | None:
        if integ.get("IntegrationType") != "HTTP_PROXY":
            self.out.notes.append(f"{api}: integration type {integ.get('IntegrationType')}")
            return None
        uri = integ.get("IntegrationUri", "")
        out: dict[str, Any] = {"type": "HTTP_PROXY"}
        if integ.get("TimeoutInMillis"):
            out["timeout_ms"] = int(integ["TimeoutInMillis"])
        if integ.get("RequestParameters"):
            out["request_parameters"] = integ["RequestParameters"]
        if integ.get("ConnectionType") == "VPC_LINK":
            lid = integ.get("ConnectionId", "")
            link = links.get(lid)
            if link is None:
                self.out.notes.append(f"{api}: VPC link {lid!r} not found")
                return None
            lname = self._v2_link(link, vpc_links, api)
            if lname is None:
                return None
            out["vpc_link"] = lname
            if uri in self.listeners:
                lv, lb, port = self.listeners[uri]
                out["uri"] = f"{lv}/{lb}:{port}"
            elif uri.replace("/net/", "/app/") in self.listeners:
                lv, lb, port = self.listeners[uri.replace("/net/", "/app/")]
                out["uri"] = f"{lv}/{lb}:{port}"
            elif uri in getattr(self, "cloud_map_services", {}):
                out["uri"] = self.cloud_map_services[uri]
            else:
                self.out.notes.append(f"{api}: integration uri {uri} is not served")
                return None
        else:
            out["uri"] = uri
        return out


def _resource(arn: str) -> str:
    # execute-api:/stage/METHOD/path or arn:aws:execute-api:region:acct:id/stage/METHOD/path
    tail = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn.removeprefix("execute-api:")
    parts = tail.lstrip("/").split("/")
    if arn.startswith("arn:"):
        parts = parts[1:]
    if len(parts) < 3 or parts[1] in ("*", ""):
        return "*"
    return f"{parts[1]} /{'/'.join(parts[2:])}"
