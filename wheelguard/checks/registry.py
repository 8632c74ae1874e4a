"""The registry of checks: pure functions from an :class:`AuditContext` to findings.

Adding a check means writing one module in this package with a ``run(ctx)`` function and
adding its rules to :mod:`wheelguard.rules`, the one table of ids (subject kind, policy
actions, checklist item). The registry finds the module itself; nothing else needs to know it
exists.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from wheelguard.checks.context import AuditContext, Check
from wheelguard.model import Finding

__all__ = ["CHECKS", "run_checks"]


_NOT_CHECKS = frozenset({"context", "registry"})


def _registry() -> tuple[Check, ...]:
    """Every ``run`` of the package's check modules, in name order (findings are sorted
    afterwards, so the order only fixes which runs first)."""
    package = importlib.import_module("wheelguard.checks")
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                   if m.name not in _NOT_CHECKS and not m.name.startswith("_"))
    return tuple(importlib.import_module(f"wheelguard.checks.{n}").run for n in names)


CHECKS: tuple[Check, ...] = _registry()


def run_checks(ctx: AuditContext, checks: Iterable[Check] = CHECKS) -> tuple[Finding, ...]:
    findings = [f for check in checks for f in check(ctx)]
    return tuple(sorted(findings, key=lambda f: f.sort_key))
