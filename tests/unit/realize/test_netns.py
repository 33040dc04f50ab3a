"""realize.netns without root: the parts that never call setns (the rest: e2e test_substrate)."""

from __future__ import annotations

import os
import subprocess

import pytest

from hyperplane_emu.realize import netns


def test_exec_argv_puts_the_program_after_ip_netns_exec() -> None:
    argv = netns.exec_argv("he-x-client", ["curl", "-s", "http://a b/"])
    assert argv[0].endswith("ip") and argv[1:] == [
        "netns", "exec", "he-x-client", "curl", "-s", "http://a b/"
    ]  # fmt: skip


def test_none_means_stay_here() -> None:
    here = os.stat("/proc/thread-self/ns/net").st_ino
    with netns.entered(None):
        assert os.stat("/proc/thread-self/ns/net").st_ino == here
    with netns.child_entry(None) as preexec:
        assert preexec is None
        assert subprocess.run(["true"], preexec_fn=preexec).returncode == 0


def test_a_missing_namespace_fails_in_the_caller_and_is_never_created() -> None:
    name = f"he-unit-{os.getpid()}-missing"
    assert netns.inode(name) is None
    with pytest.raises(FileNotFoundError), netns.child_entry(name):
        pass
    with pytest.raises(FileNotFoundError):
        netns.run_in(name, lambda: 1)
    with pytest.raises(FileNotFoundError), netns.entered(name):
        pass
    assert not os.path.exists(netns.path(name))
