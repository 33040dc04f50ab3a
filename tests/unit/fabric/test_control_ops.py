"""The control protocol's op table (control.py's docstring) lists exactly the ops served."""

from __future__ import annotations

from hyperplane_emu.fabric import control


def documented_ops(doc: str) -> list[str]:
    rows = [ln for ln in doc.splitlines() if ln.startswith("| ")]
    assert rows and rows[0].startswith("| op |"), "no op table in control.py's docstring"
    return [row.split("|")[1].strip() for row in rows[1:] if not row.startswith("|---")]


def test_every_op_is_documented_once_in_dispatch_order() -> None:
    handler = control.ControlHandler(service=None)  # type: ignore[arg-type]
    assert control.__doc__ is not None
    assert documented_ops(control.__doc__) == list(handler.ops)


def test_an_undocumented_op_would_be_seen() -> None:
    assert control.__doc__ is not None
    doc = control.__doc__.replace("| nat_origin |", "| nat_origin_typo |")
    handler = control.ControlHandler(service=None)  # type: ignore[arg-type]
    assert documented_ops(doc) != list(handler.ops)


def test_unknown_op_answer_names_every_op() -> None:
    handler = control.ControlHandler(service=None)  # type: ignore[arg-type]
    answer = handler.handle(b'{"op": "nope"}')
    assert answer["ok"] is False
    assert answer["error"] == f"unknown op 'nope'; ops: {', '.join(sorted(handler.ops))}"
