"""The audit as a library call: scan a wheel, run the checks, filter, return one result.

The CLI, cibuildwheel hooks and the release report all go through :func:`audit_wheel`, so a
finding means the same thing wherever it shows up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from wheelguard.checks.context import AuditContext, make_context
from wheelguard.checks.registry import run_checks
from wheelguard.knowledge.trees import largest_trees
from wheelguard.model import Finding, Severity, Wheel
from wheelguard.reading.scan import ProgressFn, scan_wheel
from wheelguard.rules import lookup_rule

if TYPE_CHECKING:
    from wheelguard.linkage.fetch import ProviderLookup

__all__ = ["AuditOptions", "AuditResult", "FindingFilter", "audit_wheel"]

FindingFilter = Callable[[Wheel, tuple[Finding, ...]], tuple[Finding, ...]]
"""A post-pass over findings, e.g. a policy assigning actions and waivers
(:func:`wheelguard.policy.decide.assign_actions`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditOptions:
    select: frozenset[str] = frozenset()
    """Rule codes to keep (empty: all)."""
    ignore: frozenset[str] = frozenset()
    size_budget: int | None = None
    installed_budget: int | None = None
    python: str | None = None
    """Python version ("3.12") for evaluating Requires-Dist markers; default: the running one."""
    providers: ProviderLookup | None = None
    """Where dependency wheels come from; set, the linkage checks (WG7xx) run."""
    extras: tuple[str, ...] = ()
    """Extras whose Requires-Dist count as declared in the linkage analysis."""

    @staticmethod
    def codes(keys: Iterable[str]) -> frozenset[str]:
        """Rule codes for codes or names (``WG201``, ``rpath-absolute``); KeyError if unknown."""
        return frozenset(lookup_rule(k).code for k in keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditResult:
    wheel: Wheel
    context: AuditContext
    findings: tuple[Finding, ...]

    @property
    def largest_trees(self) -> list[tuple[str, int]]:
        """Where the wheel's bytes are (what the reports show beside the findings)."""
        return largest_trees(self.wheel)

    def worst(self, *, include_waived: bool = False) -> Severity | None:
        levels = [f.severity for f in self.findings if include_waived or f.waived is None]
        return max(levels) if levels else None

    def fails(self, threshold: Severity | None) -> bool:
        """True when an unwaived finding reaches ``threshold`` (None: never fail)."""
        if threshold is None:
            return False
        return any(f.severity >= threshold and f.waived is None for f in self.findings)


def audit_wheel(
    path: str | Path,
    options: AuditOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
    post: FindingFilter | None = None,
) -> AuditResult:
    options = options or AuditOptions()
    wheel = scan_wheel(path, progress=progress, executor=executor)
    ctx = make_context(
        wheel,
        size_budget=options.size_budget,
        installed_budget=options.installed_budget,
        python=options.python,
    )
    if options.providers is not None:
        from wheelguard.linkage.emulate import analyse_linkage

        ctx = replace(ctx, linkage=analyse_linkage(
            wheel, options.providers, python=options.python, extras=options.extras,
            platform=ctx.platform, providers=ctx.providers,
        ))
    findings = run_checks(ctx)
    if options.select:
        findings = tuple(f for f in findings if f.check in options.select)
    if options.ignore:
        findings = tuple(f for f in findings if f.check not in options.ignore)
    if post is not None:
        findings = post(wheel, findings)
    return AuditResult(wheel=wheel, context=ctx, findings=findings)
