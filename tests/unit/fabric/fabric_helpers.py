"""A tiny Plan factory for fabric tests (no YAML: the plan builder is another layer).

Default topology ("he-tfab"):

    VPC customer 10.0.0.0/16 (account 111122223333)
      subnet a 10.0.1.0/24, subnet b 10.0.2.0/24
      client  10.0.1.10  port 0  sg default
      app1    10.0.1.11  port 1  sg app
      app2    10.0.2.10  port 2  sg app
    VPC other 10.0.0.0/16 (overlapping, account 444455556666)
      subnet a 10.0.1.0/24
      ghost   10.0.1.10  port 3  sg default (other)
      ghost2  10.0.1.11  port 4  sg default (other)

Groups: ``default`` (ingress from itself, all egress), ``app`` (tcp 8080 from
10.0.0.0/16, udp 5000-5010 from sg default, icmp from 10.0.0.0/16, all egress).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import DropEvent
from hyperplane_emu.plan.model import (
    Plan,
    PlanEni,
    PlanRoute,
    PlanSecurityGroup,
    PlanSettings,
    PlanSgRule,
    PlanSubnet,
    PlanVpc,
)

Rule = tuple[str, str, int, int, int, str]  # (direction, kind "cidr"/"sg", proto, lo, hi, peer)

_counter = [0]


def rule(
    direction: str, proto: int | str, ports: int | tuple[int, int] | None, peer: str
) -> PlanSgRule:
    """``rule("ingress", "tcp", 8080, "10.0.0.0/16")``; peer ``sg-…`` = SG reference."""
    protos = {"tcp": 6, "udp": 17, "icmp": 1, "all": -1}
    p = protos[proto] if isinstance(proto, str) else proto
    if ports is None:
        lo, hi = -1, -1
    elif isinstance(ports, int):
        lo = hi = ports
    else:
        lo, hi = ports
    _counter[0] += 1
    rid = f"sgr-{_counter[0]:017x}"
    d: Literal["ingress", "egress"] = "ingress" if direction == "ingress" else "egress"
    if peer.startswith("sg-"):
        return PlanSgRule(rid, d, p, lo, hi, None, peer)
    return PlanSgRule(rid, d, p, lo, hi, peer, None)


def sg(
    sg_id: str, vpc: str, rules: Iterable[PlanSgRule], name: str | None = None
) -> PlanSecurityGroup:
    return PlanSecurityGroup(sg_id, name or sg_id, vpc, "", tuple(rules))


SG_DEFAULT = "sg-0def0000000000001"
SG_APP = "sg-0a990000000000001"
SG_OTHER_DEFAULT = "sg-0def0000000000002"
ALL_EGRESS = ("egress", "all", None, "0.0.0.0/0")


def default_groups() -> dict[str, PlanSecurityGroup]:
    return {
        "default": sg(
            SG_DEFAULT,
            "customer",
            [rule("ingress", "all", None, SG_DEFAULT), rule(*ALL_EGRESS)],
            "default",
        ),
        "app": sg(
            SG_APP,
            "customer",
            [
                rule("ingress", "tcp", 8080, "10.0.0.0/16"),
                rule("ingress", "udp", (5000, 5010), SG_DEFAULT),
                rule("ingress", "icmp", None, "10.0.0.0/16"),
                rule(*ALL_EGRESS),
            ],
            "app",
        ),
    }


def mac(n: int) -> str:
    return f"02:00:00:00:00:{n:02x}"


def fmac(n: int) -> str:
    return f"02:fa:00:00:00:{n:02x}"


def _eni(
    n: int, owner: str, vpc: str, subnet: str, ip: str, sgs: tuple[str, ...], sdc: bool = True
) -> PlanEni:
    return PlanEni(
        id=f"eni-{n:017x}",
        kind="host",
        owner=owner,
        description="",
        vpc=vpc,
        subnet=subnet,
        az="us-east-1a",
        ip=ip,
        prefixlen=24,
        mac=mac(n),
        fabric_mac=fmac(n),
        security_groups=sgs,
        source_dest_check=sdc,
        mtu=9001,
        namespace=f"he-tfab-{owner}",
        ifname="eth0",
        fabric_ifname=f"he-tfab-f{n}",
        port=n,
    )


def make_plan(
    groups: dict[str, PlanSecurityGroup] | None = None,
    *,
    conntrack_max: int = 1024,
    flow_log_interval: int = 60,
    sdc: dict[str, bool] | None = None,
    extra_routes: tuple[PlanRoute, ...] = (),
) -> Plan:
    groups = groups or default_groups()
    sdc = sdc or {}
    other_default = sg(
        SG_OTHER_DEFAULT,
        "other",
        [rule("ingress", "all", None, SG_OTHER_DEFAULT), rule(*ALL_EGRESS)],
        "default",
    )
    customer = PlanVpc(
        id="vpc-0c0000000000000001",
        name="customer",
        account_id="111122223333",
        cidr="10.0.0.0/16",
        dns_ip="10.0.0.2",
        subnets={
            "a": PlanSubnet("subnet-0a", "a", "customer", "10.0.1.0/24", "us-east-1a", "10.0.1.1"),
            "b": PlanSubnet("subnet-0b", "b", "customer", "10.0.2.0/24", "us-east-1b", "10.0.2.1"),
        },
        security_groups=groups,
        routes=(PlanRoute("10.0.0.0/16", "local"),) + extra_routes,
    )
    other = PlanVpc(
        id="vpc-0c0000000000000002",
        name="other",
        account_id="444455556666",
        cidr="10.0.0.0/16",
        dns_ip="10.0.0.2",
        subnets={
            "a": PlanSubnet("subnet-1a", "a", "other", "10.0.1.0/24", "us-east-1a", "10.0.1.1")
        },
        security_groups={"default": other_default},
        routes=(PlanRoute("10.0.0.0/16", "local"),),
    )
    enis = (
        _eni(0, "client", "customer", "a", "10.0.1.10", (SG_DEFAULT,), sdc.get("client", True)),
        _eni(1, "app1", "customer", "a", "10.0.1.11", (SG_APP,), sdc.get("app1", True)),
        _eni(2, "app2", "customer", "b", "10.0.2.10", (SG_APP,), sdc.get("app2", True)),
        _eni(3, "ghost", "other", "a", "10.0.1.10", (SG_OTHER_DEFAULT,), sdc.get("ghost", True)),
        _eni(4, "ghost2", "other", "a", "10.0.1.11", (SG_OTHER_DEFAULT,), sdc.get("ghost2", True)),
    )
    return Plan(
        version=1,
        name="tfab",
        region="us-east-1",
        accounts={"customer": "111122223333", "other": "444455556666"},
        prefix="he-tfab-",
        fabric_namespace="he-tfab-fabric",
        vpcs={"customer": customer, "other": other},
        hosts={},
        enis=enis,
        settings=PlanSettings(
            conntrack_max=conntrack_max, flow_log_interval=flow_log_interval, mtu=9001
        ),
    )


# Ports of the default topology
CLIENT, APP1, APP2, GHOST, GHOST2 = 0, 1, 2, 3, 4
IPS = {
    CLIENT: "10.0.1.10",
    APP1: "10.0.1.11",
    APP2: "10.0.2.10",
    GHOST: "10.0.1.10",
    GHOST2: "10.0.1.11",
}


def frame(
    src_port: int, dst_ip: str, l4: Any, *, src_ip: str | None = None, ttl: int = 64, **ip: Any
) -> bytes:
    """A frame as the host behind ``src_port`` sends it: to its router MAC."""
    pkt = (
        Ether(src=mac(src_port), dst=fmac(src_port))
        / IP(src=src_ip or IPS[src_port], dst=dst_ip, ttl=ttl, **ip)
        / l4
    )
    return bytes(pkt)


def tcp(sport: int, dport: int, flags: str = "S", payload: bytes = b"") -> Any:
    return (
        TCP(sport=sport, dport=dport, flags=flags) / payload
        if payload
        else TCP(sport=sport, dport=dport, flags=flags)
    )


def udp(sport: int, dport: int, payload: bytes = b"x") -> Any:
    return UDP(sport=sport, dport=dport) / payload


def ping(ident: int = 7, seq: int = 1, type_: int = 8) -> Any:
    return ICMP(type=type_, id=ident, seq=seq) / b"abcdefgh"


def drops(fab: Fabric) -> list[str]:
    return [e.reason for e in fab.events if isinstance(e, DropEvent)]


def with_groups(**changes: PlanSecurityGroup) -> dict[str, PlanSecurityGroup]:
    g = default_groups()
    g.update(changes)
    return g
