"""Proxy protocol v2 on forwarded packets, NLB resets (unknown flows, unhealthy
targets): the sans-IO core, packet by packet."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from hyperplane_emu import plan, spec
from hyperplane_emu.fabric import ppv2
from hyperplane_emu.fabric.core import Fabric
from hyperplane_emu.fabric.events import TraceHop

TOPOLOGY = """
name: tpp
region: us-east-1
accounts: {customer: "111122223333", provider: "444455556666"}
vpcs:
  consumer:
    cidr: 10.0.0.0/16
    account: customer
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      vpce:
        ingress: [{port: 80, source: 10.0.0.0/16}]
    hosts:
      client: {subnet: a}
    endpoints:
      orders: {service: provider/orders-svc, subnets: [a], security_groups: [vpce]}
  provider:
    cidr: 10.0.0.0/16
    account: provider
    subnets:
      a: {cidr: 10.0.1.0/24, az: us-east-1a}
    security_groups:
      app:
        ingress: [{port: 8080, source: 10.0.0.0/16}]
    hosts:
      app1: {subnet: a, security_groups: [app]}
      app2: {subnet: a, security_groups: [app]}
      pclient: {subnet: a}
    load_balancers:
      orders-nlb:
        type: network
        subnets: [a]
        listeners: [{port: 80, target_group: orders}]
        target_groups:
          orders: {port: 8080, targets: [app1, app2], preserve_client_ip: false,
                   proxy_protocol_v2: PPV2, unhealthy_connection_termination: TERM}
    endpoint_services:
      orders-svc:
        load_balancer: orders-nlb
        acceptance_required: false
        allowed_principals: ["111122223333"]
"""


class World:
    def __init__(self, ppv2_on: bool = True, termination: bool = True) -> None:
        text = TOPOLOGY.replace("PPV2", str(ppv2_on).lower()).replace(
            "TERM", str(termination).lower()
        )
        self.p = plan.build(spec.loads(text))
        self.fab = Fabric(self.p)
        self.now = 1000.0

    def eni(self, owner: str, kind: str = "host") -> Any:
        return next(e for e in self.p.enis if e.owner == owner and e.kind == kind)

    def send(self, owner: str, pkt: Any) -> list[tuple[int, Any]]:
        e = self.eni(owner)
        frame = Ether(src=e.mac, dst=e.fabric_mac) / pkt
        self.now += 0.001
        return [
            (port, Ether(bytes(f))) for port, f in self.fab.handle(e.port, bytes(frame), self.now)
        ]

    def port_owner(self, port: int) -> str:
        return next(e.owner for e in self.p.enis if e.port == port)


def valid(pkt: Any) -> bool:
    fresh = Ether(bytes(pkt))
    want = (fresh[IP].chksum, fresh[TCP].chksum)
    del fresh[IP].chksum
    del fresh[TCP].chksum
    again = Ether(bytes(fresh))
    return (again[IP].chksum, again[TCP].chksum) == want


CISN, TISN = 1000, 500000


class Conn:
    """One client connection through the NLB, driven by hand."""

    def __init__(self, w: World, dst: str, sport: int = 40000, who: str = "pclient") -> None:
        self.w, self.dst, self.sport, self.who = w, dst, sport, who
        self.client = w.eni(who).ip
        out = w.send(
            who, IP(src=self.client, dst=dst) / TCP(sport=sport, dport=80, flags="S", seq=CISN)
        )
        assert len(out) == 1
        self.tport, syn = out[0]
        self.target = w.port_owner(self.tport)
        self.tsrc, self.tsport = syn[IP].src, syn[TCP].sport
        self.tip = syn[IP].dst
        out = self.reply(flags="SA", seq=TISN, ack=CISN + 1)
        assert out[0][1][TCP].flags == "SA" and out[0][1][TCP].ack == CISN + 1

    def fwd(
        self, flags: str = "A", seq: int = CISN + 1, ack: int = TISN + 1, data: bytes = b""
    ) -> list[tuple[int, Any]]:
        return self.w.send(
            self.who,
            IP(src=self.client, dst=self.dst)
            / TCP(sport=self.sport, dport=80, flags=flags, seq=seq, ack=ack)
            / data,
        )

    def reply(
        self,
        flags: str = "A",
        seq: int = TISN + 1,
        ack: int = CISN + 1,
        data: bytes = b"",
        **opt: Any,
    ) -> list[tuple[int, Any]]:
        return self.w.send(
            self.target,
            IP(src=self.tip, dst=self.tsrc)
            / TCP(sport=8080, dport=self.tsport, flags=flags, seq=seq, ack=ack, **opt)
            / data,
        )


def node_ip(w: World) -> str:
    return str(w.eni("orders-nlb", "nlb").ip)


def test_the_handshake_ack_carries_the_header_with_client_and_listener_addresses() -> None:
    w = World()
    c = Conn(w, node_ip(w), sport=40001)
    out = c.fwd()
    assert len(out) == 1
    pkt = out[0][1]
    header = bytes(pkt[TCP].payload)
    assert header.startswith(ppv2.SIGNATURE)
    h = ppv2.parse(header)
    assert (h.command, h.src, h.sport, h.dst, h.dport) == ("PROXY", c.client, 40001, node_ip(w), 80)
    assert h.vpce_id is None and pkt[TCP].seq == CISN + 1 and valid(pkt)


def test_client_data_is_shifted_and_target_acks_shifted_back_with_sack() -> None:
    w = World()
    c = Conn(w, node_ip(w))
    n = len(c.fwd()[0][1][TCP].payload)  # the header, on the handshake's ACK
    # The target acknowledging only the header: nothing for the client (no dup ACK).
    assert c.reply(ack=CISN + 1 + n) == []
    out = c.fwd(flags="PA", data=b"hello")
    assert [bytes(p[TCP].payload) for _, p in out] == [b"hello"]
    assert out[0][1][TCP].seq == CISN + 1 + n and valid(out[0][1])
    back = c.reply(flags="PA", ack=CISN + 1 + n + 5, data=b"world",
                   options=[("SAck", (CISN + 1 + n + 10, CISN + 1 + n + 20))])  # fmt: skip
    assert len(back) == 1
    t = back[0][1][TCP]
    assert t.ack == CISN + 6 and bytes(t.payload) == b"world" and valid(back[0][1])
    sack = dict(t.options)["SAck"]
    assert sack == (CISN + 11, CISN + 21)


def test_first_data_before_the_header_is_acked_resends_the_header_in_front() -> None:
    w = World()
    c = Conn(w, node_ip(w))
    c.fwd()  # the header went out on the handshake's ACK (and, say, was lost)
    out = c.fwd(flags="PA", data=b"GET / HTTP/1.1\r\n\r\n")
    payloads = [bytes(p[TCP].payload) for _, p in out]
    assert payloads[0].startswith(ppv2.SIGNATURE) and payloads[1].startswith(b"GET")
    assert out[0][1][TCP].seq == CISN + 1 and out[1][1][TCP].seq == CISN + 1 + len(payloads[0])


def test_privatelink_header_has_consumer_source_and_vpce_tlv() -> None:
    w = World()
    vpce = w.eni("orders", "vpce")
    c = Conn(w, vpce.ip, sport=40002, who="client")
    h = ppv2.parse(bytes(c.fwd()[0][1][TCP].payload))
    endpoint_id = next(iter(w.fab.endpoints))
    assert (h.src, h.sport, h.dst, h.dport) == (c.client, 40002, vpce.ip, 80)
    assert h.vpce_id == endpoint_id and endpoint_id.startswith("vpce-")
    assert c.tsrc == node_ip(w)  # the target's packets still come from the NLB


def test_trace_shows_the_insertion_and_ppv2_flows_stay_off_the_fast_path() -> None:
    w = World()
    w.fab.trace = True
    c = Conn(w, node_ip(w))
    hops = [e for e in w.fab.events if isinstance(e, TraceHop) and e.step == "proxy-protocol"]
    assert len(hops) == 1 and "proxy protocol v2 header inserted (28 bytes)" in hops[0].detail
    c.fwd()
    c.fwd(flags="PA", data=b"x")
    assert w.fab.counters["fastpath.entries"] == 0
    plain = World(ppv2_on=False)
    d = Conn(plain, node_ip(plain))
    d.fwd()
    d.fwd(flags="PA", data=b"x")
    assert plain.fab.counters["fastpath.entries"] == 2  # both directions


def test_a_stray_ack_to_the_nlb_gets_a_rst_at_its_ack_number() -> None:
    w = World()
    client = w.eni("pclient")
    out = w.send(
        "pclient",
        IP(src=client.ip, dst=node_ip(w)) / TCP(sport=41000, dport=80, flags="A", seq=7, ack=1234),
    )
    assert len(out) == 1
    port, rst = out[0]
    assert port == client.port and rst[Ether].dst == client.mac
    t = rst[TCP]
    assert t.flags == "R" and t.seq == 1234 and (t.sport, t.dport) == (80, 41000)
    assert rst[IP].src == node_ip(w) and valid(rst)
    # A RST is never answered; a segment without ACK gets RST|ACK acknowledging it.
    assert (
        w.send(
            "pclient",
            IP(src=client.ip, dst=node_ip(w)) / TCP(sport=41000, dport=80, flags="R", seq=7),
        )
        == []
    )
    out = w.send(
        "pclient", IP(src=client.ip, dst=node_ip(w)) / TCP(sport=41000, dport=80, flags="F", seq=7)
    )
    assert out[0][1][TCP].flags == "RA" and out[0][1][TCP].ack == 8


def _healthy(w: World, *targets: str, state: str = "healthy") -> None:
    tg = w.fab.load_balancers[next(iter(w.fab.load_balancers))].target_groups["orders"]
    lb = next(iter(w.fab.load_balancers))
    ids = {w.port_owner(t.eni.port): t.id for t in tg.targets if t.eni is not None}
    for name in targets:
        w.fab.set_target_health(lb, tg.name, ids[name], state)


@pytest.mark.parametrize("ppv2_on", [False, True])
def test_unhealthy_target_resets_the_clients_next_packet_and_the_target(ppv2_on: bool) -> None:
    w = World(ppv2_on=ppv2_on)
    _healthy(w, "app1", "app2")
    c = Conn(w, node_ip(w))
    n = len(c.fwd()[0][1][TCP].payload) if ppv2_on else 0
    c.fwd(flags="PA", data=b"abc")
    _healthy(w, c.target, state="unhealthy")
    out = c.fwd(flags="PA", seq=CISN + 4, ack=TISN + 1, data=b"more")
    by_port = {port: p for port, p in out}
    to_client = by_port[w.eni("pclient").port]
    to_target = by_port[c.tport]
    assert to_client[TCP].flags == "R" and to_client[TCP].seq == TISN + 1 and valid(to_client)
    assert to_target[TCP].flags == "R" and to_target[TCP].seq == CISN + 4 + n and valid(to_target)
    assert len(bytes(to_target[TCP].payload)) == 0
    assert w.fab.conntrack.count == 0 and w.fab.counters["nlb.connection-reset"] == 1


def test_unhealthy_without_termination_keeps_the_connection() -> None:
    w = World(ppv2_on=False, termination=False)
    _healthy(w, "app1", "app2")
    c = Conn(w, node_ip(w))
    c.fwd()
    _healthy(w, c.target, state="unhealthy")
    out = c.fwd(flags="PA", data=b"more")
    assert [bytes(p[TCP].payload) for _, p in out] == [b"more"] and out[0][0] == c.tport


def test_no_reset_when_the_last_healthy_target_fails_the_nlb_fails_open() -> None:
    w = World(ppv2_on=False)
    c = Conn(w, node_ip(w))
    c.fwd()
    other = "app2" if c.target == "app1" else "app1"
    _healthy(w, c.target)
    _healthy(w, other, state="unhealthy")
    _healthy(w, c.target, state="unhealthy")  # now none is healthy: fail open
    out = c.fwd(flags="PA", data=b"more")
    assert [bytes(p[TCP].payload) for _, p in out] == [b"more"]


def test_retransmissions_keep_their_shift_and_the_header_is_not_sent_twice_once_acked() -> None:
    w = World()
    c = Conn(w, node_ip(w))
    n = len(c.fwd()[0][1][TCP].payload)
    assert c.reply(ack=CISN + 1 + n) == []  # header acknowledged
    first = c.fwd(flags="PA", data=b"abc")
    again = c.fwd(flags="PA", data=b"abc")  # the client's retransmission
    assert [(p[TCP].seq, bytes(p[TCP].payload)) for _, p in first] == [(CISN + 1 + n, b"abc")]
    assert [(p[TCP].seq, bytes(p[TCP].payload)) for _, p in again] == [(CISN + 1 + n, b"abc")]
    # The target retransmits too: acks still shift back, data passes untouched.
    for _ in range(2):
        back = c.reply(flags="PA", ack=CISN + 4 + n, data=b"ok")
        assert [(p[TCP].ack, bytes(p[TCP].payload)) for _, p in back] == [(CISN + 4, b"ok")]
