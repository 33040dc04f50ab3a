"""Flow logs written in the topology, as EC2's DescribeFlowLogs shows them."""

from __future__ import annotations

from typing import Literal

from hyperplane_emu.flowlogfields import V2_FIELDS, parse_format
from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import PlanFlowLog
from hyperplane_emu.spec.model import Vpc

DEFAULT_FORMAT = " ".join(f"${{{f}}}" for f in V2_FIELDS)
_TYPES: dict[str, Literal["VPC", "Subnet", "NetworkInterface"]] = {
    "vpc": "VPC",
    "subnet": "Subnet",
    "host": "NetworkInterface",
}


def flow_logs(t: str, vname: str, v: Vpc) -> tuple[PlanFlowLog, ...]:
    out = []
    for log in v.flow_logs:
        kind, _, name = log.resource.partition("/")
        fmt = log.format or DEFAULT_FORMAT
        out.append(
            PlanFlowLog(
                id=ids.aws_id("fl", t, f"vpc/{vname}/flow-log/{log.name}"),
                name=log.name,
                vpc=vname,
                resource_type=_TYPES[kind],
                resource=name or vname,
                log_format=fmt,
                fields=parse_format(fmt),
                max_aggregation_interval=log.max_aggregation_interval,
            )
        )
    return tuple(out)
