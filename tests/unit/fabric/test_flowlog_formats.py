"""Flow-log custom formats, v3-v5 fields, tcp-flags, NODATA/SKIPDATA (fabric/flowlog.py)."""

from __future__ import annotations

import ipaddress

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric.events import FiveTuple
from hyperplane_emu.fabric.flowlog import (
    ACCEPT,
    REJECT,
    EniMeta,
    FlowLogger,
    FormatError,
    PacketExtra,
    az_id,
    eni_meta,
    fields_of,
    flow_log_setup,
    format_version,
    parse_format,
    record_flags,
    reformat,
)

ENI = "eni-0aaaaaaaaaaaaaaaa"
A = int(ipaddress.IPv4Address("10.0.1.10"))
B = int(ipaddress.IPv4Address("10.0.2.20"))
OUT = int(ipaddress.IPv4Address("192.0.2.1"))
META = EniMeta(
    account_id="111122223333",
    vpc_id="vpc-0bbbbbbbbbbbbbbbb",
    subnet_id="subnet-0ccccccccccccccc",
    instance_id="i-0ddddddddddddddddd",
    az_id="use1-az1",
    region="us-east-1",
    ip=A,
    vpc_net=int(ipaddress.IPv4Address("10.0.0.0")),
    vpc_mask=int(ipaddress.IPv4Address("255.255.0.0")),
)
CUSTOM = (
    "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${tcp-flags} ${type} "
    "${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${sublocation-type} ${flow-direction} "
    "${traffic-path} ${pkt-src-aws-service} ${action} ${log-status}"
)


def logger(fmt: str = CUSTOM, nodata: tuple[str, ...] = (), **kw: object) -> FlowLogger:
    return FlowLogger(
        60,
        {},
        {ENI: parse_format(fmt)},
        meta={ENI: META},
        nodata=nodata,
        **kw,  # type: ignore[arg-type]
    )


def test_parse_format_and_version_is_the_highest_field_version() -> None:
    assert parse_format("${srcaddr} ${dstaddr}") == ("srcaddr", "dstaddr")
    assert format_version(parse_format("${srcaddr} ${dstaddr}")) == 2
    assert format_version(parse_format("${srcaddr} ${tcp-flags}")) == 3
    assert format_version(parse_format("${az-id}")) == 4
    assert format_version(parse_format(CUSTOM)) == 5
    assert fields_of("v2")[0] == "version" and fields_of("${type}") == ("type",)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("${srcadr}", "not a flow log field"),
        ("${srcaddr}  ${dstaddr}", "single spaces"),
        ("srcaddr", "not a field"),
        ("${srcaddr} ${srcaddr}", "twice"),
        ("${ecs-task-id}", "ECS"),
        ("${reject-reason}", "not emulated"),
    ],
)
def test_bad_formats(text: str, why: str) -> None:
    with pytest.raises(FormatError, match=why):
        parse_format(text)


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        (0x02, 2),  # SYN
        (0x12, 18),  # SYN-ACK
        (0x10, 0),  # ACK alone: not logged
        (0x18, 0),  # PSH-ACK: not logged
        (0x11, 1),  # FIN-ACK: the FIN
        (0x04, 4),  # RST
        (0x14, 4),  # RST-ACK
    ],
)
def test_record_flags_as_aws_logs_them(raw: int, logged: int) -> None:
    assert record_flags(raw) == logged


def test_custom_format_record_fields() -> None:
    fl = logger()
    ft = FiveTuple(6, A, B, 40000, 80)
    fl.add(ENI, ACCEPT, ft, 60, 5.0, tcp_flags=0x02)  # SYN
    fl.add(ENI, ACCEPT, ft, 52, 6.0, tcp_flags=0x10)  # ACK
    fl.add(ENI, ACCEPT, ft, 52, 7.0, tcp_flags=0x11)  # FIN-ACK
    (rec,) = fl.flush(60.0, [])
    assert rec.line.split(" ") == [
        "5",
        "vpc-0bbbbbbbbbbbbbbbb",
        "subnet-0ccccccccccccccc",
        "i-0ddddddddddddddddd",
        ENI,
        "3",  # SYN | FIN, ORed over the window
        "IPv4",
        "10.0.1.10",
        "10.0.2.20",
        "us-east-1",
        "use1-az1",
        "-",
        "egress",
        "1",  # to another resource of the same VPC
        "-",
        "ACCEPT",
        "OK",
    ]


def test_ingress_has_no_traffic_path_and_syn_ack_is_18() -> None:
    fl = logger("${flow-direction} ${traffic-path} ${tcp-flags}")
    fl.add(ENI, ACCEPT, FiveTuple(6, B, A, 80, 40000), 60, 5.0, tcp_flags=0x12)
    assert [r.line for r in fl.flush(60.0, [])] == ["ingress - 18"]


def test_non_tcp_has_tcp_flags_zero() -> None:
    fl = logger("${protocol} ${tcp-flags}")
    fl.add(ENI, ACCEPT, FiveTuple(17, A, B, 5353, 53), 60, 5.0, tcp_flags=0x02)
    assert [r.line for r in fl.flush(60.0, [])] == ["17 0"]


def test_pkt_addresses_and_traffic_path_from_the_packet_walk() -> None:
    """A record the walk marks: pkt-srcaddr is the packet's own source, srcaddr the ENI's."""
    fl = logger("${srcaddr} ${pkt-srcaddr} ${dstaddr} ${pkt-dstaddr} ${traffic-path}")
    extra = PacketExtra(pkt_src=OUT, traffic_path="2")
    fl.add(ENI, ACCEPT, FiveTuple(6, A, OUT, 40000, 443), 60, 5.0, extra=extra)
    fl.add(ENI, ACCEPT, FiveTuple(6, A, OUT, 40000, 443), 60, 6.0)  # another record
    lines = sorted(r.line for r in fl.flush(60.0, []))
    assert lines == sorted(
        [
            "10.0.1.10 192.0.2.1 192.0.2.1 192.0.2.1 2",
            "10.0.1.10 10.0.1.10 192.0.2.1 192.0.2.1 -",  # outside the VPC, path unknown
        ]
    )


def test_nodata_for_a_logged_eni_that_saw_nothing() -> None:
    fl = logger(
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "
        "${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} "
        "${log-status}",
        nodata=(ENI,),
        clock_start=1431280876.0,
    )
    (rec,) = fl.flush(1431280936.0, [])
    # AWS's own example shape: identity, eight dashes, the window, "-", NODATA.
    assert rec.line == f"2 111122223333 {ENI} - - - - - - - 1431280876 1431280936 - NODATA"
    fl.add(ENI, REJECT, FiveTuple(6, B, A, 1, 22), 60, 1431280940.0)
    (rec,) = fl.flush(1431280996.0, [])
    assert rec.line.endswith("REJECT OK")


def test_skipdata_when_records_are_lost_to_capacity() -> None:
    fl = FlowLogger(60, {ENI: "111122223333"}, meta={ENI: META}, max_pending=1)
    fl.add(ENI, REJECT, FiveTuple(6, B, A, 1, 22), 60, 1.0)
    fl.add(ENI, REJECT, FiveTuple(6, B, A, 2, 22), 60, 2.0)  # no room: skipped
    fl.add(ENI, REJECT, FiveTuple(6, B, A, 3, 22), 60, 3.0)
    recs = [r.line for r in fl.flush(60.0, [])]
    assert fl.skipped == 2
    assert recs[-1] == f"2 111122223333 {ENI} - - - - - - - 0 60 - SKIPDATA"
    assert len(recs) == 2
    assert [r.line for r in fl.flush(120.0, [])] == []  # no NODATA without a flow log


def test_az_id_shape() -> None:
    assert az_id("us-east-1a") == "use1-az1"
    assert az_id("eu-west-2c") == "euw2-az3"
    assert az_id("ap-southeast-1b") == "apse1-az2"


TOPO = """
name: fl
region: us-east-1
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    hosts:
      app1: {subnet: a}
      app2: {subnet: b}
    flow_logs:
      - name: detail
        resource: host/app1
        format: "${version} ${interface-id} ${tcp-flags} ${flow-direction}"
        max_aggregation_interval: 60
      - {name: subnet-b, resource: subnet/b}
"""


def test_topology_flow_logs_reach_the_logger_setup() -> None:
    p = plan.build(spec.loads(TOPO))
    logs = p.vpcs["v"].flow_logs
    assert [(x.name, x.resource_type, x.resource) for x in logs] == [
        ("detail", "NetworkInterface", "app1"),
        ("subnet-b", "Subnet", "b"),
    ]
    assert logs[0].id.startswith("fl-") and logs[1].log_format.startswith(
        "${version} ${account-id}"
    )
    assert logs[1].max_aggregation_interval == 600
    formats, nodata, window = flow_log_setup(p)
    app1 = p.hosts["app1"].enis[0]
    app2 = p.hosts["app2"].enis[0]
    assert formats[app1] == ("version", "interface-id", "tcp-flags", "flow-direction")
    assert formats[app2][:3] == ("version", "account-id", "interface-id")
    assert {app1, app2} <= nodata
    assert window == 10.0  # settings.flow_log_interval is shorter than 60
    meta = eni_meta(p)[app1]
    assert meta.vpc_id == p.vpcs["v"].id and meta.subnet_id == p.vpcs["v"].subnets["a"].id
    assert meta.instance_id.startswith("i-") and meta.az_id == "use1-az1"


def test_reformat_a_v2_record_into_a_custom_format() -> None:
    from hyperplane_emu.fabric.flowlog import V2_FIELDS

    v2 = f"2 111122223333 {ENI} 10.0.1.10 10.0.2.20 40000 80 6 3 180 5 7 ACCEPT OK"
    target = parse_format(
        "${version} ${vpc-id} ${instance-id} ${srcaddr} ${pkt-dstaddr} ${tcp-flags} "
        "${flow-direction} ${traffic-path} ${type} ${action}"
    )
    assert reformat(v2, V2_FIELDS, target, META) == (
        "5 vpc-0bbbbbbbbbbbbbbbb i-0ddddddddddddddddd 10.0.1.10 10.0.2.20 - egress 1 IPv4 ACCEPT"
    )
    nodata = f"2 111122223333 {ENI} - - - - - - - 10 70 - NODATA"
    assert reformat(
        nodata, V2_FIELDS, parse_format("${vpc-id} ${srcaddr} ${log-status}"), META
    ) == ("vpc-0bbbbbbbbbbbbbbbb - NODATA")


def test_cli_format_bad_is_a_usage_error_exit_2() -> None:
    from click.testing import CliRunner

    from hyperplane_emu.cli import flowlogs
    from hyperplane_emu.cli.main import main

    with pytest.raises(flowlogs.BadFormat):
        flowlogs.target_fields("${srcadr}")
    assert flowlogs.target_fields(None) is None
    import os

    if os.geteuid() == 0:
        result = CliRunner().invoke(main, ["flow-logs", "nosuch", "--format", "${srcadr}"])
        assert result.exit_code == 2 and "srcadr" in result.output


def test_cli_emit_prints_the_target_fields(capsys: pytest.CaptureFixture[str]) -> None:
    from hyperplane_emu.cli.flowlogs import _emit
    from hyperplane_emu.fabric.flowlog import V2_FIELDS

    v2 = f"2 111122223333 {ENI} 10.0.1.10 10.0.2.20 40000 80 6 3 180 5 7 ACCEPT OK"
    _emit(v2, False, V2_FIELDS, parse_format("${interface-id} ${vpc-id}"), META)
    _emit(v2, True, V2_FIELDS, parse_format("${interface-id} ${az-id}"), META)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{ENI} vpc-0bbbbbbbbbbbbbbbb"
    assert out[1] == '{"interface-id": "' + ENI + '", "az-id": "use1-az1"}'


def test_pkt_addresses_differ_only_on_an_interface_carrying_packets_not_its_own() -> None:
    """AWS: srcaddr is the interface's own address for outgoing traffic, dstaddr for
    incoming; pkt-* are the packet's. An NLB node with client IP preservation sends
    client -> target through its interface: srcaddr = node, pkt-srcaddr = client."""
    from hyperplane_emu.fabric.conntrack import FlowHalf
    from hyperplane_emu.fabric.flowlog import _pass_through

    node, client, target = A, OUT, B
    forward = FlowHalf.__new__(FlowHalf)
    forward.is_reply = False
    reply = FlowHalf.__new__(FlowHalf)
    reply.is_reply = True
    own = FiveTuple(6, client, node, 40000, 80)
    assert _pass_through(node, forward, own) == (own, None)  # its own: no difference
    assert _pass_through(-1, forward, own) == (own, None)  # no address known
    ft, extra = _pass_through(node, forward, FiveTuple(6, client, target, 40000, 8080))
    assert (ft.src, ft.dst) == (node, target) and extra == PacketExtra(pkt_src=client)
    ft, extra = _pass_through(node, reply, FiveTuple(6, target, client, 8080, 40000))
    assert (ft.src, ft.dst) == (target, node) and extra == PacketExtra(pkt_dst=client)
