"""API Gateway resource policies: evaluate the plan's statements per request (pure).

IAM's documented logic for a resource policy and an anonymous caller (no SigV4
signature, which is what every emulated client is): an explicit `Deny` whose
resource and conditions all match wins; otherwise an `Allow` that matches
grants; otherwise the request is implicitly denied.

A statement's conditions are ANDed, a condition's values ORed (IAM "Condition
operators"). The keys and their operators are the spec's (spec/apipolicy.py),
each evaluated here, none dropped:

- `source_vpce` StringEquals aws:SourceVpce, `source_vpc` StringEquals
  aws:SourceVpc, `source_ip` IpAddress aws:SourceIp, `vpc_source_ip`
  IpAddress aws:VpcSourceIp: false when the key is absent from the request;
- `not_source_vpce` StringNotEquals aws:SourceVpce: true when it is absent
  (IAM: a negated operator holds for a missing key).

Which keys a request has depends on its path (`dispatch.condition_keys`):
through an interface endpoint aws:SourceVpce, aws:SourceVpc and
aws:VpcSourceIp (the caller's private address), never aws:SourceIp; from the
internet aws:SourceIp only.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from hyperplane_emu.plan.model import PlanPolicyStatement

SOURCE_VPCE = "aws:sourcevpce"
SOURCE_VPC = "aws:sourcevpc"
SOURCE_IP = "aws:sourceip"
VPC_SOURCE_IP = "aws:vpcsourceip"


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


@dataclass(frozen=True)
class RequestContext:
    """What a statement is matched against: the request's ARN and the global condition
    keys present for it, names in lower case (`aws:sourcevpce`, ...)."""

    resource_arn: str
    keys: Mapping[str, str]


@lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """IAM wildcard matching: `*` any run of characters (slashes too), `?` one."""
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _equals(keys: Mapping[str, str], key: str, values: Sequence[str]) -> bool:
    value = keys.get(key)
    return value is not None and value in values


def _in_cidrs(keys: Mapping[str, str], key: str, cidrs: Sequence[str]) -> bool:
    value = keys.get(key)
    if value is None:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(c, strict=False) for c in cidrs)


def conditions_hold(st: PlanPolicyStatement, keys: Mapping[str, str]) -> bool:
    if st.source_vpce and not _equals(keys, SOURCE_VPCE, st.source_vpce):
        return False
    if st.not_source_vpce and _equals(keys, SOURCE_VPCE, st.not_source_vpce):
        return False
    if st.source_vpc and not _equals(keys, SOURCE_VPC, st.source_vpc):
        return False
    if st.source_ip and not _in_cidrs(keys, SOURCE_IP, st.source_ip):
        return False
    return not st.vpc_source_ip or _in_cidrs(keys, VPC_SOURCE_IP, st.vpc_source_ip)


def applies(st: PlanPolicyStatement, ctx: RequestContext) -> bool:
    if not any(glob_regex(r).fullmatch(ctx.resource_arn) for r in st.resources):
        return False
    return conditions_hold(st, ctx.keys)


def evaluate(statements: Sequence[PlanPolicyStatement], ctx: RequestContext) -> Decision:
    allowed = False
    for st in statements:
        if not applies(st, ctx):
            continue
        if st.effect == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def request_arn(arn_prefix: str, stage: str, method: str, resource_path: str) -> str:
    """The ARN API Gateway authorizes: `<prefix>/<stage>/<METHOD>/<path without leading />`."""
    return f"{arn_prefix}/{stage}/{method}/{resource_path.lstrip('/')}"


def masked_arn(arn: str) -> str:
    """The ARN as API Gateway prints it in a denial: account id masked but its last 4 digits."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) > 4:
        parts[4] = "*" * (len(parts[4]) - 4) + parts[4][-4:]
    return ":".join(parts)
