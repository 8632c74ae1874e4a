"""The registry of checks: pure functions from an :class:`AuditContext` to findings.

Adding a check means writing one module with a ``run(ctx)`` function, naming it in
:func:`_registry` below, and adding its rules to :mod:`wheelguard.rules`, the one table of ids
(subject kind, policy actions, checklist item). Nothing else needs to know it exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from wheelguard.checks.context import AuditContext, Check
from wheelguard.model import Finding

__all__ = ["CHECKS", "run_checks"]


def _registry() -> tuple[Check, ...]:
    from wheelguard.checks import artifacts, duplicates, linkage, needed, record, rpath, size

    return (duplicates.run, rpath.run, needed.run, artifacts.run, record.run, size.run,
            linkage.run)


CHECKS: tuple[Check, ...] = _registry()


def run_checks(ctx: AuditContext, checks: Iterable[Check] = CHECKS) -> tuple[Finding, ...]:
    findings = [f for check in checks for f in check(ctx)]
    return tuple(sorted(findings, key=lambda f: f.sort_key))
