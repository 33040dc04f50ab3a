"""The resource policy of a REST API (`apis.<api>.policy`).

Written as a list of statements, or in the short form
`{allow: {<conditions>}, deny: {<conditions>}}` (one statement per effect).
Condition keys are AWS's, in snake case: `source_vpce` (aws:SourceVpce),
`not_source_vpce` (StringNotEquals aws:SourceVpce), `source_vpc`
(aws:SourceVpc), `source_ip` (aws:SourceIp), `vpc_source_ip`
(aws:VpcSourceIp); `resources` narrows a statement to `"<METHOD> <path>"`
patterns (`*` wildcards), the part of an execute-api ARN after the stage.

AWS facts behind the checks (API Gateway Developer Guide, "Resource policies",
"Private REST APIs"): HTTP APIs have no resource policy (the caller checks
that); `aws:SourceVpce` names interface endpoints for `execute-api`;
`aws:SourceIp` never matches a call through an endpoint (the endpoint rewrites
the source: `aws:VpcSourceIp` carries the caller's private address).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hyperplane_emu.spec import net, privatelink, refs
from hyperplane_emu.spec.model import PolicyStatement, Topology
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean

CONDITION_KEYS = (
    "source_vpce",
    "not_source_vpce",
    "source_vpc",
    "source_ip",
    "vpc_source_ip",
    "resources",
)
STATEMENT_KEYS = ("effect", *CONDITION_KEYS)
SHORT_KEYS = {"allow": "Allow", "deny": "Deny"}
EFFECTS = ("Allow", "Deny")
VPCE_ID = re.compile(r"vpce-[0-9a-f]{8}(?:[0-9a-f]{9})?")
VPC_ID = re.compile(r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?")
RESOURCE_METHODS = ("*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_RESOURCE = re.compile(r"(\S+) (/[A-Za-z0-9._~:{}+*/-]*)")


def parse_policy(
    ctx: Ctx, node: Node, path: str, topology: Topology
) -> tuple[PolicyStatement, ...] | None:
    """The statements, or None when any of them is wrong (already reported)."""
    issues_before = len(ctx.issues)
    statements: list[PolicyStatement] = []
    for effect, st_path, st_node in _statement_nodes(ctx, node, path):
        statement = _statement(ctx, effect, st_node, st_path, topology)
        if statement is not None:
            statements.append(statement)
    if len(ctx.issues) > issues_before:
        return None
    return tuple(statements)


def _statement_nodes(ctx: Ctx, node: Node, path: str) -> Iterator[tuple[str | None, str, Node]]:
    """(effect of the short form or None, path, node) of each statement written."""
    if isinstance(node, SequenceNode):
        items = ctx.sequence(node, path) or []
        if not items:
            ctx.error(path, node, "a policy needs at least one statement (omit the key for none)")
        for item_path, item in items:
            yield None, item_path, item
        return
    view = ctx.mapping(node, path)
    if view is None:
        return
    if "effect" in view:
        ctx.error(
            path,
            node,
            "a policy is a list of statements ([{effect: Allow, …}]) or "
            "{allow: {…}, deny: {…}}; this looks like one statement: put it in a list",
        )
        return
    view.check_keys(tuple(SHORT_KEYS))
    if len(view) == 0:
        ctx.error(path, node, "a policy needs allow or deny (omit the key for no policy)")
    for key, short_path, short_node in view.items():
        if key in SHORT_KEYS:
            yield SHORT_KEYS[key], short_path, short_node


def _statement(
    ctx: Ctx, effect: str | None, node: Node, path: str, topology: Topology
) -> PolicyStatement | None:
    view = ctx.mapping(node, path, null_ok=effect is not None)
    if view is None:
        return None
    issues_before = len(ctx.issues)  # an unknown key (a typo?) makes it invalid too
    if effect is None:
        view.check_keys(STATEMENT_KEYS, required=("effect",))
        effect_node = view.get("effect")
        if effect_node is not None:
            effect = _effect(ctx, effect_node, view.path_of("effect"))
    else:
        view.check_keys(CONDITION_KEYS)
    values = {key: _condition(ctx, view, key, topology) for key in CONDITION_KEYS}
    if len(ctx.issues) > issues_before or effect is None:
        return None
    return PolicyStatement(
        effect=cast(Literal["Allow", "Deny"], effect),
        source_vpce=values["source_vpce"] or (),
        source_vpc=values["source_vpc"] or (),
        source_ip=values["source_ip"] or (),
        vpc_source_ip=values["vpc_source_ip"] or (),
        not_source_vpce=values["not_source_vpce"] or (),
        resources=values["resources"] or ("*",),
    )


def _effect(ctx: Ctx, node: Node, path: str) -> str | None:
    text = ctx.text(node, path, "Allow or Deny")
    if text is None:
        return None
    if text in EFFECTS:
        return text
    hint = f"; write {text.capitalize()!r}" if text.capitalize() in EFFECTS else ""
    ctx.error(path, node, f"effect {text!r} is not Allow or Deny (AWS is case-sensitive){hint}")
    return None


def _condition(ctx: Ctx, view: MapView, key: str, topology: Topology) -> tuple[str, ...] | None:
    node = view.get(key)
    if node is None:
        return None
    check = _CHECKS[key]
    result: list[str] = []
    for item_path, item, text in _values(ctx, node, view.path_of(key)):
        value = check(ctx, text, item, item_path, topology)
        if value is None:
            continue
        if value in result:
            ctx.error(item_path, item, f"{value!r} is listed twice")
            continue
        result.append(value)
    return tuple(result)


def _values(ctx: Ctx, node: Node, path: str) -> Iterator[tuple[str, Node, str]]:
    """A condition's values: a list of strings, or one string (AWS takes both)."""
    if isinstance(node, ScalarNode):
        items: list[tuple[str, Node]] = [(path, node)]
    elif isinstance(node, MappingNode):
        ctx.error(path, node, "expected a list of strings, got a mapping")
        return
    else:
        items = ctx.sequence(node, path) or []
        if not items:
            ctx.error(path, node, "a condition needs at least one value (omit the key for none)")
    for item_path, item in items:
        text = ctx.text(item, item_path)
        if text is not None:
            yield item_path, item, text


def _source_vpce(ctx: Ctx, text: str, node: Node, path: str, topology: Topology) -> str | None:
    """`<vpc>/<endpoint>` of this file, for execute-api, or a vpce- id (outside it)."""
    if VPCE_ID.fullmatch(text):
        return text
    vpc_name, slash, endpoint = text.partition("/")
    if not slash or not vpc_name or not endpoint or "/" in endpoint:
        ctx.error(path, node, f"{text!r} is not <vpc>/<endpoint> of this file or a vpce- id")
        return None
    if refs.missing_vpc(ctx, vpc_name, node, path, topology):
        return None
    vpc = topology.vpcs.get(vpc_name)
    if vpc is None:
        return text  # a broken VPC: its own errors say why
    found = refs.status(ctx, f"vpcs.{vpc_name}.endpoints", endpoint, vpc.endpoints)
    if found == "missing":
        ctx.error(
            path,
            node,
            f"VPC {vpc_name!r} has no endpoint {endpoint!r}{did_you_mean(endpoint, vpc.endpoints)}",
        )
        return None
    if found == "found" and vpc.endpoints[endpoint].service != privatelink.EXECUTE_API:
        ctx.error(
            path,
            node,
            f"endpoint {text} is for {vpc.endpoints[endpoint].service}, not "
            f"{privatelink.EXECUTE_API}: only execute-api endpoints carry calls to an API",
        )
        return None
    return text


def _source_vpc(ctx: Ctx, text: str, node: Node, path: str, topology: Topology) -> str | None:
    if VPC_ID.fullmatch(text):
        return text
    if refs.missing_vpc(ctx, text, node, path, topology, hint=" (or write a vpc- id)"):
        return None
    return text


def _cidr(ctx: Ctx, text: str, node: Node, path: str, topology: Topology) -> str | None:
    """A CIDR, or an address meaning its /32 (IAM's IpAddress takes both)."""
    if "/" in text:
        network = net.cidr(ctx, node, path)
        return None if network is None else str(network)
    try:
        return f"{ipaddress.IPv4Address(text)}/32"
    except ValueError:
        ctx.error(path, node, f"{text!r} is not an IPv4 address or CIDR block")
        return None


def _resource(ctx: Ctx, text: str, node: Node, path: str, topology: Topology) -> str | None:
    """`*` or `<METHOD> <path>` (the ARN part after the stage); `*` matches any run."""
    if text == "*":
        return text
    match = _RESOURCE.fullmatch(text)
    if match is None:
        ctx.error(
            path, node, f"resource {text!r} is not '*' or '<METHOD> /path' (like 'GET /orders/*')"
        )
        return None
    method = match[1]
    if method not in RESOURCE_METHODS:
        hint = "; write '*' for every method" if method.upper() == "ANY" else ""
        if not hint and method.upper() in RESOURCE_METHODS:
            hint = f"; write {method.upper()!r}"
        ctx.error(
            path,
            node,
            f"method {method!r} of resource {text!r} is not one of "
            f"{', '.join(RESOURCE_METHODS)}{hint}",
        )
        return None
    return text


_CHECKS = {
    "source_vpce": _source_vpce,
    "not_source_vpce": _source_vpce,
    "source_vpc": _source_vpc,
    "source_ip": _cidr,
    "vpc_source_ip": _cidr,
    "resources": _resource,
}
