"""Path handlers: what happens to a new flow once the router knows where it goes.

`ROUTE_PATHS` maps a route target kind (`routing.target_kind`) to its handler;
`FRONT_PATHS` maps the kind of a destination ENI that is a front rather than a
host (it stands for something behind it) to its handler. `core.Fabric` copies
both into `route_handlers` / `front_handlers`; a kind in neither is dropped as
``route-target-not-emulated``, an ENI kind not in `FRONT_PATHS` is a host and
gets the plain VPC-router delivery (`Fabric.deliver`). Adding a path = one
module here (a function with the `datapath.RoutePath` or `FrontPath` shape)
and one line below.
"""

from __future__ import annotations

from ..datapath import FrontPath, RoutePath
from . import internet, loadbalanced, local, vgw, vpclink

ROUTE_PATHS: dict[str, RoutePath] = {
    "local": local.route_local,
    "eni": local.route_eni,
    "igw": internet.path,
    "vgw": vgw.path,
}

FRONT_PATHS: dict[str, FrontPath] = {
    "nlb": loadbalanced.path,
    "vpce": loadbalanced.path,
    "apigw-public": loadbalanced.path,
    "vpclink-front": vpclink.path,
}
