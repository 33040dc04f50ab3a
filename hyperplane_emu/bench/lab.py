"""A throwaway set of network namespaces for benchmarks and end-to-end tests.

`Lab` creates namespaces, veths, addresses, routes and processes, remembers
each one, and `close()` removes exactly those (processes by pid, then the
namespaces, which takes their veths with them). Every name must start with
``he-``: the emulator's rule for anything it creates on a machine.

Netlink goes through the project's one door to the kernel (`realize.Kernel`),
and processes enter their namespace in the child between fork and exec
(`realize.netns`, the one way into a namespace), as the runtime's do.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from hyperplane_emu.fabric.offload import disable_offloads
from hyperplane_emu.realize import Kernel, KernelError
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
        self.kernel = Kernel()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ objects

    def netns(self, suffix: str) -> str:
        """Create namespace ``<prefix><suffix>``; one left by a crashed run is replaced."""
        name = self.prefix + suffix
        self.kernel.netns_delete(name)
        self.kernel.netns_create(name)
        self.namespaces.append(name)
        with self.kernel.session(name) as s:
            s.up("lo")
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
        with self.kernel.session(ns_a) as s:
            s.veth(if_a, ns_b, if_b)
            s.configure(if_a, mac=mac_a, mtu=mtu)
            s.up(if_a)
        with self.kernel.session(ns_b) as s:
            s.configure(if_b, mac=mac_b, mtu=mtu)
            s.up(if_b)
        if offloads_off:
            disable_offloads(if_a, ns_a)
            disable_offloads(if_b, ns_b)

    def address(self, ns_name: str, ifname: str, ip: str, prefixlen: int) -> None:
        with self.kernel.session(ns_name) as s:
            s.address(ifname, ip, prefixlen)

    def default_route(self, ns_name: str, gateway: str) -> None:
        with self.kernel.session(ns_name) as s:
            s.default_route(gateway)

    def sysctl(self, ns_name: str, key: str, value: str) -> None:
        self.kernel.sysctl(ns_name, key, value)

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
        for name in reversed(self.namespaces):
            try:
                self.kernel.netns_delete(name)  # False when already gone
            except KernelError as e:
                errors.append(f"netns {name}: {e}")
        self.namespaces.clear()
        if errors:
            raise LabError("cleanup: " + "; ".join(errors))
