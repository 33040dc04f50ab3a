"""The plan of load balancers (NLBs and ALBs): their node ENIs, target groups, listeners.

Part of `build`: one ENI request per subnet of a load balancer, then, once
every ENI has an address, the targets resolved to ENIs and AZs. Naming, ARNs
and listeners are `elb`'s.
"""

from __future__ import annotations

from hyperplane_emu.plan import build_vpcs, elb, names
from hyperplane_emu.plan.enirequest import EniRequest
from hyperplane_emu.plan.model import PlanEni, PlanLoadBalancer, PlanTarget, PlanVpc
from hyperplane_emu.spec.errors import SpecIssue
from hyperplane_emu.spec.model import Topology


def lb_requests(topo: Topology, t: str, vpcs: dict[str, PlanVpc]) -> dict[str, list[EniRequest]]:
    """ "<vpc>/<lb>" -> one node ENI per subnet, in the file's order."""
    out: dict[str, list[EniRequest]] = {}
    for vname, v in topo.vpcs.items():
        for lbname, lb in v.load_balancers.items():
            hexid = elb.lb_hex(t, vname, lbname)
            alb = lb.type == "application"
            # ALB nodes are proxy processes with security groups, one namespace per
            # node; NLB nodes have no groups and their namespace only health-checks.
            lb_groups = tuple(
                vpcs[vname].security_groups[g].id
                for g in (lb.security_groups or (("default",) if alb else ()))
            )
            out[f"{vname}/{lbname}"] = [
                EniRequest(
                    "alb" if alb else "nlb",
                    f"vpcs.{vname}.load_balancers.{lbname}.subnets.{s}",
                    vname,
                    s,
                    lbname,
                    elb.eni_description(lbname, hexid, "app" if alb else "net"),
                    lb_groups,
                    True,
                    names.namespace(t, f"{'alb' if alb else 'nlb'}-{lbname}-{s}"),
                )
                for s in lb.subnets
            ]
    return out


def load_balancers(
    topo: Topology,
    t: str,
    region: str,
    vpcs: dict[str, PlanVpc],
    requests: dict[str, list[EniRequest]],
    by_path: dict[str, PlanEni],
    enis: list[PlanEni],
    issues: list[SpecIssue],
) -> dict[str, PlanLoadBalancer]:
    """Load balancers by "<vpc>/<lb>"; a target outside every subnet goes to `issues`."""
    host_enis = {e.owner: e for e in enis if e.kind == "host"}
    out = {}
    for vname, v in topo.vpcs.items():
        account = vpcs[vname].account_id
        for lbname, lb in v.load_balancers.items():
            key = f"{vname}/{lbname}"
            alb = lb.type == "application"
            hexid = elb.lb_hex(t, vname, lbname)
            groups = {}
            for tgname, tg in lb.target_groups.items():
                targets = []
                for i, tgt in enumerate(tg.targets):
                    port = tgt.port or tg.port
                    if tgt.host is not None:
                        he = host_enis[tgt.host]
                        # An ip target written as a host name is that host's address.
                        tid = tgt.host if tg.target_type == "instance" else he.ip
                        targets.append(PlanTarget(tid, he.ip, port, he.az, he.id))
                        continue
                    assert tgt.ip is not None
                    owner = next((e for e in enis if e.vpc == vname and e.ip == tgt.ip), None)
                    az = owner.az if owner else build_vpcs.az_of(vpcs[vname], tgt.ip)
                    if az is None:
                        issues.append(
                            SpecIssue(
                                f"vpcs.{vname}.load_balancers.{lbname}.target_groups."
                                f"{tgname}.targets[{i}]",
                                f"{tgt.ip} is in no subnet of {vname}",
                            )
                        )
                        continue
                    targets.append(
                        PlanTarget(tgt.ip, tgt.ip, port, az, owner.id if owner else None)
                    )
                groups[tgname] = elb.target_group(
                    t, region, account, vname, lbname, tg, tuple(targets)
                )
            out[key] = PlanLoadBalancer(
                key=key,
                name=lbname,
                id=hexid,
                arn=elb.lb_arn(region, account, lbname, hexid),
                vpc=vname,
                scheme=lb.scheme,
                dns_name=elb.dns_name(region, lbname, hexid, alb, lb.scheme),
                cross_zone=lb.cross_zone or alb,
                enis=tuple(by_path[r.path].id for r in requests[key]),
                listeners=elb.listeners(t, region, account, vname, lb, hexid),
                target_groups=groups,
                kind="alb" if alb else "nlb",
                security_groups=tuple(by_path[requests[key][0].path].security_groups),
                enforce_sg_inbound_on_privatelink=lb.enforce_sg_inbound_on_privatelink,
                idle_timeout=lb.idle_timeout if alb else 350,
                alb_listeners=elb.alb_listeners(lb) if alb else (),
            )
    return out
