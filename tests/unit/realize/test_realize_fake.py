"""Plan -> kernel calls, against the in-memory kernel (no root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperplane_emu import plan, spec
from hyperplane_emu.realize import KernelError, realize, undo
from hyperplane_emu.realize.fake import FakeKernel

GOOD = Path(__file__).parents[2] / "data" / "good"


def _plan(name: str = "shop.yaml") -> plan.Plan:
    return plan.build(spec.load(GOOD / name))


def _realize(p: plan.Plan, k: FakeKernel, tmp: Path) -> list[dict[str, Any]]:
    journal: list[dict[str, Any]] = []
    realize(p, k, journal.append, etc_netns=str(tmp / "netns"))
    return journal


def test_every_namespace_interface_address_and_route_as_planned(tmp_path: Path) -> None:
    p = _plan()
    k = FakeKernel()
    _realize(p, k, tmp_path)
    resolvers = {e.namespace for e in p.enis if e.kind == "resolver"}
    assert resolvers == {f"he-shop-dns-{v}" for v in p.vpcs}
    nlbs = {e.namespace for e in p.enis if e.kind == "nlb"}
    assert nlbs == {"he-shop-nlb-orders-nlb-a", "he-shop-nlb-orders-nlb-b"}
    hosts = {h.namespace for h in p.hosts.values()}
    assert set(k.ns) == {p.fabric_namespace, *hosts, *resolvers, *nlbs}
    for ns in nlbs:
        assert k.ns[ns].sysctls["net.ipv4.ip_local_port_range"] == "1024 9999"
    fab = k.ns[p.fabric_namespace]
    assert fab.sysctls["net.ipv4.ip_forward"] == "0"
    assert fab.addresses == []
    for e in (e for e in p.enis if e.kind == "host"):
        host = k.ns[e.namespace]
        assert host.links["eth0"].mac == e.mac and host.links["eth0"].mtu == 9001
        assert host.links["eth0"].up and host.links["lo"].up
        assert [(a.ip, a.prefixlen) for a in host.addresses] == [(e.ip, 24)]
        assert [(r.dst, r.gateway) for r in host.routes] == [
            ("0.0.0.0/0", e.ip.rsplit(".", 1)[0] + ".1")
        ]
        assert host.sysctls["net.ipv6.conf.default.disable_ipv6"] == "1"
        f = fab.links[e.fabric_ifname]
        assert (f.mac, f.mtu, f.up) == (e.fabric_mac, 9001, True)
        resolv = tmp_path / "netns" / e.namespace / "resolv.conf"
        assert resolv.read_text() == p.hosts[e.owner].resolv_conf


def test_resolver_has_the_vpc_dns_address_and_the_link_local_one(tmp_path: Path) -> None:
    p = _plan()
    k = FakeKernel()
    _realize(p, k, tmp_path)
    ns = k.ns["he-shop-dns-customer"]
    assert {(a.ip, a.prefixlen) for a in ns.addresses} == {
        ("10.0.0.2", 16),
        ("169.254.169.253", 32),
    }
    assert ns.routes == []


def test_ipv6_is_off_before_any_interface_exists(tmp_path: Path) -> None:
    p = _plan()
    k = FakeKernel()
    _realize(p, k, tmp_path)
    first_veth = next(i for i, c in enumerate(k.calls) if c.startswith("veth"))
    for ns in k.ns:
        i = k.calls.index(f"sysctl {ns} net.ipv6.conf.default.disable_ipv6=1")
        assert i < first_veth


def test_the_journal_names_each_namespace_before_it_is_created(tmp_path: Path) -> None:
    p = _plan()
    k = FakeKernel()
    journal: list[dict[str, Any]] = []
    seen_at_create: dict[str, bool] = {}
    real_create = k.netns_create

    def create(name: str) -> None:
        seen_at_create[name] = {"kind": "netns", "name": name} in journal
        real_create(name)

    k.netns_create = create  # type: ignore[method-assign]
    realize(p, k, journal.append, etc_netns=str(tmp_path / "netns"))
    assert seen_at_create and all(seen_at_create.values())


@pytest.mark.parametrize(
    "fail_on", ["netns_create he-shop-app1", "veth", "address", "default_route"]
)
def test_undoing_the_journal_after_any_failure_leaves_nothing(tmp_path: Path, fail_on: str) -> None:
    p = _plan()
    k = FakeKernel(fail_on=fail_on)
    journal: list[dict[str, Any]] = []
    with pytest.raises(KernelError, match="injected"):
        realize(p, k, journal.append, etc_netns=str(tmp_path / "netns"))
    for entry in reversed(journal):
        undo(entry, k)
    assert k.ns == {}
    assert not any((tmp_path / "netns").iterdir()) if (tmp_path / "netns").exists() else True


def test_undo_is_idempotent_and_refuses_foreign_directories(tmp_path: Path) -> None:
    k = FakeKernel()
    assert undo({"kind": "netns", "name": "he-x-a"}, k) is False
    assert undo({"kind": "dir", "path": str(tmp_path / "netns" / "he-x-a")}, k) is False
    with pytest.raises(ValueError, match="refusing"):
        undo({"kind": "dir", "path": "/etc"}, k)
    with pytest.raises(ValueError, match="refusing"):
        undo({"kind": "dir", "path": str(tmp_path / "netns" / "other")}, k)


def test_a_hundred_enis_realize_with_unique_names(tmp_path: Path) -> None:
    p = _plan("eni-100.yaml")
    k = FakeKernel()
    _realize(p, k, tmp_path)
    assert len(k.ns[p.fabric_namespace].links) == len(p.enis) + 1  # + lo
