"""The topology as the user wrote it: frozen dataclasses, no derived values.

A `Topology` is what `spec.load()` returns once every check has passed. It holds
names and CIDRs exactly as written (normalised: `10.0.1.0/24` style, ports as
ranges); everything concrete (addresses, ids, interface names) is the plan's job.

Later issues add NLBs, endpoints, APIs, ALBs and Cloud Map. They extend the model
by adding fields with empty defaults (so older files stay valid) and registering
their section parser with `spec.sections`; nothing here is reshaped for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["tcp", "udp", "icmp", "all"]
Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class SgRule:
    """One security-group rule, with exactly one peer (AWS stores them that way).

    `peer` is either a CIDR (`10.0.0.0/16`) or a reference to another group of
    the same VPC written `sg/<name>`. Ports are inclusive; for `all` and `icmp`
    they are 0..65535 (icmp rules match every type, as a first model).
    """

    direction: Direction
    protocol: Protocol
    from_port: int
    to_port: int
    peer: str
    description: str = ""

    @property
    def peer_is_group(self) -> bool:
        return self.peer.startswith("sg/")

    @property
    def peer_group(self) -> str:
        """The referenced group's name (only valid when `peer_is_group`)."""
        return self.peer[3:]


@dataclass(frozen=True)
class SecurityGroup:
    name: str
    description: str
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    """Egress rules. A group written without an `egress` key gets AWS's default
    (all traffic to 0.0.0.0/0), materialised here as one rule."""


@dataclass(frozen=True)
class Subnet:
    name: str
    cidr: str
    az: str


@dataclass(frozen=True)
class Serve:
    """A built-in server started in a host's namespace, written `echo:8080`."""

    kind: str  # "echo" for now; later issues may add more
    port: int


@dataclass(frozen=True)
class Host:
    """An instance (or task): one namespace, one ENI in `subnet`.

    `security_groups` empty in the file means the VPC's `default` group, as an
    instance launched without groups gets on AWS; the loader fills it in.
    """

    name: str
    subnet: str
    security_groups: tuple[str, ...]
    serve: tuple[Serve, ...] = ()
    source_dest_check: bool = True
    private_ip: str | None = None


@dataclass(frozen=True)
class Vpc:
    name: str
    cidr: str
    account: str
    """The account key (a key of `Topology.accounts`) that owns this VPC."""
    subnets: dict[str, Subnet]
    security_groups: dict[str, SecurityGroup]
    """Always contains `default` (ingress from itself, all egress) unless the
    file redefines it."""
    hosts: dict[str, Host]


@dataclass(frozen=True)
class Topology:
    name: str
    region: str
    accounts: dict[str, str]
    """Account key -> 12-digit account id. `customer` always exists."""
    vpcs: dict[str, Vpc]
    settings: Settings = field(default_factory=lambda: Settings())
    source: str = ""
    """Path of the file it was loaded from, for messages."""
    warnings: tuple[str, ...] = ()
    """Things accepted but not acted on (e.g. sections not emulated yet), one line each."""


@dataclass(frozen=True)
class Settings:
    """Emulator knobs that have no AWS counterpart (or an AWS default we expose)."""

    conntrack_max: int = 65536
    flow_log_interval: int = 10
    """Seconds per flow-log aggregation window (AWS: 60 or 600; shorter here so
    that tests and the demo see records quickly)."""
    mtu: int = 9001
