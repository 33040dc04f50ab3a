"""The plan of hosts (EC2 instances) and of API Gateway's own data-plane host.

Part of `build`: a host's ENI request, then, once it has an address, its
EC2-style hostname, gateway and resolv.conf.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from hyperplane_emu.plan import apigateway, names
from hyperplane_emu.plan.enirequest import EniRequest
from hyperplane_emu.plan.model import PlanCertificate, PlanEni, PlanHost, PlanServe, PlanVpc
from hyperplane_emu.spec.model import HostCertificate, Topology


def host_requests(topo: Topology, t: str, vpcs: dict[str, PlanVpc]) -> list[EniRequest]:
    requests: list[EniRequest] = []
    for vname, v in topo.vpcs.items():
        for hname, h in v.hosts.items():
            ip = IPv4Address(h.private_ip) if h.private_ip else None
            requests.append(
                EniRequest(
                    "host",
                    f"vpcs.{vname}.hosts.{hname}",
                    vname,
                    h.subnet,
                    hname,
                    f"Primary network interface of {hname}",
                    tuple(vpcs[vname].security_groups[g].id for g in h.security_groups),
                    h.source_dest_check,
                    names.namespace(t, hname),
                    ip,
                )
            )
    return requests


def hosts(
    topo: Topology, region: str, vpcs: dict[str, PlanVpc], by_path: dict[str, PlanEni]
) -> dict[str, PlanHost]:
    out = {}
    agw = by_path.get("apigateway.data-plane")
    if agw is not None:
        pv = vpcs[apigateway.VPC]
        out[apigateway.HOST] = PlanHost(
            name=apigateway.HOST,
            vpc=apigateway.VPC,
            subnet=agw.subnet,
            namespace=agw.namespace,
            hostname=hostname(region, IPv4Address(agw.ip)),
            enis=(agw.id,),
            gateway=pv.subnets[agw.subnet].router_ip,
            resolv_conf=resolv_conf(region, pv.dns_ip),
        )
    for vname, v in topo.vpcs.items():
        pv = vpcs[vname]
        for hname, h in v.hosts.items():
            e = by_path[f"vpcs.{vname}.hosts.{hname}"]
            out[hname] = PlanHost(
                name=hname,
                vpc=vname,
                subnet=h.subnet,
                namespace=e.namespace,
                hostname=hostname(region, IPv4Address(e.ip)),
                enis=(e.id,),
                gateway=pv.subnets[h.subnet].router_ip,
                resolv_conf=resolv_conf(region, pv.dns_ip),
                serve=tuple(PlanServe(s.kind, s.port, s.tls) for s in h.serve),
                certificate=_certificate(h.certificate, region, e.ip),
            )
    return out


def _certificate(c: HostCertificate | None, region: str, ip: str) -> PlanCertificate | None:
    if c is None:
        return None
    names = c.names or (hostname(region, IPv4Address(ip)), ip)
    return PlanCertificate(names, c.issuer)


def hostname(region: str, ip: IPv4Address) -> str:
    """EC2's private DNS hostname (IP-based naming)."""
    dashed = "ip-" + str(ip).replace(".", "-")
    return f"{dashed}.{_search_domain(region)}"


def _search_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def resolv_conf(region: str, dns_ip: str) -> str:
    return f"nameserver {dns_ip}\nsearch {_search_domain(region)}\noptions timeout:2 attempts:2\n"
