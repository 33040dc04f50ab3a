"""The vocabulary of VPC Flow Logs formats, shared by the spec (which checks a
topology's `format:`) and the fabric (which writes records in it).

AWS: VPC User Guide, "Flow log records" > "Available fields"
(https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).
A custom format is `${field}` tokens separated by single spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

V2_FIELDS: tuple[str, ...] = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
"""AWS's default format."""

FIELD_VERSIONS: dict[str, int] = {
    **dict.fromkeys(V2_FIELDS, 2),
    **dict.fromkeys(
        (
            "vpc-id",
            "subnet-id",
            "instance-id",
            "tcp-flags",
            "type",
            "pkt-srcaddr",
            "pkt-dstaddr",
        ),
        3,
    ),
    **dict.fromkeys(("region", "az-id", "sublocation-type", "sublocation-id"), 4),
    **dict.fromkeys(
        ("pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path"), 5
    ),
}
"""Every field the emulator writes, with the flow-log version that introduced it."""
FIELDS_NOT_EMULATED: dict[str, str] = {
    "ecs-cluster-arn": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-cluster-name": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-container-instance-arn": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-container-instance-id": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-container-id": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-second-container-id": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-service-name": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-task-definition-arn": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-task-arn": "ECS fields (version 7) are not emulated: there is no ECS",
    "ecs-task-id": "ECS fields (version 7) are not emulated: there is no ECS",
    "reject-reason": "reject-reason (version 8) is not emulated",
}
_FIELD = re.compile(r"\$\{([a-z0-9-]+)\}")


class FormatError(ValueError):
    """A custom format AWS would refuse (or one with fields the emulator cannot fill)."""


def parse_format(text: str) -> tuple[str, ...]:
    """`${version} ${srcaddr} ...` -> the field names, in order."""
    fields: list[str] = []
    for token in text.split(" "):
        match = _FIELD.fullmatch(token)
        if match is None:
            raise FormatError(
                f"{token!r} is not a field; write ${{field}} separated by single spaces"
                if token
                else "fields are separated by single spaces"
            )
        name = match[1]
        if name in FIELDS_NOT_EMULATED:
            raise FormatError(f"{name}: {FIELDS_NOT_EMULATED[name]}")
        if name not in FIELD_VERSIONS:
            raise FormatError(f"{name!r} is not a flow log field")
        if name in fields:
            raise FormatError(f"field {name!r} is written twice")
        fields.append(name)
    return tuple(fields)


def format_version(fields: Iterable[str]) -> int:
    """AWS: 2 for the default format, else the highest version among the fields."""
    return max((FIELD_VERSIONS.get(f, 2) for f in fields), default=2)
