"""Plan -> namespaces, veths, addresses, routes and sysctls.

Every creation is announced to `record` *before* it happens (the runtime writes
it to the journal), so a crash at any point leaves a journal that names
everything that may exist. Only namespaces and files need undoing: a veth
lives inside a namespace and disappears with it.

Order: all namespaces first (with IPv6 off before any interface exists, so no
link-local addresses or router solicitations appear in captures), then every
veth from one netlink session in the fabric namespace, then each host's side.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from hyperplane_emu.plan.model import Plan, PlanEni
from hyperplane_emu.realize.kernel import KernelDoor

Record = Callable[[dict[str, Any]], None]
Progress = Callable[[str], None]

ETC_NETNS = "/etc/netns"

# IPv6 is not emulated yet; an interface with it on sends router and neighbour
# solicitations that the fabric would have to drop and users would see.
NS_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
# The fabric namespace has no IP stack of its own: it never routes (the Python
# fabric does) and holds no addresses.
FABRIC_SYSCTLS = {**NS_SYSCTLS, "net.ipv4.ip_forward": "0"}


def namespaces(plan: Plan) -> list[str]:
    """Every namespace of the plan, fabric first, then in ENI port order."""
    out = [plan.fabric_namespace]
    for e in plan.enis:
        if e.port >= 0 and e.namespace not in out:
            out.append(e.namespace)
    return out


# NLB node namespaces exist only for health checks; their ephemeral ports stay
# below the range the fabric uses for the NLB's source NAT (fabric.nlb.NAT_PORTS).
NLB_SYSCTLS = {**NS_SYSCTLS, "net.ipv4.ip_local_port_range": "1024 9999"}
LINK_LOCAL_DNS = "169.254.169.253"


def realize(
    plan: Plan,
    kernel: KernelDoor,
    record: Record,
    progress: Progress = lambda _: None,
    offloads: Callable[[str, str], object] | None = None,
    etc_netns: str = ETC_NETNS,
) -> None:
    """Build the plan's network. Raises KernelError; the caller undoes the journal."""
    _namespace(kernel, record, plan.fabric_namespace, FABRIC_SYSCTLS)
    kinds = {e.namespace: e.kind for e in plan.enis if e.port >= 0}
    for ns in namespaces(plan)[1:]:
        _namespace(kernel, record, ns, NLB_SYSCTLS if kinds[ns] == "nlb" else NS_SYSCTLS)
    for h in plan.hosts.values():
        record({"kind": "dir", "path": os.path.join(etc_netns, h.namespace)})
        write_resolv_conf(os.path.join(etc_netns, h.namespace), h.resolv_conf)
    progress(f"{len(namespaces(plan))} namespaces")

    veths = [e for e in plan.enis if e.port >= 0]
    with kernel.session(plan.fabric_namespace) as fab:
        for e in veths:
            fab.veth(e.fabric_ifname, e.namespace, e.ifname)
            fab.configure(e.fabric_ifname, mac=e.fabric_mac, mtu=e.mtu)
            fab.up(e.fabric_ifname)
    for e in veths:
        _owner_side(kernel, plan, e)
    if offloads is not None:
        for e in veths:
            offloads(e.ifname, e.namespace)
            offloads(e.fabric_ifname, plan.fabric_namespace)
    progress(f"{len(veths)} ENIs")


def _namespace(kernel: KernelDoor, record: Record, name: str, sysctls: dict[str, str]) -> None:
    record({"kind": "netns", "name": name})
    kernel.netns_create(name)
    for k, v in sysctls.items():
        kernel.sysctl(name, k, v)
    with kernel.session(name) as s:
        s.up("lo")


def _owner_side(kernel: KernelDoor, plan: Plan, e: PlanEni) -> None:
    with kernel.session(e.namespace) as s:
        s.configure(e.ifname, mac=e.mac, mtu=e.mtu)
        s.address(e.ifname, e.ip, e.prefixlen)
        if e.kind == "resolver":
            s.address(e.ifname, LINK_LOCAL_DNS, 32)
        s.up(e.ifname)
        if e.subnet:
            s.default_route(plan.vpcs[e.vpc].subnets[e.subnet].router_ip, e.ifname)


def write_resolv_conf(d: str, content: str) -> None:
    """`ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: the host's resolver."""
    os.makedirs(d, mode=0o755, exist_ok=True)
    with open(os.path.join(d, "resolv.conf"), "w") as f:
        f.write(content)


def undo(entry: dict[str, Any], kernel: KernelDoor) -> bool:
    """Undo one journal entry of this layer; False when there was nothing to undo."""
    if entry["kind"] == "netns":
        return kernel.netns_delete(entry["name"])
    if entry["kind"] == "dir":
        path = entry["path"]
        # Only ever a directory we named: …/netns/he-…
        parent, base = os.path.split(os.path.normpath(path))
        if not (base.startswith("he-") and os.path.basename(parent) == "netns"):
            raise ValueError(f"refusing to remove {path}: not an emulator directory")
        if os.path.isdir(path):
            shutil.rmtree(path)
            return True
        return False
    raise ValueError(f"not a realize journal entry: {entry}")
