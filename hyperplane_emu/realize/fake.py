"""An in-memory kernel with the `KernelDoor` interface, for tests without root.

It enforces what the real one would refuse (duplicate namespaces or names,
missing interfaces, 15-character names) so that plan-to-kernel logic bugs show
up in unit tests.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from hyperplane_emu.realize.kernel import AddressInfo, KernelError, LinkInfo, RouteInfo

T = TypeVar("T")


@dataclass
class FakeNs:
    links: dict[str, LinkInfo] = field(default_factory=dict)
    addresses: list[AddressInfo] = field(default_factory=list)
    routes: list[RouteInfo] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)


class FakeKernel:
    def __init__(self, fail_on: str | None = None) -> None:
        self.ns: dict[str, FakeNs] = {}
        self.calls: list[str] = []
        self.fail_on = fail_on  # a substring of a call that raises KernelError

    def _call(self, text: str) -> None:
        self.calls.append(text)
        if self.fail_on is not None and self.fail_on in text:
            raise KernelError(text, errno.EIO, "injected failure")

    def netns_list(self) -> list[str]:
        return sorted(self.ns)

    def netns_create(self, name: str) -> None:
        self._call(f"netns_create {name}")
        if name in self.ns:
            raise KernelError(f"create namespace {name}", errno.EEXIST)
        self.ns[name] = FakeNs(links={"lo": LinkInfo("lo", "00:00:00:00:00:00", 65536, False, "")})

    def netns_delete(self, name: str) -> bool:
        self._call(f"netns_delete {name}")
        return self.ns.pop(name, None) is not None

    @contextmanager
    def session(self, ns: str) -> Iterator[_FakeSession]:
        if ns not in self.ns:
            raise KernelError(f"open namespace {ns}", errno.ENOENT)
        yield _FakeSession(self, ns)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        self._call(f"sysctl {ns} {key}={value}")
        self.ns[ns].sysctls[key] = value

    def read_sysctl(self, ns: str, key: str) -> str:
        return self.ns[ns].sysctls[key]

    def in_netns(self, ns: str, fn: Callable[[], T]) -> T:
        return fn()


class _FakeSession:
    def __init__(self, k: FakeKernel, ns: str) -> None:
        self.k = k
        self.name = ns

    @property
    def n(self) -> FakeNs:
        return self.k.ns[self.name]

    def _link(self, ifname: str) -> LinkInfo:
        if ifname not in self.n.links:
            raise KernelError(f"{self.name}: interface {ifname}", errno.ENODEV)
        return self.n.links[ifname]

    def veth(self, ifname: str, peer_ns: str, peer_ifname: str) -> None:
        self.k._call(f"veth {self.name}/{ifname} {peer_ns}/{peer_ifname}")
        for name in (ifname, peer_ifname):
            if len(name) > 15:
                raise KernelError(f"create veth {name}", errno.EINVAL, "name longer than 15")
        if ifname in self.n.links or peer_ifname in self.k.ns[peer_ns].links:
            raise KernelError(f"create veth {ifname}", errno.EEXIST)
        self.n.links[ifname] = LinkInfo(ifname, "", 1500, False, "veth")
        self.k.ns[peer_ns].links[peer_ifname] = LinkInfo(peer_ifname, "", 1500, False, "veth")

    def configure(self, ifname: str, *, mac: str | None, mtu: int) -> None:
        self.k._call(f"configure {self.name}/{ifname} mac={mac} mtu={mtu}")
        old = self._link(ifname)
        self.n.links[ifname] = LinkInfo(ifname, mac or old.mac, mtu, old.up, old.kind)

    def up(self, ifname: str) -> None:
        self.k._call(f"up {self.name}/{ifname}")
        old = self._link(ifname)
        self.n.links[ifname] = LinkInfo(ifname, old.mac, old.mtu, True, old.kind)

    def address(self, ifname: str, ip: str, prefixlen: int) -> None:
        self.k._call(f"address {self.name}/{ifname} {ip}/{prefixlen}")
        self._link(ifname)
        self.n.addresses.append(AddressInfo(ifname, ip, prefixlen))

    def default_route(self, gateway: str, ifname: str | None = None) -> None:
        self.k._call(f"default_route {self.name} via {gateway}")
        if ifname is not None:
            self._link(ifname)
        self.n.routes.append(RouteInfo("0.0.0.0/0", gateway, ifname))

    def links(self) -> list[LinkInfo]:
        return list(self.n.links.values())

    def addresses(self) -> list[AddressInfo]:
        return list(self.n.addresses)

    def routes(self) -> list[RouteInfo]:
        return list(self.n.routes)
