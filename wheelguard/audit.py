"""The audit as a library call: scan a wheel, run the checks, filter, return one result.

The CLI, cibuildwheel hooks and the release report all go through :func:`audit_wheel`, so a
finding means the same thing wherever it shows up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from wheelguard.checks.context import AuditContext, make_context
from wheelguard.checks.registry import run_checks
from wheelguard.knowledge.trees import largest_trees
from wheelguard.model import Finding, Severity, Wheel, freeze_mapping
from wheelguard.reading.scan import ProgressFn, scan_wheel
from wheelguard.rules import RULES, Needs, lookup_rule

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from wheelguard.linkage.fetch import ProviderLookup

__all__ = ["AuditOptions", "AuditResult", "FindingFilter", "audit_wheel", "checked_rules",
           "given_inputs"]

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
    severity: Mapping[str, Severity] = field(default_factory=lambda: freeze_mapping({}))
    """Per rule code, the severity its findings get instead of the rule's default
    (``[tool.wheelguard.severity]``)."""

    @staticmethod
    def codes(keys: Iterable[str]) -> frozenset[str]:
        """Rule codes for codes or names (``WG201``, ``rpath-absolute``); KeyError if unknown."""
        return frozenset(lookup_rule(k).code for k in keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditResult:
    wheel: Wheel
    context: AuditContext
    findings: tuple[Finding, ...]
    checked: frozenset[str] = frozenset(RULES)
    """The rule codes that ran: selected, and given what they need (dependency wheels, a
    budget, a policy). A rule outside it was *not checked*; no finding of it means nothing."""
    given: frozenset[Needs] = frozenset(("linkage", "size-budget", "policy"))
    """What the audit was given of what rules may need (:attr:`wheelguard.rules.Rule.needs`)."""

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
    if options.severity:
        findings = tuple(
            replace(f, severity=options.severity[f.check]) if f.check in options.severity else f
            for f in findings
        )
    if options.select:
        findings = tuple(f for f in findings if f.check in options.select)
    if options.ignore:
        findings = tuple(f for f in findings if f.check not in options.ignore)
    if post is not None:
        findings = post(wheel, findings)
    given = given_inputs(options, linkage=ctx.linkage is not None, policy=post is not None)
    return AuditResult(wheel=wheel, context=ctx, findings=findings,
                       checked=checked_rules(options, given), given=given)


def given_inputs(options: AuditOptions, *, linkage: bool, policy: bool) -> frozenset[Needs]:
    """What an audit was given of what rules may need (``post`` is the policy pass)."""
    have: dict[Needs, bool] = {
        "linkage": linkage, "policy": policy,
        "size-budget": options.size_budget is not None or options.installed_budget is not None,
    }
    return frozenset(k for k, v in have.items() if v)


def checked_rules(options: AuditOptions, given: frozenset[Needs]) -> frozenset[str]:
    """The rules an audit runs: selected, and given what the rules table says each needs."""
    return frozenset(
        code for code, rule in RULES.items()
        if (rule.needs is None or rule.needs in given)
        and (not options.select or code in options.select)
        and code not in options.ignore
    )
