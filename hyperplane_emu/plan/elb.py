"""Network Load Balancers: ids, ARNs, DNS names and the resolved target groups.

AWS shapes: load balancer ARN `arn:aws:elasticloadbalancing:<region>:<account>:
loadbalancer/net/<name>/<16 hex>`, DNS name `<name>-<16 hex>.elb.<region>.amazonaws.com`,
one ENI per enabled subnet described `ELB net/<name>/<16 hex>`, target group ARN
`…:targetgroup/<name>/<16 hex>`, listener ARN `…:listener/net/<name>/<lb hex>/<16 hex>`.
"""

from __future__ import annotations

from typing import Any

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import (
    PlanHealthCheck,
    PlanListener,
    PlanTarget,
    PlanTargetGroup,
)
from hyperplane_emu.spec.model import LoadBalancer, TargetGroup

PROTOCOLS = {"tcp": 6, "udp": 17, "http": 6}  # ALB target groups speak HTTP over TCP


def lb_hex(t: str, vpc: str, name: str) -> str:
    return ids.hex_digits(t, f"vpc/{vpc}/nlb/{name}", 16)


def arn_prefix(region: str, account: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account}"


def lb_arn(region: str, account: str, name: str, hexid: str) -> str:
    return f"{arn_prefix(region, account)}:loadbalancer/net/{name}/{hexid}"


def dns_name(
    region: str, name: str, hexid: str, alb: bool = False, scheme: str = "internal"
) -> str:
    """NLB `<name>-<id>.elb.<region>.amazonaws.com`; ALB
    `[internal-]<name>-<number>.<region>.elb.amazonaws.com`."""
    if alb:
        prefix = "internal-" if scheme == "internal" else ""
        return f"{prefix}{name}-{int(hexid[:9], 16)}.{region}.elb.amazonaws.com"
    return f"{name}-{hexid}.elb.{region}.amazonaws.com"


def eni_description(name: str, hexid: str, kind: str = "net") -> str:
    return f"ELB {kind}/{name}/{hexid}"


def alb_listeners(lb: LoadBalancer) -> tuple[dict[str, Any], ...]:
    """The ALB's listeners, rules and actions as plain data (the ALB process reads them)."""

    def action(a: Any) -> dict[str, Any]:
        if a.forward is not None:
            return {"type": "forward", "target_group": a.forward}
        fr = a.fixed_response
        return {"type": "fixed-response", "status": fr.status, "body": fr.body,
                "content_type": fr.content_type}  # fmt: skip

    return tuple(
        {
            "port": li.port,
            "protocol": li.protocol,
            "default_action": action(li.default_action),
            "rules": [
                {
                    "priority": r.priority,
                    "conditions": {
                        "path": list(r.conditions.path),
                        "host": list(r.conditions.host),
                        "http_method": list(r.conditions.http_method),
                        "http_header": {k: list(v) for k, v in r.conditions.http_header.items()},
                    },
                    "action": action(r.action),
                }
                for r in li.rules
            ],
        }
        for li in lb.alb_listeners
    )


def preserve_client_ip(tg: TargetGroup) -> bool:
    """AWS defaults: on for instance targets; for ip targets off with TCP, on with UDP."""
    if tg.preserve_client_ip is not None:
        return tg.preserve_client_ip
    return tg.target_type == "instance" or tg.protocol == "udp"


def listeners(
    t: str, region: str, account: str, vpc: str, lb: LoadBalancer, hexid: str
) -> tuple[PlanListener, ...]:
    out = []
    for i, li in enumerate(lb.listeners):
        lid = ids.hex_digits(t, f"vpc/{vpc}/nlb/{lb.name}/listener/{i}", 16)
        out.append(
            PlanListener(
                arn=f"{arn_prefix(region, account)}:listener/net/{lb.name}/{hexid}/{lid}",
                protocol=PROTOCOLS[li.protocol],
                port=li.port,
                target_group=li.target_group,
                idle_timeout=li.idle_timeout,
            )
        )
    return tuple(out)


def target_group(
    t: str,
    region: str,
    account: str,
    vpc: str,
    lb: str,
    tg: TargetGroup,
    targets: tuple[PlanTarget, ...],
) -> PlanTargetGroup:
    hc = tg.health_check
    tg_hex = ids.hex_digits(t, f"vpc/{vpc}/nlb/{lb}/tg/{tg.name}", 16)
    return PlanTargetGroup(
        name=tg.name,
        arn=f"{arn_prefix(region, account)}:targetgroup/{tg.name}/{tg_hex}",
        protocol=PROTOCOLS[tg.protocol],
        port=tg.port,
        target_type=tg.target_type,
        targets=targets,
        health_check=PlanHealthCheck(
            protocol=hc.protocol,
            port=hc.port if hc.port is not None else tg.port,
            path=hc.path,
            interval=hc.interval,
            timeout=hc.timeout,
            healthy_threshold=hc.healthy_threshold,
            unhealthy_threshold=hc.unhealthy_threshold,
            matcher=hc.matcher,
        ),
        preserve_client_ip=preserve_client_ip(tg),
        proxy_protocol_v2=tg.proxy_protocol_v2,
    )
