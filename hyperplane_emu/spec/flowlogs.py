"""The `flow_logs` section of a VPC: flow logs on the VPC, a subnet or a host's ENI.

    flow_logs:
      - name: app-detail
        resource: host/app1           # or `vpc`, or `subnet/<name>`
        format: "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction}"
        max_aggregation_interval: 60

AWS facts behind the checks (EC2 API CreateFlowLogs,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateFlowLogs.html;
VPC User Guide "Flow log records",
https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html):
- a flow log is created for a VPC, a subnet or a network interface, and covers
  every ENI of it; the format is AWS's default (version 2) unless written, and a
  custom one names fields `${field}` separated by spaces;
- MaxAggregationInterval is 60 or 600 seconds (default 600). It is a maximum:
  the emulator closes windows every `settings.flow_log_interval` seconds when that
  is shorter (10 s by default), so tests see records quickly;
- the emulator writes one file per ENI in one format, so two flow logs covering
  one ENI must agree on the format (AWS would write both).
"""

from __future__ import annotations

import dataclasses

from yaml.nodes import Node

from hyperplane_emu.flowlogfields import FormatError, parse_format
from hyperplane_emu.spec import names, refs
from hyperplane_emu.spec.model import FlowLog, Topology, Vpc
from hyperplane_emu.spec.nodes import Ctx, did_you_mean
from hyperplane_emu.spec.sections import vpc_section

FLOW_LOG_KEYS = ("name", "resource", "format", "max_aggregation_interval")
INTERVALS = (60, 600)
VPC_RESOURCE = "vpc"
SUBNET_PREFIX = "subnet/"
HOST_PREFIX = "host/"


@vpc_section("flow_logs")
def parse_flow_logs(ctx: Ctx, node: Node, path: str, vpc: Vpc, topology: Topology) -> Vpc:
    items = ctx.sequence(node, path)
    if items is None:
        return vpc
    result: list[FlowLog] = []
    seen: dict[str, str] = {}
    for item_path, item in items:
        log = _flow_log(ctx, item, item_path, vpc)
        if log is None:
            continue
        if log.name in seen:
            ctx.error(
                f"{item_path}.name",
                item,
                f"flow log {log.name!r} is already defined ({seen[log.name]})",
            )
            continue
        clash = next((o for o in result if _overlap(vpc, o, log) and o.format != log.format), None)
        if clash is not None:
            ctx.error(
                f"{item_path}.format",
                item,
                f"flow log {clash.name!r} covers some of the same ENIs with another format; the "
                "emulator writes one file per ENI, so overlapping flow logs share a format",
            )
            continue
        seen[log.name] = item_path.rsplit(".", 1)[-1]
        result.append(log)
    return dataclasses.replace(vpc, flow_logs=tuple(result))


def _flow_log(ctx: Ctx, node: Node, path: str, vpc: Vpc) -> FlowLog | None:
    view = ctx.mapping(node, path)
    if view is None:
        return None
    issues_before = len(ctx.issues)
    view.check_keys(FLOW_LOG_KEYS, required=("name", "resource"))
    name = None
    name_node = view.get("name")
    if name_node is not None:
        text = ctx.text(name_node, view.path_of("name"), "a flow log name")
        if text is not None and names.name(ctx, text, name_node, view.path_of("name"), "flow log"):
            name = text
    resource = None
    res_node = view.get("resource")
    if res_node is not None:
        resource = _resource(ctx, res_node, view.path_of("resource"), vpc)
    fmt = ""
    fmt_node = view.get("format")
    if fmt_node is not None:
        text = ctx.text(fmt_node, view.path_of("format"), "fields like ${version} ${srcaddr}")
        if text is not None:
            try:
                parse_format(text)
                fmt = text
            except FormatError as e:
                ctx.error(view.path_of("format"), fmt_node, f"{e}")
    interval = 600
    int_node = view.get("max_aggregation_interval")
    if int_node is not None:
        value = ctx.integer(int_node, view.path_of("max_aggregation_interval"), 1, 600)
        if value is not None and value not in INTERVALS:
            ctx.error(
                view.path_of("max_aggregation_interval"),
                int_node,
                f"AWS takes 60 or 600 seconds, not {value}; for faster records in tests set "
                "settings.flow_log_interval (the emulator's window, 10 s by default)",
            )
        elif value is not None:
            interval = value
    if len(ctx.issues) > issues_before or name is None or resource is None:
        return None
    return FlowLog(name, resource, fmt, interval)


def _resource(ctx: Ctx, node: Node, path: str, vpc: Vpc) -> str | None:
    text = ctx.text(node, path, "vpc, subnet/<subnet> or host/<host>")
    if text is None:
        return None
    known = refs.substrate_known(vpc)
    if text == VPC_RESOURCE:
        return text
    if text.startswith(SUBNET_PREFIX):
        subnet = text[len(SUBNET_PREFIX) :]
        if known and subnet not in vpc.subnets:
            ctx.error(
                path,
                node,
                f"no subnet {subnet!r} in VPC {vpc.name!r}{did_you_mean(subnet, vpc.subnets)}",
            )
            return None
        return text
    if text.startswith(HOST_PREFIX):
        host = text[len(HOST_PREFIX) :]
        if known and host not in vpc.hosts:
            ctx.error(
                path, node, f"no host {host!r} in VPC {vpc.name!r}{did_you_mean(host, vpc.hosts)}"
            )
            return None
        return text
    ctx.error(path, node, f"resource {text!r} is not vpc, subnet/<subnet> or host/<host>")
    return None


def _subnets_of(vpc: Vpc, resource: str) -> set[str] | None:
    """Subnets a resource covers entirely (None: the whole VPC)."""
    if resource == VPC_RESOURCE:
        return None
    if resource.startswith(SUBNET_PREFIX):
        return {resource[len(SUBNET_PREFIX) :]}
    return set()


def _overlap(vpc: Vpc, a: FlowLog, b: FlowLog) -> bool:
    if a.resource == b.resource or VPC_RESOURCE in (a.resource, b.resource):
        return True

    def subnet(log: FlowLog) -> str | None:
        if log.resource.startswith(SUBNET_PREFIX):
            return log.resource[len(SUBNET_PREFIX) :]
        host = vpc.hosts.get(log.resource[len(HOST_PREFIX) :])
        return host.subnet if host else None

    kinds = {a.resource.split("/")[0], b.resource.split("/")[0]}
    return kinds == {"subnet", "host"} and subnet(a) == subnet(b)
