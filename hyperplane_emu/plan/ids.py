"""AWS-shaped ids and MAC addresses, derived from a hash so they are stable.

AWS ids are a type prefix and 17 lower-case hex digits (`vpc-0a1b2c3d4e5f67890`).
Ours hash the topology name and the object's path inside it: the same file
gives the same ids on every run (so `plan.json` is byte-identical and a user's
notes about `eni-…` stay true), and two topologies never share an id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

# Ids another control plane already handed out (`serve`: the ids moto returned),
# keyed "<kind>:<path>" with the same paths as below. Empty unless a caller sets
# them: a topology file alone always gets the hashed ids.
_OVERRIDES: ContextVar[Mapping[str, str]] = ContextVar("id_overrides", default=MappingProxyType({}))


@contextmanager
def overrides(table: Mapping[str, str]) -> Iterator[None]:
    """Within the block, `plan.build` uses these ids instead of hashing paths."""
    token = _OVERRIDES.set(dict(table))
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def override(kind: str, path: str) -> str | None:
    return _OVERRIDES.get().get(f"{kind}:{path}")


def _digest(topology: str, path: str) -> bytes:
    return hashlib.sha256(f"hyperplane-emu/{topology}/{path}".encode()).digest()


def hex_digits(topology: str, path: str, n: int) -> str:
    given = override("hex", path)
    if given is not None:
        return given[:n].rjust(n, "0")
    return _digest(topology, path).hex()[:n]


def aws_id(prefix: str, topology: str, path: str) -> str:
    """`aws_id("eni", "shop", "host/app1/0")` -> `eni-` + 17 hex digits."""
    given = override(prefix, path)
    if given is not None:
        return given
    return f"{prefix}-{hex_digits(topology, path, 17)}"


def mac(topology: str, path: str) -> str:
    """A locally administered unicast MAC (second-lowest bit of octet 0 set, lowest clear)."""
    b = bytearray(_digest(topology, "mac/" + path)[:6])
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def dns_suffix(topology: str, path: str) -> str:
    """The 8-character random-looking part of endpoint DNS names (`vpce-…-abcd1234`)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    d = _digest(topology, "dns/" + path)
    return "".join(alphabet[b % len(alphabet)] for b in d[:8])


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _short(topology: str, path: str, n: int) -> str:
    given = override("short", path)
    if given is not None:
        return given
    d = hex_digits(topology, path, 2 * n)
    return "".join(_ALNUM[int(d[2 * i : 2 * i + 2], 16) % 36] for i in range(n))


def api_id(topology: str, name: str) -> str:
    """10 lower-case alphanumerics, as API Gateway's REST and HTTP API ids."""
    return _short(topology, f"api/{name}", 10)


def vpc_link_id(topology: str, api: str, link: str) -> str:
    """6 lower-case alphanumerics, as AWS's VPC link ids."""
    return _short(topology, f"api/{api}/vpclink/{link}", 6)
