"""A two-host plan and its namespaces, built by hand (no YAML, no realize layer).

Used by `scripts/bench fabric` and the fabric daemon's end-to-end test, which
must not depend on the layers above the fabric: one VPC 10.0.0.0/16, subnet
a (client 10.0.1.10) and subnet b (server 10.0.2.10), the client's group
allows all egress, the server's group allows the given TCP/UDP ports and ICMP
from the VPC and all egress (tracked flows: the ingress peer is not 0.0.0.0/0).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from hyperplane_emu.plan import to_json
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

from .lab import Lab

CLIENT_IP = "10.0.1.10"
SERVER_IP = "10.0.2.10"
SG_CLIENT = "sg-0c11e470000000001"
SG_SERVER = "sg-05e7e7e7000000001"


def _rule(n: int, direction: str, proto: int, lo: int, hi: int, cidr: str) -> PlanSgRule:
    d = "ingress" if direction == "ingress" else "egress"
    return PlanSgRule(f"sgr-{n:017x}", d, proto, lo, hi, cidr, None)  # type: ignore[arg-type]


def server_group(tcp_ports: Iterable[int], udp_ports: Iterable[int] = ()) -> PlanSecurityGroup:
    rules = [
        _rule(1, "egress", -1, -1, -1, "0.0.0.0/0"),
        _rule(2, "ingress", 1, -1, -1, "10.0.0.0/16"),
    ]
    n = 3
    for p in tcp_ports:
        rules.append(_rule(n, "ingress", 6, p, p, "10.0.0.0/16"))
        n += 1
    for p in udp_ports:
        rules.append(_rule(n, "ingress", 17, p, p, "10.0.0.0/16"))
        n += 1
    return PlanSecurityGroup(SG_SERVER, "server", "main", "bench server", tuple(rules))


def two_host_plan(
    name: str, *, mtu: int = 9001, tcp_ports: Iterable[int] = (), udp_ports: Iterable[int] = ()
) -> Plan:
    prefix = f"he-{name}-"
    client_sg = PlanSecurityGroup(
        SG_CLIENT,
        "client",
        "main",
        "bench client",
        (_rule(100, "egress", -1, -1, -1, "0.0.0.0/0"),),
    )
    vpc = PlanVpc(
        id="vpc-0be4c400000000001",
        name="main",
        account_id="111122223333",
        cidr="10.0.0.0/16",
        dns_ip="10.0.0.2",
        subnets={
            "a": PlanSubnet(
                "subnet-0a000000000000001", "a", "main", "10.0.1.0/24", "us-east-1a", "10.0.1.1"
            ),
            "b": PlanSubnet(
                "subnet-0b000000000000001", "b", "main", "10.0.2.0/24", "us-east-1b", "10.0.2.1"
            ),
        },
        security_groups={"client": client_sg, "server": server_group(tcp_ports, udp_ports)},
        routes=(PlanRoute("10.0.0.0/16", "local"),),
    )

    def eni(n: int, owner: str, subnet: str, ip: str, sg: str) -> PlanEni:
        return PlanEni(
            id=f"eni-0be4c{n:012x}",
            kind="host",
            owner=owner,
            description=f"{owner} eth0",
            vpc="main",
            subnet=subnet,
            az=f"us-east-1{subnet}",
            ip=ip,
            prefixlen=24,
            mac=f"02:00:0a:00:00:{n:02x}",
            fabric_mac=f"02:fa:0a:00:00:{n:02x}",
            security_groups=(sg,),
            source_dest_check=True,
            mtu=mtu,
            namespace=f"{prefix}{owner}",
            ifname="eth0",
            fabric_ifname=f"{prefix}f{n}"[:15],
            port=n,
        )

    return Plan(
        version=1,
        name=name,
        region="us-east-1",
        accounts={"main": "111122223333"},
        prefix=prefix,
        fabric_namespace=f"{prefix}fabric",
        vpcs={"main": vpc},
        hosts={},
        enis=(
            eni(0, "client", "a", CLIENT_IP, SG_CLIENT),
            eni(1, "server", "b", SERVER_IP, SG_SERVER),
        ),
        settings=PlanSettings(conntrack_max=65536, flow_log_interval=60, mtu=mtu),
    )


def build(lab: Lab, plan: Plan) -> None:
    """Namespaces and veths for ``plan``: one per host ENI, fabric end in the fabric ns."""
    fabric = lab.netns(plan.fabric_namespace[len(lab.prefix) :])
    for e in plan.enis:
        host = lab.netns(e.namespace[len(lab.prefix) :])
        lab.sysctl(host, "net.ipv6.conf.all.disable_ipv6", "1")  # no IPv6 chatter in captures
        lab.veth(
            host, e.ifname, fabric, e.fabric_ifname, mtu=e.mtu, mac_a=e.mac, mac_b=e.fabric_mac
        )
        lab.address(host, e.ifname, e.ip, e.prefixlen)
        gw = plan.vpcs[e.vpc].subnets[e.subnet].router_ip
        lab.default_route(host, gw)


def write_state(state_dir: Path, plan: Plan) -> None:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (state_dir / "plan.json").write_text(to_json(plan), encoding="utf-8")


def group_json(sg: PlanSecurityGroup) -> dict[str, object]:
    out: dict[str, object] = json.loads(json.dumps(asdict(sg)))
    return out
