"""Names, regions, availability zones and account ids, as AWS and the kernel allow.

Names become parts of namespace names (`he-<topology>-<host>`) and of generated
interface names, so they are lower-case, start with a letter and are short.
"""

from __future__ import annotations

import re

from yaml.nodes import Node

from hyperplane_emu.prefix import PREFIX
from hyperplane_emu.spec.nodes import Ctx

NAME = re.compile(r"[a-z][a-z0-9-]*")
TOPOLOGY_NAME_MAX = 16
NAME_MAX = 32
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
RESERVED_HOSTS = ("fabric",)
"""`he-<topology>-fabric` is the fabric's namespace, so no host may be called that."""


def name(ctx: Ctx, text: str, node: Node, path: str, what: str, limit: int = NAME_MAX) -> bool:
    """Check a name written as a key or value; True when it is acceptable."""
    if not NAME.fullmatch(text):
        ctx.error(
            path,
            node,
            f"{what} name {text!r} must match [a-z][a-z0-9-]* "
            "(lower-case letter first, then letters, digits, '-')",
        )
        return False
    if len(text) > limit:
        ctx.error(path, node, f"{what} name {text!r} is {len(text)} characters; at most {limit}")
        return False
    return True


def host_name(ctx: Ctx, text: str, node: Node, path: str) -> bool:
    if not name(ctx, text, node, path, "host"):
        return False
    if text in RESERVED_HOSTS or text.startswith(PREFIX):
        ctx.error(
            path,
            node,
            f"host name {text!r} is reserved (fabric and {PREFIX}* are used by the emulator)",
        )
        return False
    return True


def region(ctx: Ctx, node: Node, path: str) -> str | None:
    text = ctx.text(node, path, "a region name like us-east-1")
    if text is None:
        return None
    if not REGION.fullmatch(text):
        ctx.error(path, node, f"{text!r} is not a region name (like us-east-1)")
        return None
    return text


def availability_zone(ctx: Ctx, node: Node, path: str, region_name: str | None) -> str | None:
    """An AZ of the topology's region: the region plus one letter (`us-east-1a`)."""
    text = ctx.text(node, path, "an availability zone like us-east-1a")
    if text is None:
        return None
    if not re.fullmatch(rf"{REGION.pattern}[a-z]", text):
        ctx.error(path, node, f"{text!r} is not an availability zone name (like us-east-1a)")
        return None
    if region_name is not None and text[:-1] != region_name:
        ctx.error(path, node, f"{text} is not in region {region_name} (e.g. {region_name}a)")
        return None
    return text


def account_id(ctx: Ctx, node: Node, path: str) -> str | None:
    """A 12-digit account id, written as a string so that leading zeros survive."""
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        ctx.error(path, node, f'account ids are strings: write it quoted, "{node.value}"')
        return None
    text = ctx.text(node, path, "a 12-digit account id in quotes")
    if text is None:
        return None
    if not ACCOUNT_ID.fullmatch(text):
        ctx.error(path, node, f"{text!r} is not a 12-digit account id")
        return None
    return text
