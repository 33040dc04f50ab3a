"""The records `reference_tree` is written in: one `Section` per kind of mapping,
one `Key` per hand-written fact. A leaf module: the tree imports it, and the
generator (`reference`) imports both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    """Hand-written facts about one key, where the model alone does not say enough."""

    text: str = ""
    """What the key means, when the model field has no docstring or comment, or
    the file's shape differs from the model's (`port: 80-90` -> two ints)."""
    field: str | None = None
    """The model field it fills, when its name differs from the key; "" for a key
    that fills no field of its own (a shorthand such as `vpc_link`)."""
    default: str | None = None
    """Overrides the dataclass default (the loader computes some defaults)."""
    values: str | None = None
    """Overrides what the model's type says about allowed values."""


@dataclass(frozen=True)
class Section:
    """One kind of mapping in a topology file."""

    pattern: str
    """Where it sits: `vpcs.<vpc>.hosts.<host>`; `<x>` is a name you choose,
    `[]` a list item."""
    title: str
    keys: tuple[str, ...]
    """Names of the spec tuples (or dicts) the loader checks, `module.NAME`
    relative to `hyperplane_emu.spec`; a literal `=a,b` when the loader writes
    the tuple inline."""
    model: type | None = None
    required: tuple[tuple[str, ...], ...] = ((),)
    """Required keys as the loader checks them; more than one tuple when it
    depends on the other keys written (a target with `ip` needs no `host`)."""
    refused: tuple[str, ...] = ()
    """`module.NAME` of dicts key -> reason: keys the loader recognises in order
    to refuse them with that reason (another product's attribute, not emulated)."""
    docs: Mapping[str, Key] = field(default_factory=dict)
    intro: str = ""
    also: tuple[str, ...] = ()
    """More patterns with the same shape (an action under a rule and a listener)."""
    defaults: object | None = None
    """A model instance whose values are the defaults, when the loader starts from
    one rather than from the class defaults (an ALB's health check)."""
    model_intro: bool = True
    """False when the model class's docstring is about another product (an ALB's
    health check shares `HealthCheck`, whose docstring gives NLB defaults)."""
