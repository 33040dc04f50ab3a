"""The fabric process: ``python -m hyperplane_emu.fabric.daemon --state-dir DIR [options]``.

Options: ``--netns NAME``, ``--fast-path auto|off`` (`kernelpath`), ``--offloads on|off``
(`driver.OffloadMode`; default: on with the kernel fast path).

Moves into the fabric namespace (if ``--netns``), reads ``DIR/plan.json``,
opens the AF_PACKET ports (`driver.Driver`), serves ``DIR/fabric.sock``
(mode 0600, `control` protocol) from the same single-threaded epoll loop,
writes ``DIR/fabric.ready`` once serving, and runs until SIGTERM/SIGINT.
Then it writes the flow-log records still open, removes the socket and the
ready file, and exits 0. The runtime records the pid; logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from hyperplane_emu.plan import from_json
from hyperplane_emu.proctitle import set_process_name
from hyperplane_emu.realize import netns

from . import kernelpath
from .control import ControlHandler, LineReader, RequestError, error_line
from .core import Fabric
from .driver import Driver, OffloadMode

log = logging.getLogger("hyperplane_emu.fabric.daemon")

PROCESS_NAME = "he-fabric"
SEND_TIMEOUT = 2.0  # a control client that stops reading cannot stall the fabric longer


class ControlServer:
    """The unix control socket, served from the driver's epoll loop."""

    def __init__(self, driver: Driver, path: Path) -> None:
        self.driver = driver
        self.path = path
        self.handler = ControlHandler(driver)
        self._conns: dict[int, tuple[socket.socket, LineReader]] = {}
        if path.exists() or path.is_symlink():
            path.unlink()  # a stale socket of a crashed run
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            self.listener.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        self.listener.setblocking(False)
        driver.add_reader(self.listener.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        fd = conn.fileno()
        self._conns[fd] = (conn, LineReader())
        self.driver.add_reader(fd, lambda: self._readable(fd))

    def _readable(self, fd: int) -> None:
        conn, reader = self._conns[fd]
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(fd)
            return
        try:
            lines = reader.feed(data)
        except RequestError as e:
            self._send(fd, conn, error_line(str(e)))
            log.warning("control: %s", e)
            self._close(fd)
            return
        for line in lines:
            if not self._send(fd, conn, self.handler.handle_line(line)):
                return

    def _send(self, fd: int, conn: socket.socket, answer: bytes) -> bool:
        try:
            conn.settimeout(SEND_TIMEOUT)
            conn.sendall(answer)
            conn.setblocking(False)
            return True
        except OSError:
            self._close(fd)
            return False

    def _close(self, fd: int) -> None:
        conn, _ = self._conns.pop(fd)
        self.driver.remove_reader(fd)
        conn.close()

    def close(self) -> None:
        for fd in list(self._conns):
            self._close(fd)
        self.driver.remove_reader(self.listener.fileno())
        self.listener.close()
        self.path.unlink(missing_ok=True)


def serve(state_dir: Path, fast_path: str = "auto", offloads: str | None = None) -> int:
    """``offloads`` None: on when the kernel carries established flows (their speed
    needs TSO/GSO), off otherwise (every frame Python reads is a wire frame)."""
    plan = from_json((state_dir / "plan.json").read_text(encoding="utf-8"))
    fabric = Fabric(plan, clock_start=time.time())
    driver = Driver(fabric, plan, state_dir)
    kernel = kernelpath.load(fabric, plan, fast_path)
    if offloads is None:
        offloads = OffloadMode.ON.value if kernel else OffloadMode.OFF.value
    driver.open(offloads=OffloadMode(offloads))
    # Signals: the handler only asks the loop to stop; the wakeup pipe makes
    # epoll return at once instead of at the next tick.
    rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("fabric: %s, stopping", signal.Signals(signum).name)
        driver.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    driver.add_reader(rfd, lambda: _drain_pipe(rfd))
    server = ControlServer(driver, state_dir / "fabric.sock")
    ready = state_dir / "fabric.ready"
    try:
        ready.write_text(f"{os.getpid()}\n", encoding="utf-8")
        log.info("fabric %s: %d ports, control %s", plan.name, len(driver.host_enis), server.path)
        driver.run()
    finally:
        server.close()
        driver.close()  # writes the open flow-log window
        ready.unlink(missing_ok=True)
        signal.set_wakeup_fd(-1)
        os.close(rfd)
        os.close(wfd)
    log.info("fabric %s: stopped; counters %s", plan.name, _short(driver))
    return 0


def _drain_pipe(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _short(driver: Driver) -> str:
    c = driver.fabric.counters
    return ", ".join(f"{k}={v}" for k, v in sorted(c.items()) if v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="he-fabric", description=__doc__.split("\n")[0])
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--netns", help="network namespace to run in (must exist)")
    ap.add_argument(
        "--fast-path",
        choices=kernelpath.MODES,
        default=os.environ.get(kernelpath.ENV) or "auto",
        help="auto: established flows in the kernel (eBPF) when it can load; off: all in "
        f"Python (default: ${kernelpath.ENV}, else auto)",
    )
    ap.add_argument(
        "--offloads",
        choices=[m.value for m in OffloadMode],
        default=None,
        help="veth TSO/GSO/checksum offloads: off (every frame a wire frame) or on "
        "(PACKET_VNET_HDR, segmented in Python); default: on with the kernel fast path, "
        "off without",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s he-fabric[%(process)d] %(levelname)s %(message)s",
    )
    set_process_name(PROCESS_NAME)
    if args.netns:
        try:
            netns.enter(args.netns)  # before any thread exists: the whole process moves
        except OSError as e:
            log.error("fabric: cannot enter netns %s: %s", args.netns, e)
            return 1
    try:
        return serve(args.state_dir, args.fast_path, args.offloads)
    except Exception:
        log.exception("fabric: failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
