"""The top level of a topology file: name, region, accounts, settings, VPCs.

Reads the substrate, then runs the registered section parsers (see
`sections`) on the partial model, then either returns the frozen `Topology`
or raises one `SpecError` with every issue found.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yaml.nodes import Node

from hyperplane_emu.spec import names, refs, vpcs
from hyperplane_emu.spec.apis import parse_apis
from hyperplane_emu.spec.cloudmap import parse_cloud_map
from hyperplane_emu.spec.errors import TOP, SpecError
from hyperplane_emu.spec.flowlogs import parse_flow_logs
from hyperplane_emu.spec.model import Settings, Topology, Vpc
from hyperplane_emu.spec.nacls import parse_network_acls
from hyperplane_emu.spec.nodes import Ctx, MapView
from hyperplane_emu.spec.onprem import parse_on_premises
from hyperplane_emu.spec.privatelink import parse_endpoint_services, parse_endpoints
from hyperplane_emu.spec.sections import TOPOLOGY_SECTIONS, VPC_SECTIONS
from hyperplane_emu.spec.yamltree import Document

CORE_KEYS = ("name", "region", "accounts", "settings", "vpcs")
DEFAULT_ACCOUNT_ID = "111122223333"
REGISTERED = (
    parse_endpoint_services,
    parse_endpoints,
    parse_network_acls,
    parse_flow_logs,
    parse_cloud_map,
    parse_apis,
    parse_on_premises,
)
"""Imported for their section registrations (privatelink imports loadbalancers,
which registers first: see `sections.VPC_SECTIONS` on order; top-level sections
run in registration order too, and `apis` imports `cloudmap` through `apitargets`
so that Cloud Map services exist when routes name them)."""
SETTINGS_RANGES: dict[str, tuple[int, int]] = {
    "conntrack_max": (1, 10_000_000),
    "flow_log_interval": (1, 600),
    "mtu": (1280, 9001),
}
SETTINGS_KEYS = (*SETTINGS_RANGES, "backend_trusted_cas")


def build(ctx: Ctx, doc: Document, source: str) -> Topology:
    """Turn a parsed document into a Topology or raise SpecError with all issues."""
    ctx.issues.extend(doc.issues)
    if doc.root is None or doc.aliases:
        # Nothing to walk, or aliases left placeholders that would only add noise.
        raise SpecError(ctx.issues, source)
    topology = _topology(ctx, doc.root, source)
    if ctx.issues or topology is None:
        raise SpecError(ctx.issues, source)
    return dataclasses.replace(topology, warnings=tuple(str(w) for w in ctx.warnings))


def _topology(ctx: Ctx, root: Node, source: str) -> Topology | None:
    view = ctx.mapping(root, TOP)
    if view is None:
        return None
    view.path = ""  # its keys are top-level paths (`name`), not `(top level).name`
    view.check_keys((*CORE_KEYS, *TOPOLOGY_SECTIONS), required=("name", "region", "vpcs"))

    name = None
    name_node = view.get("name")
    if name_node is not None:
        text = ctx.text(name_node, "name", "a topology name")
        if text is not None and names.name(
            ctx, text, name_node, "name", "topology", names.TOPOLOGY_NAME_MAX
        ):
            name = text

    region_node = view.get("region")
    region = names.region(ctx, region_node, "region") if region_node is not None else None

    accounts = _accounts(ctx, view)
    settings = _settings(ctx, view, source)

    vpc_views: dict[str, MapView] = {}
    vpc_map: dict[str, Vpc] = {}
    vpcs_node = view.get("vpcs")
    if vpcs_node is not None:
        vpcs_view = ctx.mapping(vpcs_node, "vpcs")
        if vpcs_view is not None and len(vpcs_view) == 0:
            ctx.error("vpcs", vpcs_node, "at least one VPC is needed")
        # Every VPC written, valid or not, for references from sections (spec.refs).
        refs.declare(ctx, "vpcs", vpcs_view)
        host_owner: dict[str, str] = {}
        for key, path, node in vpcs_view.items() if vpcs_view is not None else ():
            good_name = names.name(ctx, key, vpcs_view.key_node(key), path, "VPC")  # type: ignore[union-attr]
            vpc, sub_view = vpcs.parse_vpc(ctx, key, node, path, region, accounts, host_owner)
            if sub_view is not None:
                vpc_views[key] = sub_view
            if vpc is not None and good_name:
                vpc_map[key] = vpc

    topology = Topology(name or "", region or "", accounts, vpc_map, settings, source)
    topology = _run_vpc_sections(ctx, topology, vpc_views)
    # Registration order, not file order: `apis` refers to `cloud_map` wherever it is written.
    for key, parser in list(TOPOLOGY_SECTIONS.items()):
        section_node = view.get(key)
        if section_node is not None:
            topology = parser(ctx, section_node, view.path_of(key), topology)
    return topology if name and region else None


def _run_vpc_sections(ctx: Ctx, topology: Topology, vpc_views: dict[str, MapView]) -> Topology:
    """Each registered section across all VPCs, then the next: a parser may refer to
    what an earlier-registered section built in any VPC (endpoints -> endpoint
    services of another VPC), whatever the order of the file."""
    changed = dict(topology.vpcs)
    for section, parser in list(VPC_SECTIONS.items()):
        for vpc_name, view in vpc_views.items():
            node = view.get(section)
            if node is None:
                continue
            path = view.path_of(section)
            so_far = dataclasses.replace(topology, vpcs=dict(changed))
            vpc = changed.get(vpc_name)
            if vpc is not None:
                changed[vpc_name] = parser(ctx, node, path, vpc, so_far)
            else:
                # The VPC itself is broken; still let the section report its own problems.
                stub = Vpc(vpc_name, "", "", {}, {}, {})
                parser(ctx, node, path, stub, so_far)
    return dataclasses.replace(topology, vpcs=changed)


def _accounts(ctx: Ctx, view: MapView) -> dict[str, str]:
    """Account key -> id; `customer` is always there (the default owner of VPCs)."""
    accounts: dict[str, str] = {}
    node = view.get("accounts")
    written = ctx.mapping(node, "accounts", null_ok=True) if node is not None else None
    for key, path, value in written.items() if written is not None else ():
        good_name = names.name(ctx, key, written.key_node(key), path, "account")  # type: ignore[union-attr]
        account_id = names.account_id(ctx, value, path)
        # Keys count as existing even when broken, so VPCs naming them are not reported too.
        accounts[key] = account_id if good_name and account_id else ""
    accounts.setdefault(vpcs.DEFAULT_ACCOUNT, DEFAULT_ACCOUNT_ID)
    return accounts


def _settings(ctx: Ctx, view: MapView, source: str) -> Settings:
    node = view.get("settings")
    written = ctx.mapping(node, "settings", null_ok=True) if node is not None else None
    if written is None:
        return Settings()
    written.check_keys(SETTINGS_KEYS)
    values: dict[str, int] = {}
    for key, (low, high) in SETTINGS_RANGES.items():
        value_node = written.get(key)
        if value_node is not None:
            value = ctx.integer(value_node, written.path_of(key), low, high)
            if value is not None:
                values[key] = value
    cas_node = written.get("backend_trusted_cas")
    cas = _trusted_cas(ctx, cas_node, source) if cas_node is not None else ()
    return Settings(**values, backend_trusted_cas=cas)


def _trusted_cas(ctx: Ctx, node: Node, source: str) -> tuple[str, ...]:
    """PEM files relative to the topology file, checked now so that `up` cannot start a
    data plane that fails to load them."""
    from cryptography import x509

    items = ctx.sequence(node, "settings.backend_trusted_cas")
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    result: list[str] = []
    for item_path, item in items or []:
        text = ctx.text(item, item_path, "a CA certificate file (PEM)")
        if text is None:
            continue
        path = (base / text).resolve()
        try:
            x509.load_pem_x509_certificates(path.read_bytes())
        except OSError as e:
            ctx.error(item_path, item, f"cannot read {path}: {e.strerror or e}")
            continue
        except ValueError:
            ctx.error(item_path, item, f"{path} holds no PEM certificate")
            continue
        result.append(str(path))
    return tuple(result)
