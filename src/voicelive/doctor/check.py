"""One doctor check's result: :class:`Check`, with a status, a one-line detail and a one-line fix.

Pure data, no I/O. ``fix`` is empty when there is nothing to do. A detail or a fix never holds
a secret: the checks that touch the credential say only whether one is there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """The result of one check: ``name`` says what was checked (``echo``, ``handshake``, ...)."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """``{name, status, detail, fix}``, the ``--json`` form."""
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, "warn", detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def not_checked(name: str, because: str) -> Check:
    """A check that could not run because an earlier one failed: a fail, so the exit says so."""
    return fail(
        name, f"not checked: {because}", "fix the failure above first, then run doctor again"
    )
