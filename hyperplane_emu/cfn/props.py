"""Typed reads of one resource's resolved properties, each reporting with its path.

CloudFormation is lenient where YAML is not: `Port: "80"` and `Port: 80` are the
same Integer, `"true"` is a Boolean. The readers accept those forms and report
anything else as a wrong type at `Resources.<id>.Properties.<Key>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hyperplane_emu.cfn.catalog import CATALOG
from hyperplane_emu.cfn.intrinsics import Resource

if TYPE_CHECKING:
    from hyperplane_emu.cfn.translate import Translator


class Props:
    def __init__(
        self,
        tr: Translator,
        res: Resource,
    ) -> None:
        self.tr = tr
        self.res = res
        self.values = tr.props(res)
        self.base = f"{res.path}.Properties"
        self.ok = True
        supported, ignored = (set(keys) for keys in CATALOG[res.type])
        for key in self.values:
            if key in supported:
                continue
            if key in ignored:
                props = tr.out.ignored_properties.setdefault(res.type, [])
                if key not in props:
                    props.append(key)
            else:
                tr.error(
                    f"{self.base}.{key}",
                    f"property {key!r} of {res.type} is not emulated (see docs/cloudformation.md)",
                )
                self.ok = False

    def path(self, key: str) -> str:
        return f"{self.base}.{key}"

    def place(self, topo_path: str, **sources: str) -> None:
        """The resource became `topo_path`; each keyword names the property that a key of
        it came from (for errors worded in the template's terms)."""
        self.tr.where(self.res.id, topo_path)
        for key, prop in sources.items():
            self.tr.prov(f"{topo_path}.{key}", self.path(prop))

    def error(self, key: str, message: str) -> None:
        self.tr.error(self.path(key) if key else self.res.path, message)
        self.ok = False

    def has(self, key: str) -> bool:
        return key in self.values

    def failed(self, key: str) -> bool:
        """The property was written but could not be resolved (and was reported)."""
        return (self.res.id, key) in self.tr.failed

    def raw(self, key: str, required: bool = False) -> Any:
        if key not in self.values:
            if required and (self.res.id, key) not in self.tr.failed:
                self.error("", f"{self.res.type} needs the property {key}")
            return None
        return self.values[key]

    def string(self, key: str, required: bool = False) -> str | None:
        v = self.raw(key, required)
        return self.text(v, self.path(key))

    def text(self, v: Any, path: str) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, str | int | float):
            return str(v)
        self.tr.error(path, f"expected a string, got {_kind(v)}")
        self.ok = False
        return None

    def number(self, key: str, required: bool = False) -> int | None:
        return self.integer(self.raw(key, required), self.path(key))

    def integer(self, v: Any, path: str) -> int | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | str | float):
            self.tr.error(path, f"expected an integer, got {_kind(v)}")
            self.ok = False
            return None
        try:
            f = float(v)
            if f != int(f):
                raise ValueError
            return int(f)
        except ValueError:
            self.tr.error(path, f"expected an integer, got {_kind(v)}")
            self.ok = False
            return None

    def flag(self, key: str) -> bool | None:
        return self.boolean(self.raw(key), self.path(key))

    def boolean(self, v: Any, path: str) -> bool | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        self.tr.error(path, f"expected a boolean, got {_kind(v)}")
        self.ok = False
        return None

    def items(self, key: str, required: bool = False) -> list[Any]:
        v = self.raw(key, required)
        if v is None:
            return []
        if not isinstance(v, list):
            self.error(key, f"expected a list, got {_kind(v)}")
            return []
        return v

    def attributes(self, key: str) -> Iterator[tuple[str, Any, str]]:
        """(Key, Value, path) of each {Key, Value} in the list `key`; others are reported."""
        for i, attr in enumerate(self.items(key)):
            apath = f"{self.path(key)}[{i}]"
            if not isinstance(attr, dict) or "Key" not in attr:
                self.tr.error(apath, "an attribute is {Key, Value}")
                continue
            yield str(attr["Key"]), attr.get("Value"), apath

    def mapping(self, key: str, required: bool = False) -> dict[str, Any]:
        v = self.raw(key, required)
        if v is None:
            return {}
        if not isinstance(v, dict):
            self.error(key, f"expected a mapping, got {_kind(v)}")
            return {}
        return v

    def ref(self, key: str, *types: str, required: bool = False) -> Resource | None:
        v = self.raw(key, required)
        if v is None:
            return None
        got = self.tr.owner(v, self.path(key), types)
        if got is None:
            self.ok = False
        return got

    def refs(self, key: str, *types: str, required: bool = False) -> list[Resource]:
        out = []
        for i, v in enumerate(self.items(key, required)):
            got = self.tr.owner(v, f"{self.path(key)}[{i}]", types)
            if got is None:
                self.ok = False
            else:
                out.append(got)
        return out


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, int | float):
        return f"the number {v}"
    return f"the string {v!r}"
