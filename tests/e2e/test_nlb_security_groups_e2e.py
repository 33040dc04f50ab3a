"""NLB security groups on real TCP (ELB NLB guide, "Update the security groups for your
Network Load Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/network/
load-balancer-security-groups.html): inbound rules judge clients at the listeners,
targets may admit the NLB by its group (health checks included: they pass by the NLB
group's outbound rules), and PrivateLink traffic is judged only while
`enforce_security_group_inbound_rules_on_private_link_traffic` is on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import Topology, wait_for
from test_privatelink import PLINK, eni_ips, get

pytestmark = pytest.mark.root


def with_groups(topology: Callable[[str], Topology], enforce: str = "on") -> Topology:
    text = (
        PLINK.replace("CROSS", "true")
        .replace("PRESERVE", "false")
        .replace("ACCEPTANCE", "false")
        # The consumer's client sits in 10.0.2.0/24, which the NLB's group does not admit.
        .replace("      client: {subnet: a}\n", "      client: {subnet: b}\n")
        # Targets admit the NLB by its group only (traffic and health checks).
        .replace(
            "        ingress: [{port: 8080, source: 10.0.0.0/16}]\n",
            "        ingress: [{port: 8080, source: sg/nlb}]\n"
            "      nlb:\n        ingress: [{port: 80, source: 10.0.1.0/24}]\n",
        )
        .replace(
            "        cross_zone: true\n",
            "        cross_zone: true\n        security_groups: [nlb]\n"
            f"        enforce_security_group_inbound_rules_on_private_link_traffic: '{enforce}'\n",
        )
    )
    t = topology(text)
    lb = t.plan.load_balancers["provider/orders-nlb"]

    def healthy() -> bool:
        lbs = t.fabric("load_balancers")["load_balancers"]
        mine = next(x for x in lbs if x["key"] == lb.key)
        return all(x["health"] == "healthy" for x in mine["target_groups"]["orders"])

    # Only the NLB's outbound rules and the targets' rule naming its group let the
    # health checks through: healthy targets show both work.
    wait_for(healthy, timeout=20, what="targets healthy through sg/nlb")
    return t


def test_the_nlb_group_admits_one_client_and_rejects_another(
    topology: Callable[[str], Topology],
) -> None:
    t = with_groups(topology)
    lb = t.plan.load_balancers["provider/orders-nlb"]
    sg = t.plan.vpcs["provider"].security_groups["nlb"].id
    body = get(t, "pclient", f"http://{lb.dns_name}/")
    assert body is not None
    # The target admits only sg/nlb, and it sees the NLB node's address.
    assert str(body["saw_source"]).split(":")[0] in eni_ips(t, "nlb")
    far = t.ip("far")
    t.fabric("trace_start", addresses=[far])
    assert get(t, "far", f"http://{lb.dns_name}/", max_time=1.5) is None
    hops = t.fabric("trace_stop")["hops"]
    nodes = set(lb.enis)
    rejected = [h for h in hops if h["step"] == "ingress-sg" and h["where"] in nodes]
    assert rejected and rejected[0]["action"] == "REJECT", hops
    assert t.dropped("sg-ingress") >= 1
    on_nodes = [
        r for r in t.flow_logs()
        if r[2] in nodes and r[3] == far and r[6] == "80" and r[12] == "REJECT"
    ]  # fmt: skip
    assert on_nodes, "no REJECT on the NLB's ENI"
    # Status shows the groups (JSON and table).
    cli = [sys.executable, "-m", "hyperplane_emu.cli.main", "status", t.plan.name]
    status = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True).stdout)
    shown = next(x for x in status["load_balancers"] if x["key"] == lb.key)
    assert shown["security_groups"] == [sg]
    assert sg in subprocess.run(cli, capture_output=True, text=True).stdout


@pytest.mark.parametrize("enforce", ["on", "off"])
def test_privatelink_traffic_is_judged_only_while_enforced(
    topology: Callable[[str], Topology], enforce: str
) -> None:
    t = with_groups(topology, enforce)
    vpce = sorted(eni_ips(t, "vpce"))
    body = get(t, "client", f"http://{vpce[0]}/orders", max_time=1.5)
    if enforce == "on":
        # Judged with the client's own address (AWS), which sg/nlb does not admit.
        assert body is None
    else:
        assert body is not None
        assert str(body["saw_source"]).split(":")[0] in eni_ips(t, "nlb")
