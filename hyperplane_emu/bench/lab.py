"""A throwaway set of network namespaces for benchmarks and end-to-end tests.

`Lab` creates namespaces, veths, addresses, routes and processes, remembers
each one, and `close()` removes exactly those (processes by pid, then the
namespaces, which takes their veths with them). Every name must start with
``he-``: the emulator's rule for anything it creates on a machine.

Netlink goes through pyroute2 (`NetNS` sockets opened inside the namespace);
processes enter their namespace in the child between fork and exec
(`realize.netns`, the project's one way into a namespace).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from pyroute2 import NetNS, netns

from hyperplane_emu.fabric.offload import disable_offloads
from hyperplane_emu.realize import netns as entry


class LabError(RuntimeError):
    pass


class Lab:
    def __init__(self, prefix: str) -> None:
        if not prefix.startswith("he-"):
            raise ValueError("lab names must start with he-")
        self.prefix = prefix
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ objects

    def netns(self, suffix: str) -> str:
        """Create namespace ``<prefix><suffix>``; one left by a crashed run is replaced."""
        name = self.prefix + suffix
        if name in netns.listnetns():
            netns.remove(name)
        netns.create(name)
        self.namespaces.append(name)
        with NetNS(name, flags=0) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        return name

    def veth(
        self,
        ns_a: str,
        if_a: str,
        ns_b: str,
        if_b: str,
        *,
        mtu: int,
        mac_a: str | None = None,
        mac_b: str | None = None,
        offloads_off: bool = True,
    ) -> None:
        """A veth pair created straight inside ``ns_a`` (its peer inside ``ns_b``), up."""
        with NetNS(ns_a, flags=0) as ns:
            peer: dict[str, Any] = {"ifname": if_b, "net_ns_fd": ns_b, "mtu": mtu}
            if mac_b:
                peer["address"] = mac_b
            kw: dict[str, Any] = {"ifname": if_a, "kind": "veth", "peer": peer, "mtu": mtu}
            if mac_a:
                kw["address"] = mac_a
            ns.link("add", **kw)
            ns.link("set", index=ns.link_lookup(ifname=if_a)[0], state="up")
        with NetNS(ns_b, flags=0) as ns:
            ns.link("set", index=ns.link_lookup(ifname=if_b)[0], state="up")
        if offloads_off:
            disable_offloads(if_a, ns_a)
            disable_offloads(if_b, ns_b)

    def address(self, ns_name: str, ifname: str, ip: str, prefixlen: int) -> None:
        with NetNS(ns_name, flags=0) as ns:
            idx = ns.link_lookup(ifname=ifname)[0]
            ns.addr("add", index=idx, address=ip, prefixlen=prefixlen)

    def default_route(self, ns_name: str, gateway: str) -> None:
        with NetNS(ns_name, flags=0) as ns:
            ns.route("add", dst="0.0.0.0/0", gateway=gateway)

    def sysctl(self, ns_name: str, key: str, value: str) -> None:
        # /proc/sys/net is resolved against the opening thread's namespace.
        with entry.entered(ns_name), open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)

    # ---------------------------------------------------------- processes

    def popen(self, ns_name: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside ``ns_name``; it is killed (by pid) on close()."""
        with entry.child_entry(ns_name) as preexec:
            p: subprocess.Popen[bytes] = subprocess.Popen(
                list(argv),
                preexec_fn=preexec,
                **kw,  # noqa: PLW1509 - setns must happen in the child
            )
        self.procs.append(p)
        return p

    def run(
        self, ns_name: str, argv: Sequence[str], timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        p = self.popen(ns_name, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise LabError(f"{' '.join(argv)} in {ns_name}: no exit within {timeout} s") from None
        finally:
            if p in self.procs:
                self.procs.remove(p)
        return subprocess.CompletedProcess(
            p.args, p.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )

    def wait_listening(
        self, ns_name: str, port: int, proto: str = "t", timeout: float = 10.0
    ) -> None:
        """Poll ``ss`` inside the namespace until something listens on ``port``."""
        deadline = time.monotonic() + timeout
        flag = "-Hltn" if proto == "t" else "-Hlun"
        while time.monotonic() < deadline:
            r = self.run(ns_name, ["ss", flag, f"sport = :{port}"], timeout=5)
            if r.stdout.strip():
                return
            time.sleep(0.02)
        raise LabError(f"nothing listens on {proto} port {port} in {ns_name} after {timeout} s")

    def stop(self, p: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    # ------------------------------------------------------------ cleanup

    def close(self) -> None:
        errors: list[str] = []
        for p in list(reversed(self.procs)):
            try:
                self.stop(p, timeout=3.0)
            except OSError as e:
                errors.append(f"pid {p.pid}: {e}")
        self.procs.clear()
        present = set(netns.listnetns())
        for name in reversed(self.namespaces):
            if name in present:
                try:
                    netns.remove(name)
                except OSError as e:
                    errors.append(f"netns {name}: {e}")
        self.namespaces.clear()
        if errors:
            raise LabError("cleanup: " + "; ".join(errors))

