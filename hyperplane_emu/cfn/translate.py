"""A CloudFormation template -> a topology document (the mapping a topology file holds).

    translation = translate(template, parameters={"Env": "prod"})
    translation.topology        # {"name": …, "vpcs": {…}, "apis": {…}}: what spec checks
    translation.skipped         # resources not emulated, each with why

How it goes:
1. the template's sections (Parameters with `--parameter` overrides, pseudo
   parameters, Mappings, Conditions) set up a `Stack` (intrinsics.py);
2. resources whose condition is false are left out; `DependsOn` and every
   `Ref`/`Fn::GetAtt`/`Fn::Sub` form a graph, and a cycle is refused;
3. each resource's properties are resolved (stand-in ids from `tokens`) and the
   resource is placed in the topology: a VPC under `vpcs`, a subnet under its
   VPC, a target group under the load balancer whose listener uses it, a REST
   method as a route of its API (types.md of this package is docs/cloudformation.md);
4. the spec validator then checks the document as it checks a file, and its
   messages are re-written to name the template's logical id and property.

Topology names come from logical ids (`OrdersNlb` -> `orders-nlb`; the CDK's
8-hex suffix dropped), unique in the whole document. Problems are `SpecIssue`s with
the template path (`Resources.OrdersNlb.Properties.Subnets[1]`) and its line.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hyperplane_emu.cfn.catalog import CATALOG, NO_EFFECT, why_skipped
from hyperplane_emu.cfn.intrinsics import (
    NO_VALUE,
    PSEUDO,
    CfnError,
    Resource,
    Stack,
    find_cycle,
    references,
)
from hyperplane_emu.cfn.naming import RESERVED, kebab, stack_topology_name
from hyperplane_emu.cfn.parameters import parameter_values
from hyperplane_emu.cfn.template import Template
from hyperplane_emu.cfn.tokens import Tokens, hex_id
from hyperplane_emu.cfn.translation import Skipped, Translation
from hyperplane_emu.spec.errors import FILE, SpecIssue

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "111122223333"
TOP_KEYS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
)
RESOURCE_KEYS = (
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
)
META_KEY = "hyperplane-emu"
SERVE_TAG = "hyperplane-emu:serve"

# -- the translator --------------------------------------------------------------


class Translator:
    def __init__(
        self,
        template: Template,
        parameters: dict[str, str] | None = None,
        stack_name: str | None = None,
    ) -> None:
        self.t = template
        self.body = template.body
        self.out = Translation({}, template.source, lines=template.lines)
        self.issues = self.out.issues
        self.overrides = dict(parameters or {})
        self.stack_name = stack_name or "stack"
        self._props: dict[str, dict[str, Any]] = {}
        self._pinned: dict[str, str] = {}  # logical id -> private address handed out
        self._pin_next: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.used_names: set[str] = set()
        self.by_type: dict[str, list[Resource]] = {}
        """Type -> its resources, in template order (what the translation steps walk)."""
        self.nic_owner: dict[str, str] = {}
        """Network interface logical id -> the instance whose eth0 it is."""
        self.listener_ports: dict[str, tuple[str, str, int]] = {}
        """Listener logical id -> (VPC, load balancer, port) in the topology."""
        self.apis: dict[str, tuple[str, dict[str, Any]]] = {}
        """API logical id -> (topology path, its entry)."""
        self.failed: set[tuple[str, str]] = set()
        """(logical id, property) whose value could not be resolved (already reported)."""

    # -- issues -------------------------------------------------------------------

    def error(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue(path, message, self.t.line(path)))

    def ignore(self, what: str) -> None:
        if what not in self.out.ignored:
            self.out.ignored.append(what)

    def skip(self, res: Resource, why: str) -> None:
        self.out.skipped.append(Skipped(res.id, res.type, why, res.path))

    # -- set-up ---------------------------------------------------------------------

    def run(self, steps: Sequence[Callable[[Translator], None]]) -> Translation:
        """Set up the stack, then let `steps` (resources.translate_all, apigw.translate_all:
        the caller's, so that this module imports neither) place each resource."""
        for key in self.body:
            if key not in TOP_KEYS:
                self.error(key, f"unknown top-level section {key!r}")
        if "Rules" in self.body:
            self.ignore("Rules: parameter rules are not checked")
        if "Hooks" in self.body:
            self.ignore("Hooks: CodeDeploy hooks are not emulated")
        resources_raw = self.body.get("Resources")
        if not isinstance(resources_raw, dict) or not resources_raw:
            self.error(
                "Resources" if "Resources" in self.body else FILE,
                "a template needs a Resources mapping with at least one resource",
            )
            return self.out
        meta = self.body.get("Metadata", {})
        emu_meta = meta.get(META_KEY, {}) if isinstance(meta, dict) else {}
        if not isinstance(emu_meta, dict):
            emu_meta = {}
        region = self.overrides.pop("AWS::Region", "") or str(
            emu_meta.get("region", DEFAULT_REGION)
        )
        account = self.overrides.pop("AWS::AccountId", "") or str(
            emu_meta.get("account", DEFAULT_ACCOUNT)
        )
        self.stack_name = self.overrides.pop("AWS::StackName", "") or str(
            emu_meta.get("name", self.stack_name)
        )
        if not re.fullmatch(r"[0-9]{12}", account):
            self.error("Metadata.hyperplane-emu.account", f"{account!r} is not a 12-digit id")
        tokens = Tokens(self.stack_name, region, account)
        self.out.tokens = tokens
        params = parameter_values(self.body.get("Parameters", {}), self.overrides, self.error)
        mappings = self.body.get("Mappings", {})
        conditions = self.body.get("Conditions", {})
        if not isinstance(mappings, dict):
            self.error("Mappings", "expected a mapping")
            mappings = {}
        if not isinstance(conditions, dict):
            self.error("Conditions", "expected a mapping")
            conditions = {}
        self.stack = Stack(
            tokens,
            region,
            account,
            self.stack_name,
            params,
            {},
            {},
            mappings,
            conditions,
            self._ref,
            self._attr,
        )
        for name in conditions:
            try:
                self.stack.condition(name, f"Conditions.{name}")
            except CfnError as e:
                self.error(e.path, e.message)
        self._resources(resources_raw)
        if self.issues:
            return self.out
        self._name_all()
        self.topology: dict[str, Any] = {
            "name": stack_topology_name(self.stack_name),
            "region": region,
            "accounts": {"customer": account},
            "vpcs": {},
        }
        self.out.topology = self.topology
        # Outputs first: an address they read (GetAtt PrivateIp) is pinned on its host.
        self._outputs()
        for step in steps:
            step(self)
        self._report_others()
        _prune(self.topology)
        return self.out

    def _report_others(self) -> None:
        """Types no step translates: recognised without effect, or skipped with why."""
        for res in self.stack.resources.values():
            if res.type in NO_EFFECT:
                self.props(res)  # its references must still resolve
                self.ignore(f"{res.type}: {NO_EFFECT[res.type]}")
            elif res.type not in CATALOG:
                self.skip(res, why_skipped(res.type))

    def _resources(self, raw: dict[str, Any]) -> None:
        all_ids = set(raw)
        for logical, body in raw.items():
            path = f"Resources.{logical}"
            if not re.fullmatch(r"[A-Za-z0-9]+", logical):
                self.error(path, f"logical id {logical!r} must be alphanumeric")
                continue
            if logical in PSEUDO or logical in self.stack.parameters:
                self.error(path, f"{logical!r} is also a parameter name")
            if not isinstance(body, dict):
                self.error(path, "a resource is a mapping with Type and Properties")
                continue
            for key in body:
                if key not in RESOURCE_KEYS:
                    self.error(f"{path}.{key}", f"unknown resource attribute {key!r}")
            rtype = body.get("Type")
            if not isinstance(rtype, str) or "::" not in rtype:
                self.error(f"{path}.Type", "Type is required (like AWS::EC2::VPC)")
                continue
            props = body.get("Properties", {})
            if props is None:
                props = {}
            if not isinstance(props, dict):
                self.error(f"{path}.Properties", "expected a mapping")
                continue
            depends = body.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
                self.error(f"{path}.DependsOn", "expected a logical id or a list of them")
                depends = []
            for i, d in enumerate(depends):
                if d not in all_ids:
                    self.error(
                        f"{path}.DependsOn" + (f"[{i}]" if len(depends) > 1 else ""),
                        f"DependsOn unknown resource {d!r}",
                    )
            condition = body.get("Condition")
            metadata = body.get("Metadata", {})
            res = Resource(
                logical,
                rtype,
                props,
                path,
                metadata if isinstance(metadata, dict) else {},
                condition if isinstance(condition, str) else None,
                tuple(depends),
            )
            if condition is not None:
                try:
                    if not self.stack.condition(str(condition), f"{path}.Condition"):
                        self.stack.excluded[logical] = str(condition)
                        continue
                except CfnError as e:
                    self.error(e.path, e.message)
                    continue
            self.stack.resources[logical] = res
        edges = {
            r.id: (references(r.properties) | set(r.depends_on)) & set(self.stack.resources)
            for r in self.stack.resources.values()
        }
        cycle = find_cycle(edges)
        if cycle:
            self.error(
                f"Resources.{cycle[0]}",
                "circular dependency: " + " -> ".join(cycle) + " (CloudFormation refuses cycles)",
            )

    def _name_all(self) -> None:
        for logical, res in self.stack.resources.items():
            meta = res.metadata.get(META_KEY, {})
            wanted = meta.get("name") if isinstance(meta, dict) else None
            name = kebab(str(wanted)) if wanted else kebab(logical)
            if name in RESERVED:
                name = f"{name}-1"
            base, n = name, 2
            while name in self.used_names:
                suffix = f"-{n}"
                name = base[: 32 - len(suffix)] + suffix
                n += 1
            self.used_names.add(name)
            self.names[logical] = name

    # -- properties -----------------------------------------------------------------

    def props(self, res: Resource) -> dict[str, Any]:
        """The resource's properties, resolved; a property that fails is reported and left out."""
        if res.id in self._props:
            return self._props[res.id]
        out: dict[str, Any] = {}
        self._props[res.id] = out  # re-entry (a cycle already reported) sees what exists
        for key, value in res.properties.items():
            try:
                got = self.stack.eval(value, f"{res.path}.Properties.{key}")
            except CfnError as e:
                self.error(e.path, e.message)
                self.failed.add((res.id, key))
                continue
            if got is not NO_VALUE:
                out[key] = got
        return out

    def _ref(self, res: Resource, path: str) -> Any:
        tokens = self.stack.tokens
        if res.type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            lb_type = str(self.props(res).get("Type", "application"))
            return tokens.arn(res.id, res.type, lb_type)
        if res.type in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"):
            return self.props(res).get("StageName", res.id)
        if res.type == "AWS::ServiceDiscovery::Instance":
            return self.props(res).get("InstanceId", res.id)
        return tokens.ref(res.id, res.type)

    def _attr(self, res: Resource, attr: str, path: str) -> Any:
        p = lambda key: self.props(res).get(key)  # noqa: E731
        t = res.type
        ref = self._ref(res, path)
        tokens = self.stack.tokens
        simple_ids = {
            "AWS::EC2::VPC": ("VpcId",),
            "AWS::EC2::Subnet": ("SubnetId",),
            "AWS::EC2::SecurityGroup": ("GroupId",),
            "AWS::EC2::NetworkInterface": ("Id",),
            "AWS::EC2::VPCEndpoint": ("Id",),
            "AWS::EC2::VPCEndpointService": ("ServiceId",),
            "AWS::EC2::Instance": ("InstanceId",),
            "AWS::ApiGateway::RestApi": ("RestApiId",),
            "AWS::ApiGateway::Resource": ("ResourceId",),
            "AWS::ApiGateway::VpcLink": ("VpcLinkId",),
            "AWS::ApiGateway::Deployment": ("DeploymentId",),
            "AWS::ApiGatewayV2::Api": ("ApiId",),
            "AWS::ApiGatewayV2::VpcLink": ("VpcLinkId",),
            "AWS::ApiGatewayV2::Integration": ("IntegrationId",),
            "AWS::ApiGatewayV2::Route": ("RouteId",),
            "AWS::ElasticLoadBalancingV2::LoadBalancer": ("LoadBalancerArn",),
            "AWS::ElasticLoadBalancingV2::TargetGroup": ("TargetGroupArn",),
            "AWS::ElasticLoadBalancingV2::Listener": ("ListenerArn",),
            "AWS::ElasticLoadBalancingV2::ListenerRule": ("RuleArn",),
            "AWS::ServiceDiscovery::PrivateDnsNamespace": ("Id",),
            "AWS::ServiceDiscovery::HttpNamespace": ("Id",),
            "AWS::ServiceDiscovery::Service": ("Id",),
        }
        if attr in simple_ids.get(t, ()):
            return ref
        if t == "AWS::EC2::VPC" and attr == "CidrBlock":
            return p("CidrBlock")
        if t == "AWS::EC2::VPC" and attr in ("DefaultSecurityGroup", "DefaultNetworkAcl"):
            prefix = "sg-" if attr == "DefaultSecurityGroup" else "acl-"
            return tokens._keep(prefix + hex_id(17, tokens.stack, res.id, attr), res.id, attr)
        if t == "AWS::EC2::VPC" and attr == "CidrBlockAssociations":
            return []
        if t == "AWS::EC2::Subnet" and attr in ("CidrBlock", "AvailabilityZone", "VpcId"):
            if attr == "AvailabilityZone":
                return self.subnet_az(res)
            return p(attr)
        if t == "AWS::EC2::SecurityGroup" and attr == "VpcId":
            return p("VpcId")
        if t == "AWS::EC2::Instance" and attr == "PrivateIp":
            return self.pin(res, path)
        if t == "AWS::EC2::Instance" and attr == "PrivateDnsName":
            ip = self.pin(res, path)
            return f"ip-{ip.replace('.', '-')}.ec2.internal"
        if t == "AWS::EC2::NetworkInterface" and attr == "PrimaryPrivateIpAddress":
            return self.pin(res, path)
        if t == "AWS::ServiceDiscovery::Service" and attr == "Name":
            return p("Name")
        if t == "AWS::ElasticLoadBalancingV2::LoadBalancer" and attr == "LoadBalancerName":
            return p("Name") or tokens.lb_name(res.id)
        if t == "AWS::ElasticLoadBalancingV2::LoadBalancer" and attr == "DNSName":
            scheme = p("Scheme") or "internet-facing"
            value = tokens.attr(res.id, t, attr, ref)
            if scheme == "internal" and not value.startswith("internal-"):
                value = tokens._keep("internal-" + value, res.id, attr)
            return value
        if t == "AWS::ElasticLoadBalancingV2::LoadBalancer" and attr == "LoadBalancerFullName":
            return "/".join(str(ref).split("/")[1:])
        if t == "AWS::EC2::VPCEndpoint" and attr == "DnsEntries":
            return [
                f"Z7HUB22UULQXV:{ref}-{tokens.attr(res.id, t, 'dns', ref)[-8:]}."
                f"execute-api.{self.stack.region}.vpce.amazonaws.com"
            ]
        if attr in ("SecurityGroups", "NetworkInterfaceIds", "LoadBalancerArns"):
            return []
        return tokens.attr(res.id, t, attr, ref)

    def subnet_az(self, res: Resource) -> str:
        az = self.props(res).get("AvailabilityZone")
        return str(az) if az else f"{self.stack.region}a"

    def pin(self, res: Resource, path: str) -> str:
        """The private address of an instance or ENI whose address the template reads:
        the written one, or one handed out from the top of its subnet (the plan fills
        addresses from the bottom), so the value used in the template is the real one."""
        if res.id in self._pinned:
            return self._pinned[res.id]
        props = self.props(res)
        written = props.get("PrivateIpAddress")
        nic = device0(props)
        if written is None and nic is not None:
            written = nic.get("PrivateIpAddress")
        if written:
            self._pinned[res.id] = str(written)
            self.stack.tokens._keep(str(written), res.id, "PrivateIp")
            return str(written)
        subnet_ref = props.get("SubnetId") or (nic or {}).get("SubnetId")
        owner = self.stack.tokens.owner.get(str(subnet_ref)) if subnet_ref else None
        if owner is None:
            raise CfnError(
                path, f"cannot know {res.id}'s address: it has no SubnetId of this template"
            )
        subnet = self.stack.resources[owner[0]]
        cidr = self.props(subnet).get("CidrBlock")
        try:
            net = ipaddress.ip_network(str(cidr))
        except ValueError:
            raise CfnError(
                path,
                f"cannot know {res.id}'s address: its subnet's CidrBlock {cidr!r} is not a CIDR",
            ) from None
        taken = {
            str(self.props(r).get("PrivateIpAddress"))
            for r in self.stack.resources.values()
            if r.type in ("AWS::EC2::Instance", "AWS::EC2::NetworkInterface")
        }
        step = self._pin_next.get(owner[0], 2)
        while True:
            ip = str(net.broadcast_address - step)
            step += 1
            if ip not in taken and ip not in self._pinned.values():
                break
        self._pin_next[owner[0]] = step
        self._pinned[res.id] = ip
        self.stack.tokens._keep(ip, res.id, "PrivateIp")
        return ip

    def guarded(self, res: Resource, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one resource's translator; a value of a shape no check foresaw (a list
        where a mapping belongs, deep inside a property) is reported at the resource
        instead of ending the run with a traceback."""
        try:
            return fn(self, res, *args)
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as e:
            self.error(
                res.path,
                f"cannot translate this {res.type}: a property has an "
                f"unexpected shape ({type(e).__name__}: {e})",
            )
            return None

    def pinned(self, logical: str) -> str | None:
        return self._pinned.get(logical)

    def owner(
        self, value: Any, path: str, types: Iterable[str], what: str | None = None
    ) -> Resource | None:
        """The resource of this template that a resolved id/ARN names, or None (reported)."""
        types = tuple(types)
        label = what or " or ".join(types)
        if not isinstance(value, str):
            self.error(path, f"expected the id of a {label}, got {value!r}")
            return None
        owner = self.stack.tokens.owner.get(value)
        if owner is None:
            self.error(
                path,
                f"{value!r} is not a {label} of this template (write a Ref "
                "or Fn::GetAtt to one: the emulator builds only the template's "
                "resources)",
            )
            return None
        res = self.stack.resources[owner[0]]
        if res.type not in types:
            self.error(path, f"refers to {res.id}, a {res.type}; expected a {label}")
            return None
        return res

    def where(self, logical: str, topo_path: str) -> None:
        self.out.names[logical] = topo_path
        self.out.provenance[topo_path] = f"Resources.{logical}"

    def prov(self, topo_path: str, cfn_path: str) -> None:
        self.out.provenance[topo_path] = cfn_path

    # -- outputs --------------------------------------------------------------------

    def _outputs(self) -> None:
        outputs = self.body.get("Outputs", {})
        if not isinstance(outputs, dict):
            self.error("Outputs", "expected a mapping")
            return
        for name, spec in outputs.items():
            path = f"Outputs.{name}"
            if not isinstance(spec, dict) or "Value" not in spec:
                self.error(path, "an output is a mapping with a Value")
                continue
            cond = spec.get("Condition")
            try:
                if cond is not None and not self.stack.condition(str(cond), f"{path}.Condition"):
                    continue
                value = self.stack.eval(spec["Value"], f"{path}.Value")
            except CfnError as e:
                self.error(e.path, e.message)
                continue
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            self.out.outputs[name] = str(value).lower() if isinstance(value, bool) else str(value)


def device0(props: dict[str, Any]) -> dict[str, Any] | None:
    nics = props.get("NetworkInterfaces")
    if isinstance(nics, list):
        for nic in nics:
            if isinstance(nic, dict) and str(nic.get("DeviceIndex", "0")) == "0":
                return nic
    return None


def _prune(topology: dict[str, Any]) -> None:
    """Drop empty per-VPC sections: the spec refuses nothing for them, but the
    document reads better without."""
    for vpc in topology.get("vpcs", {}).values():
        for key in [k for k, v in vpc.items() if v in ({}, [])]:
            del vpc[key]
    for key in ("apis", "cloud_map"):
        if key in topology and not topology[key]:
            del topology[key]
    cm = topology.get("cloud_map")
    if isinstance(cm, dict):
        for key in [k for k, v in cm.items() if not v]:
            del cm[key]
        if not cm:
            del topology["cloud_map"]


Handler = Callable[[Translator, Resource], None]
