"""Hosts (instances) of one VPC: subnet, groups, built-in servers, fixed address.

Host names are global to the topology, not per VPC: each host becomes the
namespace `he-<topology>-<host>`, so two VPCs may not both have a `client`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from ipaddress import IPv4Address, IPv4Network

from yaml.nodes import Node, ScalarNode

from hyperplane_emu.spec import names, net
from hyperplane_emu.spec.model import Host, HostCertificate, Serve
from hyperplane_emu.spec.nodes import Ctx, MapView, did_you_mean
from hyperplane_emu.spec.secgroups import DEFAULT_GROUP

HOST_KEYS = (
    "subnet", "security_groups", "serve", "private_ip", "source_dest_check", "certificate",
)  # fmt: skip
SERVE_KINDS = ("echo",)
CERTIFICATE_KEYS = ("names", "issuer")
ISSUERS = ("topology", "self-signed")
_SERVE = re.compile(r"([a-z]+)(\+tls)?:([0-9]{1,9})")
_CERT_NAME = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")


class HostScope:
    """What a VPC's hosts are checked against, and what they claim as they go."""

    def __init__(
        self,
        vpc: str,
        subnets: Mapping[str, IPv4Network | None] | None,
        groups: Collection[str] | None,
        host_owner: dict[str, str],
    ) -> None:
        self.vpc = vpc
        self.subnets = subnets
        """Every subnet written, None for one whose CIDR was invalid; the whole
        mapping is None when `subnets` itself was broken (already reported), and
        then references to subnets are not checked, to avoid a cascade."""
        self.groups = groups
        """Group names usable here, or None when `security_groups` was broken."""
        self.host_owner = host_owner
        """Host name -> VPC, across the topology (shared by all VPCs)."""
        self.addresses: dict[IPv4Address, str] = {}
        """private_ip -> host, within this VPC."""


def parse_hosts(ctx: Ctx, hosts: MapView, scope: HostScope) -> dict[str, Host]:
    result: dict[str, Host] = {}
    for key, path, node in hosts.items():
        key_node = hosts.key_node(key)
        good_name = names.host_name(ctx, key, key_node, path)
        if good_name and key in scope.host_owner:
            ctx.error(
                path,
                key_node,
                f"host {key!r} already exists in VPC "
                f"{scope.host_owner[key]!r}; host names are per topology",
            )
            good_name = False
        host = _host(ctx, key, node, path, scope)
        if good_name:
            scope.host_owner[key] = scope.vpc
            if host is not None:
                result[key] = host
    return result


def _host(ctx: Ctx, name: str, node: Node, path: str, scope: HostScope) -> Host | None:
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    view.check_keys(HOST_KEYS, required=("subnet",))
    ok = True

    subnet: str | None = None
    subnet_node = view.get("subnet")
    if subnet_node is not None:
        subnet = ctx.text(subnet_node, view.path_of("subnet"))
        if subnet is not None and scope.subnets is not None and subnet not in scope.subnets:
            ctx.error(
                view.path_of("subnet"),
                subnet_node,
                f"no subnet {subnet!r} in VPC {scope.vpc!r}{did_you_mean(subnet, scope.subnets)}",
            )
            subnet = None
    ok = ok and subnet is not None

    groups: tuple[str, ...] = (DEFAULT_GROUP,)
    groups_node = view.get("security_groups")
    if groups_node is not None:
        parsed = _groups(ctx, groups_node, view.path_of("security_groups"), scope)
        ok = ok and parsed is not None
        groups = parsed or groups

    serve: tuple[Serve, ...] = ()
    parsed_serve: tuple[Serve, ...] | None = ()
    serve_node = view.get("serve")
    if serve_node is not None:
        parsed_serve = _serve(ctx, serve_node, view.path_of("serve"))
        ok = ok and parsed_serve is not None
        serve = parsed_serve or ()

    private_ip: str | None = None
    ip_node = view.get("private_ip")
    if ip_node is not None:
        private_ip = _private_ip(ctx, name, ip_node, view.path_of("private_ip"), subnet, scope)
        ok = ok and private_ip is not None

    check = True
    check_node = view.get("source_dest_check")
    if check_node is not None:
        value = ctx.boolean(check_node, view.path_of("source_dest_check"))
        ok = ok and value is not None
        check = True if value is None else value

    certificate: HostCertificate | None = None
    cert_node = view.get("certificate")
    serve_broken = serve_node is not None and parsed_serve is None
    if cert_node is not None:
        certificate = _certificate(ctx, cert_node, view.path_of("certificate"))
        ok = ok and certificate is not None
        if not any(s.tls for s in serve) and not serve_broken:
            # Accepted and ignored would be worse than refused: nothing would present it.
            ctx.error(
                view.path_of("certificate"), cert_node,
                "no TLS server presents this certificate: serve one like echo+tls:8443",
            )  # fmt: skip
            ok = False
    elif any(s.tls for s in serve):
        certificate = HostCertificate()

    if not ok or subnet is None:
        return None
    return Host(name, subnet, groups, serve, check, private_ip, certificate)


def _certificate(ctx: Ctx, node: Node, path: str) -> HostCertificate | None:
    """`{names: [orders.example.com], issuer: topology|self-signed}`."""
    view = ctx.mapping(node, path, null_ok=True)
    if view is None:
        return None
    view.check_keys(CERTIFICATE_KEYS)
    ok = True
    names_: list[str] = []
    names_node = view.get("names")
    if names_node is not None:
        items = ctx.sequence(names_node, view.path_of("names"))
        if items is None:
            ok = False
        for item_path, item in items or []:
            text = ctx.text(item, item_path, "a DNS name or IP address")
            if text is None:
                ok = False
            elif not _CERT_NAME.fullmatch(text) or ".." in text or text.endswith("."):
                ctx.error(item_path, item, f"{text!r} is not a DNS name or IP address")
                ok = False
            elif text in names_:
                ctx.error(item_path, item, f"name {text!r} is listed twice")
                ok = False
            else:
                names_.append(text)
    issuer = "topology"
    issuer_node = view.get("issuer")
    if issuer_node is not None:
        text = ctx.text(issuer_node, view.path_of("issuer"), "topology or self-signed")
        if text is not None and text not in ISSUERS:
            ctx.error(
                view.path_of("issuer"), issuer_node,
                f"unknown issuer {text!r} (known: topology, self-signed)"
                f"{did_you_mean(text, ISSUERS)}",
            )  # fmt: skip
            text = None
        ok = ok and text is not None
        issuer = text or issuer
    return HostCertificate(tuple(names_), issuer) if ok else None


def _groups(ctx: Ctx, node: Node, path: str, scope: HostScope) -> tuple[str, ...] | None:
    items = ctx.sequence(node, path)
    if items is None:
        return None
    result: list[str] = []
    ok = True
    for item_path, item in items:
        group = ctx.text(item, item_path, "a security group name")
        if group is None:
            ok = False
        elif scope.groups is not None and group not in scope.groups:
            ctx.error(
                item_path,
                item,
                f"no security group {group!r} in VPC {scope.vpc!r}"
                f"{did_you_mean(group, scope.groups)}",
            )
            ok = False
        elif group in result:
            ctx.error(item_path, item, f"security group {group!r} is listed twice")
            ok = False
        else:
            result.append(group)
    if not ok:
        return None
    # An empty list means what omitting it means on AWS: the VPC's default group.
    return tuple(result) or (DEFAULT_GROUP,)


def _serve(ctx: Ctx, node: Node, path: str) -> tuple[Serve, ...] | None:
    """`echo:8080` or a list of them; `echo+tls:8443` serves HTTPS (`certificate`)."""
    entries: list[tuple[str, Node]]
    if isinstance(node, ScalarNode):
        entries = [(path, node)]
    else:
        items = ctx.sequence(node, path)
        if items is None:
            return None
        entries = items
    result: list[Serve] = []
    ok = True
    for entry_path, entry in entries:
        text = ctx.text(entry, entry_path, "a server like echo:8080 or echo+tls:8443")
        if text is None:
            ok = False
            continue
        match = _SERVE.fullmatch(text)
        if match is None:
            ctx.error(
                entry_path, entry, f"{text!r} is not a server like echo:8080 or echo+tls:8443"
            )
            ok = False
            continue
        kind, tls, port = match[1], match[2] is not None, int(match[3])
        if kind not in SERVE_KINDS:
            ctx.error(
                entry_path,
                entry,
                f"unknown server kind {kind!r} (known: echo){did_you_mean(kind, SERVE_KINDS)}",
            )
            ok = False
        elif not 1 <= port <= 65535:
            ctx.error(entry_path, entry, f"port {port} is out of range 1..65535")
            ok = False
        elif any(s.port == port for s in result):
            ctx.error(entry_path, entry, f"port {port} is served twice")
            ok = False
        else:
            result.append(Serve(kind, port, tls))
    return tuple(result) if ok else None


def _private_ip(
    ctx: Ctx, host: str, node: Node, path: str, subnet: str | None, scope: HostScope
) -> str | None:
    ip = net.address(ctx, node, path)
    if ip is None:
        return None
    network = scope.subnets.get(subnet) if subnet and scope.subnets else None
    if network is not None:
        if ip not in network:
            ctx.error(path, node, f"{ip} is not inside subnet {subnet} ({network})")
            return None
        reason = net.reserved_reason(network, ip)
        if reason is not None:
            ctx.error(path, node, reason)
            return None
    if ip in scope.addresses:
        ctx.error(path, node, f"{ip} is already the private_ip of host {scope.addresses[ip]!r}")
        return None
    scope.addresses[ip] = host
    return str(ip)
