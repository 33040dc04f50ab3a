"""What the Amazon DNS server of each VPC answers, computed from the plan.

`zones(plan)` gives one `Zone` per VPC (keyed by VPC name). The resolver
process (`hyperplane_emu.services.dns`) serves a zone file written with
`zone_to_json`; it never consults anything else, so what a VPC can resolve is
fully decided here, purely and deterministically.

Where each name resolves, as AWS serves it (see docs/dns.md):

- an instance's private DNS hostname (`ip-10-0-1-5.ec2.internal`) and its PTR
  record: only inside its own VPC (VPC User Guide, "DNS attributes for your VPC");
- a Network Load Balancer's DNS name and its zonal names (`<az>.<dns name>`):
  everywhere, because they are public records of private addresses (ELB
  "Network Load Balancers", "Availability Zones": zonal DNS names);
- an interface endpoint's regional and zonal DNS names: everywhere (public);
  its private DNS names, when private DNS is on: only inside its own VPC
  (PrivateLink Guide, "DNS hostnames" / "Private DNS");
- an `execute-api` endpoint with private DNS: every
  `*.execute-api.<region>.amazonaws.com` name, inside its own VPC only (API
  Gateway Developer Guide, "Private REST APIs").

DNS is not gated by the endpoint's connection state: a pendingAcceptance or
rejected endpoint still resolves; its connections just go nowhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from hyperplane_emu.plan.model import Plan, PlanEndpoint, PlanEni

ZONE_FORMAT = 1
"""Version of the zone file written by `zone_to_json` (the resolver refuses others)."""

_REVERSE_SUFFIX = ".in-addr.arpa"


class ZoneFormatError(ValueError):
    """A zone file the resolver cannot use (not JSON, wrong version or shape)."""


@dataclass(frozen=True)
class Zone:
    """The records one VPC's resolver serves.

    `a`: lower-case FQDN without trailing dot -> IPv4 addresses (numeric order).
    `wildcards`: suffix -> addresses; matches names with one or more labels
    before the suffix (the suffix itself does not match, as with a DNS `*.`).
    `ptr`: IPv4 address -> the name its reverse lookup answers.
    """

    a: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wildcards: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ptr: dict[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[str, ...] | None:
        """Addresses of `name`, or None when the name does not exist.

        An exact record wins over a wildcard (RFC 4592: a wildcard only
        synthesises names that do not exist), and the longest wildcard suffix
        wins over a shorter one.
        """
        key = normalize(name)
        exact = self.a.get(key)
        if exact is not None:
            return exact
        labels = key.split(".")
        for i in range(1, len(labels)):
            found = self.wildcards.get(".".join(labels[i:]))
            if found is not None:
                return found
        return None

    def lookup_ptr(self, name: str) -> str | None:
        """The PTR target of a reverse name (`5.1.0.10.in-addr.arpa`), if known."""
        ip = reverse_to_ip(name)
        return None if ip is None else self.ptr.get(ip)


def normalize(name: str) -> str:
    """DNS names compare case-insensitively; zone keys carry no trailing dot."""
    return name.lower().rstrip(".")


def reverse_to_ip(name: str) -> str | None:
    """`5.1.0.10.in-addr.arpa` -> `10.0.1.5`; None for anything else."""
    key = normalize(name)
    if not key.endswith(_REVERSE_SUFFIX):
        return None
    octets = key[: -len(_REVERSE_SUFFIX)].split(".")
    if len(octets) != 4:
        return None
    try:
        return str(IPv4Address(".".join(reversed(octets))))
    except ValueError:
        return None


def reverse_name(ip: str) -> str:
    """`10.0.1.5` -> `5.1.0.10.in-addr.arpa`."""
    return ".".join(reversed(ip.split("."))) + _REVERSE_SUFFIX


class _Builder:
    """Accumulates records; the same name from two sources gets both address sets."""

    def __init__(self) -> None:
        self.a: dict[str, set[str]] = defaultdict(set)
        self.wildcards: dict[str, set[str]] = defaultdict(set)
        self.ptr: dict[str, str] = {}

    def add(self, name: str, ips: Iterable[str]) -> None:
        key = normalize(name)
        if key.startswith("*."):
            self.wildcards[key[2:]].update(ips)
        else:
            self.a[key].update(ips)

    def zone(self) -> Zone:
        return Zone(
            a={n: _sorted_ips(ips) for n, ips in sorted(self.a.items()) if ips},
            wildcards={n: _sorted_ips(ips) for n, ips in sorted(self.wildcards.items()) if ips},
            ptr=dict(sorted(self.ptr.items(), key=lambda kv: IPv4Address(kv[0]))),
        )


def _sorted_ips(ips: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(ips), key=IPv4Address))


def zones(plan: Plan) -> dict[str, Zone]:
    """One zone per VPC of the plan, keyed by VPC name."""
    builders = {name: _Builder() for name in plan.vpcs}
    enis = {e.id: e for e in plan.enis}

    def everywhere(name: str, ips: Iterable[str]) -> None:
        ips = tuple(ips)
        for b in builders.values():
            b.add(name, ips)

    for host in plan.hosts.values():
        b = builders[host.vpc]
        for index, eni_id in enumerate(host.enis):
            eni = enis[eni_id]
            # EC2 gives every private address an IP-based name in the same
            # domain; the instance's own hostname is the primary ENI's.
            name = host.hostname if index == 0 else _ip_name(host.hostname, eni.ip)
            b.add(name, (eni.ip,))
            b.ptr[eni.ip] = normalize(name)

    for lb in plan.load_balancers.values():
        nodes = [enis[e] for e in lb.enis]
        everywhere(lb.dns_name, (e.ip for e in nodes))
        for az in sorted({e.az for e in nodes}):
            everywhere(f"{az}.{lb.dns_name}", (e.ip for e in nodes if e.az == az))

    for ep in plan.endpoints.values():
        nodes = [enis[e] for e in ep.enis]
        ips = tuple(e.ip for e in nodes)
        if ep.dns_names:
            everywhere(ep.dns_names[0], ips)
            for name, zonal in _zonal_names(ep, nodes):
                everywhere(name, zonal)
        if ep.private_dns:
            own = builders[ep.vpc]
            for name in ep.private_dns_names:
                own.add(name, ips)
            if ep.service == "execute-api":
                own.add(f"*.execute-api.{plan.region}.amazonaws.com", ips)

    # Cloud Map private DNS namespaces: `<service>.<namespace>` -> healthy instances,
    # answered by the resolver of the namespace's VPC only (a Route 53 private zone).
    for svc in plan.cloud_map.services.values():
        ns = plan.cloud_map.namespaces.get(svc.namespace)
        if ns is not None and ns.type == "dns_private" and ns.vpc in builders:
            healthy = [i.ip for i in svc.instances.values() if i.health == "healthy"]
            builders[ns.vpc].add(f"{svc.name}.{svc.namespace}", healthy)

    # Every API's default hostname is a public record of API Gateway's regional
    # front, except inside a VPC whose execute-api endpoint has private DNS: there
    # the wildcard sends *every* API hostname to the endpoint (the seed's "all
    # requests to API Gateway APIs made from inside the VPC go through the VPC
    # endpoint"), so public APIs called that way get 403 from API Gateway.
    if plan.api_gateway is not None and plan.api_gateway.public_ip:
        captured = {
            ep.vpc for ep in plan.endpoints.values()
            if ep.service == "execute-api" and ep.private_dns
        }  # fmt: skip
        for api in plan.apis.values():
            for vname, b in builders.items():
                if vname not in captured:
                    b.add(api.hostname, (plan.api_gateway.public_ip,))

    # Private APIs: `<api-id>-<vpce-id>.execute-api.<region>.amazonaws.com` is a public
    # Route 53 alias of the endpoint's addresses (Developer Guide, "Invoke a private
    # API"), so it works from any VPC and from on premises, private DNS or not. AWS
    # creates it only for the endpoints associated with the API (RestApi
    # endpointConfiguration.vpcEndpointIds: "a list of VpcEndpointIds ... against
    # which to create Route53 ALIASes"); any other endpoint's name is NXDOMAIN.
    for api in plan.apis.values():
        if api.endpoint != "private":
            continue
        for ep in plan.endpoints.values():
            if ep.service == "execute-api" and ep.id in api.vpc_endpoint_ids:
                ips = tuple(enis[e].ip for e in ep.enis)
                everywhere(f"{api.id}-{ep.id}.execute-api.{plan.region}.amazonaws.com", ips)

    return {name: b.zone() for name, b in builders.items()}


def _ip_name(primary_hostname: str, ip: str) -> str:
    domain = primary_hostname.split(".", 1)[1] if "." in primary_hostname else ""
    label = "ip-" + ip.replace(".", "-")
    return f"{label}.{domain}" if domain else label


def _zonal_names(ep: PlanEndpoint, nodes: list[PlanEni]) -> list[tuple[str, tuple[str, ...]]]:
    """Pair each zonal DNS name with the endpoint ENI(s) in its AZ.

    AWS spells a zonal name `vpce-<id>-<suffix>-<az>.<service domain>`, so the AZ
    is the end of the first label. A name that names no AZ of the endpoint's
    ENIs is paired by position instead (the builder lists one per ENI, in order).
    """
    azs = sorted({e.az for e in nodes}, key=len, reverse=True)
    out: list[tuple[str, tuple[str, ...]]] = []
    for position, name in enumerate(ep.dns_names[1:]):
        first = normalize(name).split(".", 1)[0]
        az = next((z for z in azs if first.endswith("-" + z.lower())), None)
        if az is not None:
            out.append((name, tuple(e.ip for e in nodes if e.az == az)))
        elif position < len(nodes):
            out.append((name, (nodes[position].ip,)))
    return out


def zone_to_json(zone: Zone) -> str:
    """Byte-identical for equal zones: sorted keys, fixed indent, final newline."""
    doc = {
        "format": ZONE_FORMAT,
        "a": {n: list(ips) for n, ips in zone.a.items()},
        "wildcards": {n: list(ips) for n, ips in zone.wildcards.items()},
        "ptr": dict(zone.ptr),
    }
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def zone_from_json(text: str) -> Zone:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ZoneFormatError(f"zone file is not JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("format") != ZONE_FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else None
        raise ZoneFormatError(f"zone file has format {got!r}; this release reads {ZONE_FORMAT}")
    try:
        return Zone(
            a={normalize(n): _checked_ips(ips) for n, ips in raw.get("a", {}).items()},
            wildcards={
                normalize(n): _checked_ips(ips) for n, ips in raw.get("wildcards", {}).items()
            },
            ptr={str(IPv4Address(ip)): normalize(n) for ip, n in raw.get("ptr", {}).items()},
        )
    except (AttributeError, TypeError, ValueError) as e:
        raise ZoneFormatError(f"zone file does not match the zone model: {e}") from None


def _checked_ips(ips: object) -> tuple[str, ...]:
    if not isinstance(ips, list):
        raise TypeError(f"expected a list of addresses, got {type(ips).__name__}")
    return tuple(str(IPv4Address(ip)) for ip in ips)


WITHDRAWN_FILE = "dns-withdrawn.json"
"""In the state directory: the NLB node addresses the health checker takes out of
DNS answers (`withdrawn`), read by every VPC's resolver."""


def withdrawn(plan: Plan, health: Mapping[tuple[str, str, str], str]) -> list[str]:
    """NLB node addresses to leave out of DNS answers, from target health
    ``(lb key, target group, target id) -> state``.

    AWS ("Health checks for Network Load Balancer target groups"): "If target
    groups don't have a healthy target in an enabled Availability Zone, we remove
    the IP address for the corresponding subnet from DNS". With cross-zone load
    balancing a node reaches every AZ's targets, so it is withdrawn only when no
    target is healthy anywhere; the resolver keeps every address of a name whose
    addresses are all withdrawn (fail open)."""
    out: list[str] = []
    for key, lb in plan.load_balancers.items():
        if lb.kind != "nlb":
            continue
        healthy_azs = {
            t.az
            for name, tg in lb.target_groups.items()
            for t in tg.targets
            if health.get((key, name, t.id)) == "healthy"
        }
        for eni_id in lb.enis:
            node = plan.eni(eni_id)
            if not (healthy_azs if lb.cross_zone else healthy_azs & {node.az}):
                out.append(node.ip)
    return sorted(out)
