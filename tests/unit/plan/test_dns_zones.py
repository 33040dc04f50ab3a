"""Which names each VPC's Amazon DNS server answers (plans built by hand).

Topology:

    VPC consumer 10.0.0.0/16 (111122223333), subnets a (us-east-1a), b (us-east-1b)
      client 10.0.1.10
      endpoint "orders"  -> provider's service, private DNS orders.example.com,
                            ENIs 10.0.1.60 / 10.0.2.60, state pendingAcceptance
      endpoint "api"     -> execute-api, private DNS on, ENIs 10.0.1.70 / 10.0.2.70
    VPC provider 10.0.0.0/16 (overlapping, 444455556666), subnets a, b
      app  10.0.1.10 (same address as client), app2 10.0.2.20
      NLB "svc" ENIs 10.0.1.50 / 10.0.2.50 behind endpoint service "svc"
      endpoint "api-nodns" -> execute-api, private DNS off, ENI 10.0.1.80, rejected
"""

from __future__ import annotations

from typing import Literal

import pytest

from hyperplane_emu.plan.dns import (
    Zone,
    ZoneFormatError,
    reverse_name,
    reverse_to_ip,
    zone_from_json,
    zone_to_json,
    zones,
)
from hyperplane_emu.plan.model import (
    Plan,
    PlanEndpoint,
    PlanEndpointService,
    PlanEni,
    PlanHost,
    PlanLoadBalancer,
    PlanRoute,
    PlanSettings,
    PlanSubnet,
    PlanVpc,
)

REGION = "us-east-1"
NLB_DNS = "svc-0123456789abcdef.elb.us-east-1.amazonaws.com"
ORDERS_REGIONAL = "vpce-0aaa01-1bbbbbbb.vpce-svc-0ccc01.us-east-1.vpce.amazonaws.com"
ORDERS_ZONAL_A = "vpce-0aaa01-1bbbbbbb-us-east-1a.vpce-svc-0ccc01.us-east-1.vpce.amazonaws.com"
ORDERS_ZONAL_B = "vpce-0aaa01-1bbbbbbb-us-east-1b.vpce-svc-0ccc01.us-east-1.vpce.amazonaws.com"
API_REGIONAL = "vpce-0ddd0000000000001-2eeeeeee.execute-api.us-east-1.vpce.amazonaws.com"
API_ZONAL_B = "vpce-0ddd0000000000001-2eeeeeee-us-east-1b.execute-api.us-east-1.vpce.amazonaws.com"
NODNS_REGIONAL = "vpce-0fff0000000000001-3aaaaaaa.execute-api.us-east-1.vpce.amazonaws.com"

_eni_counter = [0]


def _eni(
    kind: Literal["host", "nlb", "vpce"], owner: str, vpc: str, subnet: str, ip: str
) -> PlanEni:
    _eni_counter[0] += 1
    n = _eni_counter[0]
    az = {"a": "us-east-1a", "b": "us-east-1b"}[subnet]
    return PlanEni(
        id=f"eni-{n:017x}",
        kind=kind,
        owner=owner,
        description="",
        vpc=vpc,
        subnet=subnet,
        az=az,
        ip=ip,
        prefixlen=24,
        mac=f"02:00:00:00:00:{n:02x}",
        fabric_mac=f"02:fa:00:00:00:{n:02x}",
        security_groups=(),
        source_dest_check=True,
        mtu=9001,
        namespace=f"he-tdns-{owner}" if kind == "host" else "",
        ifname="eth0" if kind == "host" else "",
        fabric_ifname=f"he-tdns-f{n}" if kind == "host" else "",
        port=n if kind == "host" else -1,
    )


def _vpc(name: str, account: str) -> PlanVpc:
    return PlanVpc(
        id=f"vpc-{name}",
        name=name,
        account_id=account,
        cidr="10.0.0.0/16",
        dns_ip="10.0.0.2",
        subnets={
            s: PlanSubnet(
                f"subnet-{name}-{s}", s, name, f"10.0.{i}.0/24", f"us-east-1{s}", f"10.0.{i}.1"
            )
            for i, s in ((1, "a"), (2, "b"))
        },
        security_groups={},
        routes=(PlanRoute("10.0.0.0/16", "local"),),
    )


def _host(name: str, vpc: str, eni: PlanEni) -> PlanHost:
    return PlanHost(
        name=name,
        vpc=vpc,
        subnet=eni.subnet,
        namespace=f"he-tdns-{name}",
        hostname="ip-" + eni.ip.replace(".", "-") + ".ec2.internal",
        enis=(eni.id,),
        gateway="10.0.1.1",
        resolv_conf="nameserver 10.0.0.2\n",
    )


def _endpoint(
    name: str,
    vpc: str,
    service: str,
    enis: tuple[PlanEni, ...],
    dns_names: tuple[str, ...],
    private_dns: bool,
    private_dns_names: tuple[str, ...] = (),
    state: Literal["available", "pendingAcceptance", "rejected"] = "available",
) -> PlanEndpoint:
    return PlanEndpoint(
        key=f"{vpc}/{name}",
        id=f"vpce-{name}",
        name=name,
        vpc=vpc,
        account_id="111122223333",
        service=service,
        service_name="com.amazonaws.us-east-1.execute-api" if service == "execute-api" else "svc",
        subnets=tuple(e.subnet for e in enis),
        security_groups=(),
        enis=tuple(e.id for e in enis),
        dns_names=dns_names,
        private_dns=private_dns,
        private_dns_names=private_dns_names,
        state=state,
    )


def make_plan(reverse: bool = False) -> Plan:
    """The module's topology; `reverse` inserts every dict entry in the opposite order."""
    _eni_counter[0] = 0
    client = _eni("host", "client", "consumer", "a", "10.0.1.10")
    app = _eni("host", "app", "provider", "a", "10.0.1.10")
    app2 = _eni("host", "app2", "provider", "b", "10.0.2.20")
    nlb = (
        _eni("nlb", "svc", "provider", "a", "10.0.1.50"),
        _eni("nlb", "svc", "provider", "b", "10.0.2.50"),
    )
    orders = (
        _eni("vpce", "orders", "consumer", "a", "10.0.1.60"),
        _eni("vpce", "orders", "consumer", "b", "10.0.2.60"),
    )
    api = (
        _eni("vpce", "api", "consumer", "a", "10.0.1.70"),
        _eni("vpce", "api", "consumer", "b", "10.0.2.70"),
    )
    nodns = (_eni("vpce", "api-nodns", "provider", "a", "10.0.1.80"),)
    API_ZONAL_A = API_ZONAL_B.replace("us-east-1b.", "us-east-1a.")

    def ordered(d: dict[str, object]) -> dict[str, object]:
        return dict(reversed(d.items())) if reverse else d

    vpcs = ordered(
        {"consumer": _vpc("consumer", "111122223333"), "provider": _vpc("provider", "444455556666")}
    )
    hosts = ordered(
        {
            "client": _host("client", "consumer", client),
            "app": _host("app", "provider", app),
            "app2": _host("app2", "provider", app2),
        }
    )
    lb = PlanLoadBalancer(
        key="provider/svc",
        name="svc",
        id="0123456789abcdef",
        arn="arn:aws:elasticloadbalancing:us-east-1:444455556666:loadbalancer/net/svc/0123456789abcdef",
        vpc="provider",
        scheme="internal",
        dns_name=NLB_DNS,
        cross_zone=False,
        enis=tuple(e.id for e in nlb),
        listeners=(),
        target_groups={},
    )
    service = PlanEndpointService(
        key="provider/svc",
        id="vpce-svc-0ccc01",
        name="svc",
        service_name="com.amazonaws.vpce.us-east-1.vpce-svc-0ccc01",
        vpc="provider",
        account_id="444455556666",
        load_balancer="provider/svc",
        acceptance_required=True,
        allowed_principals=(),
        private_dns_name="orders.example.com",
    )
    endpoints = ordered(
        {
            "consumer/orders": _endpoint(
                "orders",
                "consumer",
                "provider/svc",
                orders,
                (ORDERS_REGIONAL, ORDERS_ZONAL_A, ORDERS_ZONAL_B),
                True,
                ("Orders.Example.com",),
                state="pendingAcceptance",
            ),
            "consumer/api": _endpoint(
                "api",
                "consumer",
                "execute-api",
                api,
                (API_REGIONAL, API_ZONAL_A, API_ZONAL_B),
                True,
            ),
            "provider/api-nodns": _endpoint(
                "api-nodns",
                "provider",
                "execute-api",
                nodns,
                (NODNS_REGIONAL,),
                False,
                ("*.execute-api.us-east-1.amazonaws.com",),
                state="rejected",
            ),
        }
    )
    enis = (client, app, app2, *nlb, *orders, *api, *nodns)
    return Plan(
        version=1,
        name="tdns",
        region=REGION,
        accounts={"consumer": "111122223333", "provider": "444455556666"},
        prefix="he-tdns-",
        fabric_namespace="he-tdns-fabric",
        vpcs=vpcs,  # type: ignore[arg-type]
        hosts=hosts,  # type: ignore[arg-type]
        enis=tuple(reversed(enis)) if reverse else enis,
        settings=PlanSettings(conntrack_max=1024, flow_log_interval=60, mtu=9001),
        load_balancers={lb.key: lb},
        endpoint_services={service.key: service},
        endpoints=endpoints,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def zs() -> dict[str, Zone]:
    return zones(make_plan())


def test_one_zone_per_vpc(zs: dict[str, Zone]) -> None:
    assert sorted(zs) == ["consumer", "provider"]


def test_instance_hostnames_resolve_only_in_their_own_vpc(zs: dict[str, Zone]) -> None:
    consumer, provider = zs["consumer"], zs["provider"]
    # The same address (and so the same IP-based name) exists in both VPCs:
    # each resolver answers with its own instance.
    assert consumer.lookup("ip-10-0-1-10.ec2.internal") == ("10.0.1.10",)
    assert provider.lookup("ip-10-0-1-10.ec2.internal") == ("10.0.1.10",)
    assert provider.lookup("ip-10-0-2-20.ec2.internal") == ("10.0.2.20",)
    assert consumer.lookup("ip-10-0-2-20.ec2.internal") is None  # NXDOMAIN there
    assert consumer.ptr == {"10.0.1.10": "ip-10-0-1-10.ec2.internal"}
    assert provider.ptr == {
        "10.0.1.10": "ip-10-0-1-10.ec2.internal",
        "10.0.2.20": "ip-10-0-2-20.ec2.internal",
    }


def test_nlb_name_is_public_and_has_zonal_names(zs: dict[str, Zone]) -> None:
    for zone in zs.values():
        assert zone.lookup(NLB_DNS) == ("10.0.1.50", "10.0.2.50")
        assert zone.lookup("us-east-1a." + NLB_DNS) == ("10.0.1.50",)
        assert zone.lookup("us-east-1b." + NLB_DNS) == ("10.0.2.50",)
        assert zone.lookup("us-east-1c." + NLB_DNS) is None


def test_endpoint_regional_and_zonal_names_are_public(zs: dict[str, Zone]) -> None:
    for zone in zs.values():
        assert zone.lookup(ORDERS_REGIONAL) == ("10.0.1.60", "10.0.2.60")
        assert zone.lookup(ORDERS_ZONAL_A) == ("10.0.1.60",)
        assert zone.lookup(ORDERS_ZONAL_B) == ("10.0.2.60",)
        assert zone.lookup(API_REGIONAL) == ("10.0.1.70", "10.0.2.70")
        assert zone.lookup(API_ZONAL_B) == ("10.0.2.70",)
        # A rejected endpoint still resolves: DNS is not gated by the connection state.
        assert zone.lookup(NODNS_REGIONAL) == ("10.0.1.80",)


def test_private_dns_name_only_in_the_endpoint_vpc(zs: dict[str, Zone]) -> None:
    # pendingAcceptance does not stop the name from resolving either.
    assert zs["consumer"].lookup("orders.example.com") == ("10.0.1.60", "10.0.2.60")
    assert zs["provider"].lookup("orders.example.com") is None
    assert "orders.example.com" in zs["consumer"].a  # stored lower-case


def test_execute_api_private_dns_catches_every_api_hostname(zs: dict[str, Zone]) -> None:
    consumer, provider = zs["consumer"], zs["provider"]
    assert consumer.wildcards == {"execute-api.us-east-1.amazonaws.com": ("10.0.1.70", "10.0.2.70")}
    assert consumer.lookup("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com") == (
        "10.0.1.70",
        "10.0.2.70",
    )
    assert consumer.lookup("x.y.execute-api.us-east-1.amazonaws.com") == ("10.0.1.70", "10.0.2.70")
    assert consumer.lookup("execute-api.us-east-1.amazonaws.com") is None  # the suffix itself
    assert consumer.lookup("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com") is None
    # private DNS off: no wildcard, even though the names are listed.
    assert provider.wildcards == {}
    assert provider.lookup("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com") is None


def test_no_stray_names(zs: dict[str, Zone]) -> None:
    public = {
        NLB_DNS,
        "us-east-1a." + NLB_DNS,
        "us-east-1b." + NLB_DNS,
        ORDERS_REGIONAL,
        ORDERS_ZONAL_A,
        ORDERS_ZONAL_B,
        API_REGIONAL,
        API_ZONAL_B.replace("us-east-1b.", "us-east-1a."),
        API_ZONAL_B,
        NODNS_REGIONAL,
    }
    assert set(zs["consumer"].a) == public | {"ip-10-0-1-10.ec2.internal", "orders.example.com"}
    assert set(zs["provider"].a) == public | {
        "ip-10-0-1-10.ec2.internal",
        "ip-10-0-2-20.ec2.internal",
    }


def test_lookup_is_case_insensitive_and_ignores_the_root_dot(zs: dict[str, Zone]) -> None:
    assert zs["consumer"].lookup("IP-10-0-1-10.EC2.Internal.") == ("10.0.1.10",)
    assert zs["consumer"].lookup("ABC.Execute-Api.us-east-1.amazonaws.com.") == (
        "10.0.1.70",
        "10.0.2.70",
    )


def test_exact_record_wins_over_wildcard_and_longest_wildcard_wins() -> None:
    zone = Zone(
        a={"special.example.com": ("192.0.2.1",)},
        wildcards={"example.com": ("192.0.2.2",), "deep.example.com": ("192.0.2.3",)},
    )
    assert zone.lookup("special.example.com") == ("192.0.2.1",)
    assert zone.lookup("other.example.com") == ("192.0.2.2",)
    assert zone.lookup("x.deep.example.com") == ("192.0.2.3",)
    assert zone.lookup("deep.example.com") == ("192.0.2.2",)


def test_zone_json_is_deterministic_and_round_trips() -> None:
    first = {k: zone_to_json(z) for k, z in zones(make_plan()).items()}
    again = {k: zone_to_json(z) for k, z in zones(make_plan(reverse=True)).items()}
    assert first == again  # insertion order of the plan does not leak into the file
    for name, text in first.items():
        zone = zone_from_json(text)
        assert zone == zones(make_plan())[name]
        assert zone_to_json(zone) == text


def test_addresses_are_in_numeric_order() -> None:
    zone = zone_from_json(
        '{"format": 1, "a": {"x.example": ["10.0.10.1", "10.0.9.1"]}, "wildcards": {}, "ptr": {}}'
    )
    assert zone.a["x.example"] == ("10.0.10.1", "10.0.9.1")  # the file's order is kept
    built = zones(make_plan())["consumer"]
    for ips in (*built.a.values(), *built.wildcards.values()):
        assert list(ips) == sorted(ips, key=lambda ip: tuple(int(o) for o in ip.split(".")))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"format": 2, "a": {}, "wildcards": {}, "ptr": {}}',
        '{"format": 1, "a": {"x": ["10.0.0.300"]}, "wildcards": {}, "ptr": {}}',
        '{"format": 1, "a": {"x": "10.0.0.1"}, "wildcards": {}, "ptr": {}}',
        '{"format": 1, "a": {}, "wildcards": {}, "ptr": {"nope": "x"}}',
    ],
)
def test_bad_zone_files_are_refused(text: str) -> None:
    with pytest.raises(ZoneFormatError):
        zone_from_json(text)


def test_reverse_names() -> None:
    assert reverse_name("10.0.1.5") == "5.1.0.10.in-addr.arpa"
    assert reverse_to_ip("5.1.0.10.IN-ADDR.ARPA.") == "10.0.1.5"
    assert reverse_to_ip("1.0.10.in-addr.arpa") is None
    assert reverse_to_ip("x.1.0.10.in-addr.arpa") is None
    assert reverse_to_ip("ip-10-0-1-5.ec2.internal") is None
    zone = Zone(ptr={"10.0.1.5": "ip-10-0-1-5.ec2.internal"})
    assert zone.lookup_ptr("5.1.0.10.in-addr.arpa.") == "ip-10-0-1-5.ec2.internal"
    assert zone.lookup_ptr("6.1.0.10.in-addr.arpa") is None


def test_zonal_names_without_an_az_in_them_pair_by_position() -> None:
    plan = make_plan()
    ep = plan.endpoints["consumer/orders"]
    renamed = PlanEndpoint(
        **{**ep.__dict__, "dns_names": ("r.example", "z1.example", "z2.example")}
    )
    plan.endpoints["consumer/orders"] = renamed
    zone = zones(plan)["consumer"]
    assert zone.lookup("z1.example") == ("10.0.1.60",)
    assert zone.lookup("z2.example") == ("10.0.2.60",)
