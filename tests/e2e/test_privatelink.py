"""PrivateLink and NLB end to end: real DNS, real TCP, real health checks."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Topology, wait_for

from hyperplane_emu.runtime import endpoints, processes

pytestmark = pytest.mark.root

PLINK = """
name: NAME
region: us-east-1
accounts: {customer: "111122223333", provider: "444455556666"}
vpcs:
  consumer:
    cidr: 10.0.0.0/16
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      vpce:
        ingress: [{port: 80, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a}
    endpoints:
      orders: {service: provider/orders-svc, subnets: [a, b], security_groups: [vpce],
               private_dns: true}
  provider:
    cidr: 10.0.0.0/16
    account: provider
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
      b: {cidr: 10.0.2.0/24, az: us-east-1b}
    security_groups:
      app:
        ingress: [{port: 8080, source: 10.0.0.0/16}]
    hosts:
      echo1: {subnet: a, security_groups: [app], serve: echo:8080}
      echo2: {subnet: b, security_groups: [app], serve: echo:8080}
      pclient: {subnet: a}
      far: {subnet: b, private_ip: 10.0.2.50}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a, b]
        cross_zone: CROSS
        listeners: [{port: 80, target_group: orders}]
        target_groups:
          orders:
            port: 8080
            targets: [echo1, echo2]
            preserve_client_ip: PRESERVE
            health_check: {protocol: http, path: /health, interval: 2, timeout: 2,
                           healthy_threshold: 2, unhealthy_threshold: 2}
    endpoint_services:
      orders-svc:
        load_balancer: orders-nlb
        acceptance_required: ACCEPTANCE
        allowed_principals: ["111122223333"]
        private_dns_name: orders.example.com
"""


def plink(
    topology: Callable[[str], Topology],
    *,
    cross: bool = False,
    preserve: bool = True,
    acceptance: bool = False,
) -> Topology:
    text = (
        PLINK.replace("CROSS", str(cross).lower())
        .replace("PRESERVE", str(preserve).lower())
        .replace("ACCEPTANCE", str(acceptance).lower())
    )
    return topology(text)


def sh(t: Topology, host: str, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    ns = t.plan.hosts[host].namespace
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
    )


def get(t: Topology, host: str, url: str, max_time: float = 3) -> dict[str, object] | None:
    r = sh(t, host, "curl", "-s", "-m", str(max_time), url)
    return json.loads(r.stdout) if r.returncode == 0 else None


def eni_ips(t: Topology, kind: str) -> set[str]:
    return {e.ip for e in t.plan.enis if e.kind == kind}


def test_targets_see_the_nlb_address_never_the_client_or_the_endpoint(
    topology: Callable[[str], Topology],
) -> None:
    t = plink(topology)
    nlb = {e.az: e.ip for e in t.plan.enis if e.kind == "nlb"}
    seen: dict[str, set[str]] = {}
    for ip in sorted(eni_ips(t, "vpce")):
        for _ in range(3):
            body = get(t, "client", f"http://{ip}/orders")
            assert body is not None, f"no answer through {ip}"
            seen.setdefault(str(body["host"]), set()).add(str(body["saw_source"]).split(":")[0])
    # Cross-zone off: each AZ's endpoint reaches its AZ's target, from its AZ's NLB node.
    assert seen == {"echo1": {nlb["us-east-1a"]}, "echo2": {nlb["us-east-1b"]}}
    body = get(t, "client", "http://orders.example.com/by-private-dns")
    assert body is not None and str(body["saw_source"]).split(":")[0] in nlb.values()


def test_dns_names_resolve_where_aws_resolves_them(topology: Callable[[str], Topology]) -> None:
    t = plink(topology)
    ep = t.plan.endpoints["consumer/orders"]
    lb = t.plan.load_balancers["provider/orders-nlb"]

    def dig(host: str, name: str) -> tuple[str, set[str]]:
        r = sh(t, host, "dig", "+tries=1", "+time=2", name)
        status = r.stdout.split("status: ", 1)[1].split(",", 1)[0]
        answers = set(sh(t, host, "dig", "+short", name).stdout.split())
        return status, answers

    vpce = eni_ips(t, "vpce")
    assert dig("client", "orders.example.com") == ("NOERROR", vpce)
    assert dig("client", ep.dns_names[0]) == ("NOERROR", vpce)
    assert dig("client", ep.dns_names[1])[1] == {t.plan.eni(ep.enis[0]).ip}
    assert dig("client", lb.dns_name) == ("NOERROR", eni_ips(t, "nlb"))  # public record
    far = t.plan.hosts["far"].hostname
    assert dig("echo2", far) == ("NOERROR", {"10.0.2.50"})
    assert dig("client", far)[0] == "NXDOMAIN"  # another VPC's hostnames
    assert dig("pclient", "orders.example.com")[0] == "NXDOMAIN"  # private DNS: consumer only
    assert dig("client", "example.com")[0] == "NXDOMAIN"  # nothing is forwarded


def test_target_sg_must_admit_the_nlb_and_endpoint_sg_must_admit_the_client(
    topology: Callable[[str], Topology],
) -> None:
    t = plink(topology)
    vip = sorted(eni_ips(t, "vpce"))[0]
    assert get(t, "client", f"http://{vip}/") is not None
    app = t.plan.vpcs["provider"].security_groups["app"]
    client_only = tuple(
        dataclasses.replace(r, cidr=f"{t.ip('client')}/32") if r.direction == "ingress" else r
        for r in app.rules
    )
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(app, rules=client_only)))
    before = t.dropped("sg-ingress")
    assert get(t, "client", f"http://{vip}/", max_time=1.5) is None
    assert t.dropped("sg-ingress") > before
    # Refused at the target, from the NLB node's address (what the target's SG judges).
    vpce_eni = next(e for e in t.plan.enis if e.kind == "vpce" and e.ip == vip)
    vip_az = vpce_eni.az
    node = next(e.ip for e in t.plan.enis if e.kind == "nlb" and e.az == vip_az)
    target = next(h for h in ("echo1", "echo2") if t.plan.eni(t.eni(h)).az == vip_az)
    assert t.rejected(t.eni(target), node, 8080)
    t.fabric("replace_sg", sg=dataclasses.asdict(app))
    assert get(t, "client", f"http://{vip}/") is not None
    vpce = t.plan.vpcs["consumer"].security_groups["vpce"]
    closed = tuple(r for r in vpce.rules if r.direction == "egress")
    t.fabric("replace_sg", sg=dataclasses.asdict(dataclasses.replace(vpce, rules=closed)))
    before = t.dropped("sg-ingress")
    assert get(t, "client", f"http://{vip}/", max_time=1.5) is None
    assert t.dropped("sg-ingress") > before
    assert t.rejected(vpce_eni.id, t.ip("client"), 80)


def test_flows_spread_by_hash_and_avoid_a_target_whose_health_check_fails(
    topology: Callable[[str], Topology],
) -> None:
    t = plink(topology, cross=True)
    vip = sorted(eni_ips(t, "vpce"))[0]
    hosts = {str(b["host"]) for _ in range(16) if (b := get(t, "client", f"http://{vip}/"))}
    assert hosts == {"echo1", "echo2"}
    pid = t.state.read_pids()["echo-echo1-8080"]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not processes.alive(pid), what="echo1 to stop")
    health = t.state.path / "health.json"

    def echo1_unhealthy() -> bool:
        try:
            states = json.loads(health.read_text())
        except (FileNotFoundError, ValueError):
            return False
        return any(k.endswith("|echo1") and v["state"] == "unhealthy" for k, v in states.items())

    wait_for(echo1_unhealthy, timeout=15, what="echo1 unhealthy")
    hosts = {str(b["host"]) for _ in range(12) if (b := get(t, "client", f"http://{vip}/"))}
    assert hosts == {"echo2"}
    lbs = t.fabric("load_balancers")["load_balancers"]
    states = {x["id"]: x["health"] for x in lbs[0]["target_groups"]["orders"]}
    assert states == {"echo1": "unhealthy", "echo2": "healthy"}


def test_pending_connection_carries_nothing_until_accepted_and_reject_stops_it(
    topology: Callable[[str], Topology],
) -> None:
    t = plink(topology, acceptance=True)
    vip = sorted(eni_ips(t, "vpce"))[0]
    ep = t.plan.endpoints["consumer/orders"]
    assert endpoints.states(t.state, t.plan)[ep.id] == "pendingAcceptance"
    assert get(t, "client", f"http://{vip}/", max_time=1.5) is None
    assert t.dropped("endpoint-pendingAcceptance") >= 1
    endpoints.decide(t.state, t.plan, ep.id, "accept")
    assert get(t, "client", f"http://{vip}/") is not None
    endpoints.decide(t.state, t.plan, "orders", "reject")
    assert get(t, "client", f"http://{vip}/", max_time=1.5) is None
    assert t.dropped("endpoint-rejected") >= 1
    records = t.flow_logs()
    assert any(r[2] == t.plan.eni(ep.enis[0]).id and r[12] == "REJECT" for r in records)


def test_the_provider_cannot_open_a_connection_to_the_consumer(
    topology: Callable[[str], Topology],
) -> None:
    t = plink(topology)
    # Overlapping CIDRs: in the provider VPC the client's address is another host (echo1),
    # and no address there leads to the consumer.
    sock = t.run_in("client", lambda: __import__("socket").socket())
    sock.bind(("0.0.0.0", 7000))
    sock.listen()
    sock.settimeout(0.5)
    try:
        before = t.fabric("status")["counters"]
        for target in (t.ip("client"), *sorted(eni_ips(t, "vpce"))):
            # Never connected; the address may even be echo2's own (refused locally).
            assert t.connect("echo2", target, 7000, timeout=1.0) != "connected", target
        with pytest.raises(TimeoutError):
            sock.accept()
    finally:
        sock.close()
    after = t.fabric("status")["counters"]
    drops = {k: after[k] - before.get(k, 0) for k in after
             if k.startswith("dropped.") and after[k] != before.get(k, 0)}  # fmt: skip
    # The client's address is echo1's in the provider VPC: echo1's group refuses port 7000.
    assert t.rejected(t.eni("echo1"), t.ip("echo2"), 7000)
    assert drops.get("dropped.sg-ingress", 0) >= 1, drops


@pytest.mark.parametrize("preserve", [True, False])
def test_same_vpc_nlb_client_ip_preservation(
    topology: Callable[[str], Topology], preserve: bool
) -> None:
    t = plink(topology, preserve=preserve)
    lb = t.plan.load_balancers["provider/orders-nlb"]
    body = get(t, "pclient", f"http://{lb.dns_name}/")
    assert body is not None
    source = str(body["saw_source"]).split(":")[0]
    if preserve:
        assert source == t.ip("pclient")
    else:
        assert source in eni_ips(t, "nlb")


def test_capture_of_an_endpoint_eni_shows_the_consumer_side_and_the_nlb_node_the_provider_side(
    topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    import sys

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether  # noqa: F401 - registers linktype 1
    from scapy.utils import rdpcap

    t = plink(topology)
    vpce = next(e for e in t.plan.enis if e.kind == "vpce" and e.az == "us-east-1a")
    node = next(e for e in t.plan.enis if e.kind == "nlb" and e.az == "us-east-1a")
    procs = []
    for eni in (vpce, node):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "hyperplane_emu.cli.main", "capture", t.plan.name, eni.id,
             "-w", str(tmp_path / f"{eni.kind}.pcap"), "--timeout", "4"],
            stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for proc in procs:
        assert proc.stderr is not None
        wait_for(lambda p=proc: "capturing" in p.stderr.readline(), timeout=10, what="capture")
    assert get(t, "client", f"http://{vpce.ip}/x") is not None
    for proc in procs:
        assert proc.wait(timeout=15) == 0
    on_vpce = [p for p in rdpcap(str(tmp_path / "vpce.pcap")) if TCP in p]
    on_node = [p for p in rdpcap(str(tmp_path / "nlb.pcap")) if TCP in p]
    assert any(p[IP].src == t.ip("client") and p[IP].dst == vpce.ip and p[TCP].flags & 2
               for p in on_vpce)  # fmt: skip
    assert any(p[IP].src == node.ip and p[IP].dst == t.ip("echo1") and p[TCP].flags & 2
               for p in on_node)  # fmt: skip
    assert all(t.ip("client") != p[IP].src for p in on_node if p[IP].dst == t.ip("echo1"))
