"""Typed errors of the spec layer: one `SpecIssue` per problem, all raised at once.

A user who fixes one error per run of `validate` gives up quickly, so the loader
never stops at the first problem: it records a `SpecIssue` (YAML path, line,
message) and carries on, then raises a single `SpecError` holding all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FILE = "(file)"
"""Path of issues about the file as a whole (size, encoding, YAML syntax)."""
TOP = "(top level)"
"""Path of issues about the top-level mapping itself."""


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem (or warning) in a topology file.

    `path` is dotted with list indexes in brackets
    (`vpcs.customer.security_groups.app.ingress[0].port`); `line` is 1-based.
    """

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path} (line {self.line})"
        return f"{where}: {self.message}"


class SpecError(Exception):
    """A topology file that cannot be loaded; `.issues` lists every problem found."""

    def __init__(self, issues: Iterable[SpecIssue], source: str = "<string>") -> None:
        self.issues: list[SpecIssue] = sorted(issues, key=_issue_order)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.issues)
        head = f"{self.source}: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


def _issue_order(issue: SpecIssue) -> tuple[int, str, str]:
    # File order reads best; issues without a line (rare) go last.
    return (issue.line if issue.line is not None else 1 << 30, issue.path, issue.message)
