"""Network Load Balancers: ids, ARNs, DNS names and the resolved target groups.

AWS shapes: load balancer ARN `arn:aws:elasticloadbalancing:<region>:<account>:
loadbalancer/net/<name>/<16 hex>`, DNS name `<name>-<16 hex>.elb.<region>.amazonaws.com`,
one ENI per enabled subnet described `ELB net/<name>/<16 hex>`, target group ARN
`…:targetgroup/<name>/<16 hex>`, listener ARN `…:listener/net/<name>/<lb hex>/<16 hex>`.
"""

from __future__ import annotations

from hyperplane_emu.plan import ids
from hyperplane_emu.plan.model import (
    PlanAlbAction,
    PlanAlbConditions,
    PlanAlbListener,
    PlanAlbRule,
    PlanFixedResponse,
    PlanHealthCheck,
    PlanListener,
    PlanTarget,
    PlanTargetGroup,
)
from hyperplane_emu.spec.model import AlbAction, LoadBalancer, TargetGroup

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


def alb_listeners(lb: LoadBalancer) -> tuple[PlanAlbListener, ...]:
    """The ALB's listeners, rules and actions (the spec's, as plan records)."""

    def action(a: AlbAction) -> PlanAlbAction:
        fr = a.fixed_response
        return PlanAlbAction(
            a.forward,
            None if fr is None else PlanFixedResponse(fr.status, fr.body, fr.content_type),
        )

    return tuple(
        PlanAlbListener(
            li.port,
            action(li.default_action),
            tuple(
                PlanAlbRule(
                    r.priority,
                    PlanAlbConditions(
                        r.conditions.path, r.conditions.host, r.conditions.http_method,
                        dict(r.conditions.http_header),
                    ),
                    action(r.action),
                )
                for r in sorted(li.rules, key=lambda rule: rule.priority)
            ),
            li.protocol,
        )
        for li in lb.alb_listeners
    )  # fmt: skip


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
        unhealthy_connection_termination=tg.unhealthy_connection_termination,
    )
