"""Snapshot of the root network namespace, to prove the suite left it untouched.

The emulator must never change the root namespace's addresses, routes, policy
rules, firewall or forwarding sysctls, and must leave no `he-*` namespace or
link behind. tests/conftest.py takes a `RootNsSnapshot` before the suite and
another after it; `differences()` lists every change in words.

Only fields that identify a configuration are kept: kernel counters and
lifetimes (IFA_CACHEINFO, RTA_CACHEINFO, expiry timers) change on their own and
would make the comparison flaky.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NETNS_DIR = "/run/netns"
PREFIX = "he-"
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.disable_ipv6",
    "net.ipv4.conf.all.rp_filter",
)

_ADDR_FIELDS = ("family", "prefixlen", "scope", "index")
_ADDR_ATTRS = ("IFA_ADDRESS", "IFA_LOCAL", "IFA_LABEL", "IFA_BROADCAST")
_ROUTE_FIELDS = ("family", "dst_len", "src_len", "tos", "proto", "scope", "type", "table")
_ROUTE_ATTRS = (
    "RTA_TABLE",
    "RTA_DST",
    "RTA_SRC",
    "RTA_GATEWAY",
    "RTA_OIF",
    "RTA_PREFSRC",
    "RTA_PRIORITY",
    "RTA_MULTIPATH",
)
_RULE_FIELDS = ("family", "action", "dst_len", "src_len", "tos", "table")
_RULE_ATTRS = (
    "FRA_TABLE",
    "FRA_PRIORITY",
    "FRA_SRC",
    "FRA_DST",
    "FRA_FWMARK",
    "FRA_IIFNAME",
    "FRA_OIFNAME",
    "FRA_GOTO",
)

Entry = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RootNsSnapshot:
    addresses: frozenset[Entry]
    routes: frozenset[Entry]
    rules: frozenset[Entry]
    nft_ruleset: str
    sysctls: Mapping[str, str]
    he_netns: frozenset[str]
    he_links: frozenset[str]


def entry(msg: Mapping[str, Any], fields: Iterable[str], attrs: Iterable[str]) -> Entry:
    """The identifying part of one netlink message, as sorted (name, repr) pairs."""
    found: dict[str, str] = {}
    for name in fields:
        if msg.get(name) is not None:
            found[name] = repr(msg[name])
    raw_attrs = dict(msg.get("attrs") or ())
    for name in attrs:
        if raw_attrs.get(name) is not None:
            found[name] = repr(raw_attrs[name])
    return tuple(sorted(found.items()))


def describe(kind: str, item: Entry) -> str:
    return kind + " " + " ".join(f"{name}={value}" for name, value in item)


def read_sysctl(name: str) -> str:
    path = "/proc/sys/" + name.replace(".", "/")
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return f"<unreadable: {e.strerror}>"


def nft_ruleset() -> str:
    """`nft -s list ruleset` (-s: without counters, which move with any traffic)."""
    nft = shutil.which("nft")
    if nft is None:
        return "<nft not installed>"
    done = subprocess.run(
        [nft, "-s", "list", "ruleset"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout if done.returncode == 0 else f"<nft failed: {done.stderr.strip()}>"


def he_netns() -> frozenset[str]:
    try:
        return frozenset(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX))
    except FileNotFoundError:
        return frozenset()


def take() -> RootNsSnapshot:
    """Read the root namespace as it is now (reading needs no root)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        addresses = frozenset(entry(m, _ADDR_FIELDS, _ADDR_ATTRS) for m in ipr.get_addr())
        routes = frozenset(
            entry(m, _ROUTE_FIELDS, _ROUTE_ATTRS)
            for family in (socket.AF_INET, socket.AF_INET6)
            for m in ipr.get_routes(family=family)
        )
        rules = frozenset(
            entry(m, _RULE_FIELDS, _RULE_ATTRS)
            for family in (socket.AF_INET, socket.AF_INET6)
            for m in ipr.get_rules(family=family)
        )
        links = frozenset(
            name
            for m in ipr.get_links()
            if (name := m.get("ifname") or dict(m.get("attrs") or ()).get("IFLA_IFNAME"))
            and str(name).startswith(PREFIX)
        )
    return RootNsSnapshot(
        addresses=addresses,
        routes=routes,
        rules=rules,
        nft_ruleset=nft_ruleset(),
        sysctls={name: read_sysctl(name) for name in SYSCTLS},
        he_netns=he_netns(),
        he_links=links,
    )


def differences(before: RootNsSnapshot, after: RootNsSnapshot) -> list[str]:
    """Every change from `before` to `after`, one line each; empty when untouched."""
    out: list[str] = []
    for kind, old, new in (
        ("address", before.addresses, after.addresses),
        ("route", before.routes, after.routes),
        ("rule", before.rules, after.rules),
    ):
        out += [f"added {describe(kind, e)}" for e in sorted(new - old)]
        out += [f"removed {describe(kind, e)}" for e in sorted(old - new)]
    if before.nft_ruleset != after.nft_ruleset:
        out.append(
            "nft ruleset changed:\n--- before\n"
            + before.nft_ruleset
            + "\n--- after\n"
            + after.nft_ruleset
        )
    for name in SYSCTLS:
        if before.sysctls.get(name) != after.sysctls.get(name):
            out.append(f"sysctl {name}: {before.sysctls.get(name)} -> {after.sysctls.get(name)}")
    out += [f"network namespace {n} left behind" for n in sorted(after.he_netns - before.he_netns)]
    out += [
        f"link {n} left in the root namespace" for n in sorted(after.he_links - before.he_links)
    ]
    return out
