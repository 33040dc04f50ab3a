"""The one door to the kernel: every netlink call of the project goes through here.

`Kernel` is a small verb-style interface over pyroute2 (namespaces, veths,
addresses, routes) plus the two things netlink does not do: per-namespace
sysctls and ethtool offload flags. Both are done from a short-lived thread
that has entered the namespace (`realize.netns.run_in`): a network namespace
is a per-thread attribute, so the calling thread (and the root namespace)
never change.

`FakeKernel` (realize/fake.py) implements the same interface in memory, so the
plan-to-kernel logic is tested without root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from hyperplane_emu.realize import netns as entry

T = TypeVar("T")

NETNS_DIR = entry.NETNS_DIR


class KernelError(Exception):
    """A kernel call failed; `errno` is the kernel's error number when it gave one."""

    def __init__(self, what: str, err: int | None, detail: str = "") -> None:
        self.errno = err
        name = errno.errorcode.get(err, str(err)) if err else ""
        super().__init__(
            f"{what}: {detail or os.strerror(err or 0)}" + (f" ({name})" if name else "")
        )


@dataclass(frozen=True)
class LinkInfo:
    ifname: str
    mac: str
    mtu: int
    up: bool
    kind: str


@dataclass(frozen=True)
class AddressInfo:
    ifname: str
    ip: str
    prefixlen: int


@dataclass(frozen=True)
class RouteInfo:
    dst: str  # CIDR, "0.0.0.0/0" for the default route
    gateway: str | None
    ifname: str | None


class Link(Protocol):
    """Operations on one namespace, batched in one netlink session."""

    def veth(self, ifname: str, peer_ns: str, peer_ifname: str) -> None: ...
    def configure(self, ifname: str, *, mac: str | None, mtu: int) -> None: ...
    def address(self, ifname: str, ip: str, prefixlen: int) -> None: ...
    def default_route(self, gateway: str, ifname: str | None = None) -> None: ...
    def up(self, ifname: str) -> None: ...
    def links(self) -> list[LinkInfo]: ...
    def addresses(self) -> list[AddressInfo]: ...
    def routes(self) -> list[RouteInfo]: ...


class KernelDoor(Protocol):
    def netns_list(self) -> list[str]: ...
    def netns_create(self, name: str) -> None: ...
    def netns_delete(self, name: str) -> bool: ...
    def session(self, ns: str) -> Any: ...  # context manager yielding a Link
    def sysctl(self, ns: str, key: str, value: str) -> None: ...
    def read_sysctl(self, ns: str, key: str) -> str: ...
    def in_netns(self, ns: str, fn: Callable[[], T]) -> T: ...


class _Session:
    def __init__(self, ns: str, ipr: Any) -> None:
        self.ns = ns
        self.ipr = ipr

    def _index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise KernelError(f"{self.ns}: interface {ifname}", errno.ENODEV)
        return int(found[0])

    def _call(self, what: str, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except NetlinkError as e:
            raise KernelError(f"{self.ns}: {what}", e.code) from None

    def veth(self, ifname: str, peer_ns: str, peer_ifname: str) -> None:
        self._call(
            f"create veth {ifname} <-> {peer_ns}/{peer_ifname}",
            self.ipr.link,
            "add",
            ifname=ifname,
            kind="veth",
            peer={"ifname": peer_ifname, "net_ns_fd": peer_ns},
        )

    def configure(self, ifname: str, *, mac: str | None, mtu: int) -> None:
        kw: dict[str, Any] = {"mtu": mtu}
        if mac is not None:
            kw["address"] = mac
        self._call(f"configure {ifname}", self.ipr.link, "set", index=self._index(ifname), **kw)

    def up(self, ifname: str) -> None:
        self._call(f"set {ifname} up", self.ipr.link, "set", index=self._index(ifname), state="up")

    def address(self, ifname: str, ip: str, prefixlen: int) -> None:
        self._call(
            f"add {ip}/{prefixlen} to {ifname}",
            self.ipr.addr,
            "add",
            index=self._index(ifname),
            address=ip,
            prefixlen=prefixlen,
        )

    def default_route(self, gateway: str, ifname: str | None = None) -> None:
        """Via `gateway`; out of `ifname`, or (None) whichever interface has it on-link."""
        kw: dict[str, Any] = {} if ifname is None else {"oif": self._index(ifname)}
        self._call(
            f"default route via {gateway}",
            self.ipr.route,
            "add",
            dst="0.0.0.0/0",
            gateway=gateway,
            **kw,
        )

    def links(self) -> list[LinkInfo]:
        out = []
        for m in self.ipr.get_links():
            info = m.get("IFLA_LINKINFO")
            kind = info.get("IFLA_INFO_KIND") if info else ""
            out.append(
                LinkInfo(
                    ifname=m.get("IFLA_IFNAME"),
                    mac=m.get("IFLA_ADDRESS") or "",
                    mtu=m.get("IFLA_MTU"),
                    up=bool(m["flags"] & 1),
                    kind=kind or "",
                )
            )
        return out

    def addresses(self) -> list[AddressInfo]:
        names = {m["index"]: m.get("IFLA_IFNAME") for m in self.ipr.get_links()}
        return [
            AddressInfo(names.get(a["index"], "?"), a.get("IFA_ADDRESS"), a["prefixlen"])
            for a in self.ipr.get_addr(family=2)
        ]

    def routes(self) -> list[RouteInfo]:
        names = {m["index"]: m.get("IFLA_IFNAME") for m in self.ipr.get_links()}
        out = []
        for r in self.ipr.get_routes(family=2, table=254):
            dst = r.get("RTA_DST") or "0.0.0.0"
            out.append(
                RouteInfo(
                    f"{dst}/{r['dst_len']}", r.get("RTA_GATEWAY"), names.get(r.get("RTA_OIF"))
                )
            )
        return out


class Kernel:
    """The real kernel, through pyroute2."""

    def netns_list(self) -> list[str]:
        try:
            return sorted(os.listdir(NETNS_DIR))
        except FileNotFoundError:
            return []

    def netns_create(self, name: str) -> None:
        if name in self.netns_list():
            raise KernelError(f"create namespace {name}", errno.EEXIST)
        try:
            netns.create(name)
        except OSError as e:
            raise KernelError(f"create namespace {name}", e.errno) from None

    def netns_delete(self, name: str) -> bool:
        """Remove a namespace; False when it was already gone (destroy is idempotent)."""
        if name not in self.netns_list():
            return False
        try:
            netns.remove(name)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return False
            raise KernelError(f"delete namespace {name}", e.errno) from None
        return True

    @contextmanager
    def session(self, ns: str) -> Iterator[_Session]:
        try:
            ipr = IPRoute(netns=ns)
        except OSError as e:
            raise KernelError(f"open namespace {ns}", e.errno) from None
        try:
            yield _Session(ns, ipr)
        finally:
            ipr.close()

    def in_netns(self, ns: str, fn: Callable[[], T]) -> T:
        """Run `fn` on a fresh thread that has entered `ns`; return its result or raise."""
        return entry.run_in(ns, fn)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        path = "/proc/sys/" + key.replace(".", "/")

        def write() -> None:
            with open(path, "w") as f:
                f.write(value)

        try:
            self.in_netns(ns, write)
        except OSError as e:
            raise KernelError(f"{ns}: sysctl {key}={value}", e.errno) from None

    def read_sysctl(self, ns: str, key: str) -> str:
        path = "/proc/sys/" + key.replace(".", "/")

        def read() -> str:
            with open(path) as f:
                return f.read().strip()

        return self.in_netns(ns, read)
