"""Cloud Map speaks Smithy RPC v2 CBOR to current botocore; moto 5.2 speaks its JSON.

The bridge decodes a CBOR request into the JSON moto reads (with the
`X-Amz-Target` it expects) and encodes moto's JSON answer back to CBOR along
the operation's output shape, with botocore's own CBOR codec.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

PREFIX = "/service/"


def is_cbor(path: str, headers: dict[str, str]) -> bool:
    h = {k.lower(): v for k, v in headers.items()}
    return (
        path.startswith(PREFIX)
        and "/operation/" in path
        or h.get("smithy-protocol", "") == "rpc-v2-cbor"
    )


def operation_of(path: str) -> tuple[str, str]:
    """`/service/<target prefix>/operation/<Op>` -> (target prefix, Op)."""
    parts = path.strip("/").split("/")
    return (parts[1], parts[3]) if len(parts) >= 4 else ("", "")


def decode(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    value = RpcV2CBORParser()._initial_body_parse(body)
    return value if isinstance(value, dict) else {}


def to_json(value: dict[str, Any]) -> bytes:
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.timestamp()
        if isinstance(o, bytes | bytearray):
            return o.decode("latin-1")
        raise TypeError(type(o).__name__)

    return json.dumps(value, default=default).encode()


def encode(value: Any, shape: Any) -> bytes:
    out = bytearray()
    ser = RpcV2CBORSerializer()
    if shape is None:
        ser._serialize_data_item(out, value, _Generic.of(value))
    else:
        ser._serialize_data_item(out, value, shape)
    return bytes(out)


class _Generic:
    """A stand-in shape for values without a model (error bodies): strings and maps."""

    def __init__(self, type_name: str, members: dict[str, Any] | None = None) -> None:
        self.type_name = type_name
        self.members = members or {}
        self.serialization: dict[str, Any] = {}

    @classmethod
    def of(cls, value: Any) -> _Generic:
        if isinstance(value, dict):
            return cls("structure", {k: cls.of(v) for k, v in value.items()})
        if isinstance(value, bool):
            return cls("boolean")
        if isinstance(value, int):
            return cls("integer")
        return cls("string")
