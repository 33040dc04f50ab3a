"""`vpc_endpoint_ids` of a private REST API (AWS's endpointConfiguration.vpcEndpointIds).

"A list of VpcEndpointIds of an API (RestApi) against which to create Route53
ALIASes. It is only supported for PRIVATE endpoint type" (CloudFormation,
AWS::ApiGateway::RestApi EndpointConfiguration): each associated execute-api
endpoint gets `<api-id>-<vpce-id>.execute-api.<region>.amazonaws.com` (plan/dns.py);
the data plane answers 403 Forbidden to that form for any other endpoint.
"""

from __future__ import annotations

from yaml.nodes import Node

from hyperplane_emu.spec import privatelink, refs
from hyperplane_emu.spec.model import Topology
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean


def parse_vpc_endpoint_ids(
    ctx: Ctx, view: MapView, api_type: str | None, endpoint: str | None, topology: Topology
) -> tuple[str, ...]:
    """`vpc_endpoint_ids: [<vpc>/<endpoint>]`: execute-api endpoints of this file associated
    with a private REST API (AWS's vpcEndpointIds, "only supported for PRIVATE endpoint
    type"); each association is a Route 53 alias `<api-id>-<vpce-id>.execute-api…`."""
    node = view.get("vpc_endpoint_ids")
    if node is None:
        return ()
    path = view.path_of("vpc_endpoint_ids")
    if api_type is not None and (api_type != "rest" or endpoint != "private"):
        ctx.error(
            path,
            view.key_node("vpc_endpoint_ids"),
            "vpc_endpoint_ids is for private REST APIs only (AWS: vpcEndpointIds is "
            "supported for the PRIVATE endpoint type)",
        )
        return ()
    items = ctx.sequence(node, path)
    if items is None:
        return ()
    result: list[str] = []
    for item_path, item in items:
        text = ctx.text(item, item_path, "<vpc>/<endpoint>")
        if text is None:
            continue
        key = _execute_api_endpoint(ctx, text, item, item_path, topology)
        if key is None:
            continue
        if key in result:
            ctx.error(item_path, item, f"{key!r} is listed twice")
            continue
        result.append(key)
    return tuple(result)


def _execute_api_endpoint(
    ctx: Ctx, text: str, node: Node, path: str, topology: Topology
) -> str | None:
    vpc_name, slash, name = text.partition("/")
    if not slash or not vpc_name or not name or "/" in name:
        ctx.error(path, node, f"{text!r} is not <vpc>/<endpoint> (an endpoint of this file)")
        return None
    vpc = refs.vpc(ctx, vpc_name, node, path, topology)
    if vpc is None:
        return None
    found = refs.status(ctx, f"vpcs.{vpc_name}.endpoints", name, vpc.endpoints)
    if found == "missing":
        ctx.error(
            path,
            node,
            f"VPC {vpc_name!r} has no endpoint {name!r}{did_you_mean(name, vpc.endpoints)}",
        )
        return None
    if found == "broken":
        return None
    service = vpc.endpoints[name].service
    if service != privatelink.EXECUTE_API:
        ctx.error(
            path,
            node,
            f"endpoint {text} is for {service}, not {privatelink.EXECUTE_API}: only "
            "execute-api endpoints can be associated with a private API",
        )
        return None
    return text
