"""Cloud Map resources -> the topology's `cloud_map` (namespaces, services, instances)."""

from __future__ import annotations

from typing import Any

from hyperplane_emu.cfn.intrinsics import Resource
from hyperplane_emu.cfn.props import Props
from hyperplane_emu.cfn.rtypes import HTTP_NAMESPACE, NAMESPACE, SD_INSTANCE, SD_SERVICE, VPC
from hyperplane_emu.cfn.translate import Handler, Translator


def _cloud_map(tr: Translator) -> dict[str, Any]:
    return tr.topology.setdefault("cloud_map", {"namespaces": {}, "services": {}})


def _namespace(tr: Translator, res: Resource) -> None:
    private = res.type == NAMESPACE
    p = Props(tr, res)
    name = p.string("Name", required=True)
    ns: dict[str, Any] = {"type": "dns_private" if private else "http"}
    if private:
        vpc = p.ref("Vpc", VPC, required=True)
        if vpc is None:
            return
        ns["vpc"] = tr.names[vpc.id]
    if not name:
        return
    _cloud_map(tr)["namespaces"][name] = ns
    tr.where(res.id, f"cloud_map.namespaces.{name}")


def _sd_service(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    ns_value = p.raw("NamespaceId") or p.mapping("DnsConfig").get("NamespaceId")
    if ns_value is None:
        p.error("", "a Cloud Map service needs NamespaceId (or DnsConfig.NamespaceId)")
        return
    ns = tr.owner(ns_value, p.path("NamespaceId"), (NAMESPACE, HTTP_NAMESPACE))
    if ns is None or ns.id not in tr.out.names:
        return
    name = p.string("Name") or tr.names[res.id]
    ns_name = tr.out.names[ns.id].split(".", 2)[2]
    _cloud_map(tr)["services"][name] = {"namespace": ns_name, "instances": {}}
    tr.where(res.id, f"cloud_map.services.{name}")


def _sd_instance(tr: Translator, res: Resource) -> None:
    p = Props(tr, res)
    svc = p.ref("ServiceId", SD_SERVICE, required=True)
    if svc is None or svc.id not in tr.out.names:
        return
    attrs = p.mapping("InstanceAttributes", required=True)
    inst: dict[str, Any] = {}
    apath = p.path("InstanceAttributes")
    ip = attrs.get("AWS_INSTANCE_IPV4")
    if ip is None:
        p.error(
            "InstanceAttributes",
            "AWS_INSTANCE_IPV4 is needed (the emulator reaches instances by address)",
        )
        return
    host = _host_of_ip(tr, str(ip))
    if host:
        inst["host"] = host
    else:
        inst["ip"] = str(ip)
    port = p.integer(attrs.get("AWS_INSTANCE_PORT"), f"{apath}.AWS_INSTANCE_PORT")
    if port is None:
        p.error("InstanceAttributes", "AWS_INSTANCE_PORT is needed")
        return
    inst["port"] = port
    health = attrs.get("AWS_INIT_HEALTH_STATUS")
    if health is not None:
        inst["health"] = str(health).lower()
    custom = {k: str(v) for k, v in attrs.items() if not k.startswith("AWS_")}
    if custom:
        inst["attributes"] = custom
    service_path = tr.out.names[svc.id]
    instance_id = p.string("InstanceId") or tr.names[res.id]
    _cloud_map(tr)["services"][service_path.split(".", 2)[2]]["instances"][instance_id] = inst
    path = f"{service_path}.instances.{instance_id}"
    tr.where(res.id, path)


def _host_of_ip(tr: Translator, ip: str) -> str | None:
    """The host that a pinned address (`Fn::GetAtt Instance.PrivateIp`) belongs to."""
    for logical in tr.stack.resources:
        if tr.pinned(logical) == ip and logical in tr.names:
            path = tr.out.names.get(logical, "")
            if ".hosts." in path:
                return path.rsplit(".", 1)[1]
    return None


HANDLERS: dict[str, Handler] = {
    NAMESPACE: _namespace,
    HTTP_NAMESPACE: _namespace,
    SD_SERVICE: _sd_service,
    SD_INSTANCE: _sd_instance,
}
"""Type -> its translator (resources.translate_all runs them in dependence order)."""
