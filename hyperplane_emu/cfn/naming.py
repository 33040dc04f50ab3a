"""Topology names from CloudFormation logical ids and stack names.

`OrdersNlb` -> `orders-nlb` (the CDK's 8-hex suffix dropped), within the topology's
name rules (lower-case, a letter first, at most 32 characters; a stack name at
most 16, as it prefixes namespace names).
"""

from __future__ import annotations

import re

_CDK_HASH = re.compile(r"(?<=[a-z0-9])[0-9A-F]{8}$")
_WORD = re.compile(r"[A-Z]+[0-9]*(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")
RESERVED = ("fabric", "internet", "apigateway", "onprem", "default")


def kebab(logical: str, limit: int = 32) -> str:
    """`OrdersNlbB1C2D3E4` -> `orders-nlb`; `VPCEndpoint` -> `vpc-endpoint`."""
    base = _CDK_HASH.sub("", logical) or logical
    words = [w.lower() for w in _WORD.findall(base)]
    name = "-".join(words) or "r"
    if not name[0].isalpha():
        name = "r-" + name
    name = name.replace("--", "-")
    if len(name) > limit:
        name = name[:limit].rstrip("-")
    return name


def stack_topology_name(stack: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-") or "stack"
    if not name[0].isalpha():
        name = "s-" + name
    return name[:16].rstrip("-")
