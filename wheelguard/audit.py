"""The audit as a library call: scan a wheel, run the checks, filter, return one result.

The CLI, cibuildwheel hooks and the release report all go through :func:`audit_wheel`, so a
finding means the same thing wherever it shows up.
"""

from __future__ import annotations

import copyreg
import os
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from wheelguard.checks.context import AuditContext, make_context
from wheelguard.checks.registry import run_checks
from wheelguard.errors import InvalidWheel
from wheelguard.knowledge.trees import largest_trees
from wheelguard.model import Finding, Severity, Wheel, freeze_mapping
from wheelguard.reading.archive import Limits
from wheelguard.reading.scan import ProgressFn, scan_wheel
from wheelguard.rules import RULES, Needs, lookup_rule

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from wheelguard.linkage.fetch import ProviderLookup

__all__ = [
    "AuditOptions",
    "AuditResult",
    "FindingFilter",
    "audit_scanned",
    "audit_wheel",
    "audit_wheels",
    "checked_rules",
    "count_findings",
    "default_jobs",
    "given_inputs",
]

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
    limits: Limits | None = None
    """The archive's zip-bomb and size guards; None: the defaults."""

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
    wheel = scan_wheel(path, progress=progress, executor=executor,
                       limits=options.limits if options is not None else None)
    return audit_scanned(wheel, options, post=post)


def audit_scanned(
    wheel: Wheel, options: AuditOptions | None = None, *, post: FindingFilter | None = None
) -> AuditResult:
    """The checks over a wheel already scanned (or derived from a scan: what ``repair``
    wrote, :func:`wheelguard.repair.after.repaired_wheel`)."""
    options = options or AuditOptions()
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
    return _with_post(wheel, ctx, findings, options, post)


def _with_post(wheel: Wheel, ctx: AuditContext, findings: tuple[Finding, ...],
               options: AuditOptions, post: FindingFilter | None) -> AuditResult:
    if post is not None:
        findings = post(wheel, findings)
    given = given_inputs(options, linkage=ctx.linkage is not None, policy=post is not None)
    return AuditResult(wheel=wheel, context=ctx, findings=findings,
                       checked=checked_rules(options, given), given=given)


# --- Many wheels ------------------------------------------------------------------------------
#
# A release is 10-20 wheels. One wheel's audit holds the GIL for most of its time (parsing,
# the checks), so threads would leave cores idle: wheels go to worker processes instead, forked
# so that they start with everything imported and inherit the options as they are (a policy
# pass is a closure, which no pickle carries: it runs here, on each result as it comes back).
# Results keep the order the wheels were given in, whatever order they finish in.

_POOL_MIN_BYTES = 4 << 20
"""Below this many bytes of wheels, starting worker processes costs more than it saves."""

WheelOutcome = AuditResult | InvalidWheel
"""An audit's result, or why the wheel could not be read."""


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def audit_wheels(
    paths: Sequence[str | Path],
    options: AuditOptions | None = None,
    *,
    post: FindingFilter | None = None,
    jobs: int | None = None,
    started: Callable[[], None] | None = None,
    each: Callable[[int], None] | None = None,
    progress: ProgressFn | None = None,
) -> list[WheelOutcome]:
    """Audit every wheel; outcomes in the order of ``paths``.

    With more than one wheel, ``jobs`` (default: every core) above one and a fork-capable
    platform, the wheels are audited in that many worker processes. ``started()`` is called
    once the workers exist (start a progress display there: forking a process that runs
    threads is unsafe), ``each(i)`` as wheel ``i`` starts (in turn) or finishes (pooled), and
    ``progress`` with compressed bytes read (per wheel when pooled, as the scan reads
    otherwise).
    """
    options = options or AuditOptions()
    jobs = min(default_jobs() if jobs is None else max(1, jobs), len(paths))
    sizes = [_size(p) for p in paths]
    if jobs < 2 or sum(sizes) < _POOL_MIN_BYTES or not _can_fork():
        if started is not None:
            started()
        outcomes: list[WheelOutcome] = []
        for i, path in enumerate(paths):
            if each is not None:
                each(i)
            try:
                outcomes.append(audit_wheel(path, options, post=post, progress=progress))
            except InvalidWheel as e:
                outcomes.append(e)
        return outcomes
    return _pooled(paths, sizes, options=options, post=post, jobs=jobs, started=started,
                   each=each, progress=progress)


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _can_fork() -> bool:
    # fork: workers start at once, with the parent's modules and options. macOS and Windows
    # offer only spawn (a fresh interpreter per worker); wheels are audited in turn there.
    return sys.platform.startswith("linux")


_WORKER_OPTIONS: AuditOptions | None = None
"""The options of the pool's audit, set in the parent before the workers fork."""


def _audit_in_worker(path: str | Path) -> tuple[Wheel, AuditContext, tuple[Finding, ...]]:
    result = audit_wheel(path, _WORKER_OPTIONS)
    return result.wheel, result.context, result.findings


def _pooled(
    paths: Sequence[str | Path],
    sizes: list[int],
    *,
    options: AuditOptions,
    post: FindingFilter | None,
    jobs: int,
    started: Callable[[], None] | None,
    each: Callable[[int], None] | None,
    progress: ProgressFn | None,
) -> list[WheelOutcome]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    global _WORKER_OPTIONS  # noqa: PLW0603 - read by the forked workers, never written there
    _WORKER_OPTIONS = options
    outcomes: list[WheelOutcome | None] = [None] * len(paths)
    try:
        # Largest first, so that the last to finish is a small one; every process is forked
        # at the first submit, before the caller starts any thread (a progress bar).
        order = sorted(range(len(paths)), key=lambda i: -sizes[i])
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_audit_in_worker, paths[i]): i for i in order}
            if started is not None:
                started()
            for future in as_completed(futures):
                i = futures[future]
                outcome: WheelOutcome
                try:
                    wheel, ctx, findings = future.result()
                    outcome = _with_post(wheel, ctx, findings, options, post)
                except InvalidWheel as e:
                    outcome = e
                outcomes[i] = outcome
                if progress is not None:
                    progress(sizes[i])
                if each is not None:
                    each(i)
    finally:
        _WORKER_OPTIONS = None
    return [o for o in outcomes if o is not None]


def _proxy(data: dict[object, object]) -> types.MappingProxyType[object, object]:
    return types.MappingProxyType(data)


# The model freezes its mappings as read-only views, which pickle cannot carry; a worker's
# result crosses back as the dict it views, frozen again on arrival.
copyreg.pickle(types.MappingProxyType, lambda m: (_proxy, (dict(m),)))


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


def count_findings(findings: Sequence[Finding]) -> dict[str, int]:
    """Live findings per severity, and how many were waived: the one tally every report shows."""
    live = [f for f in findings if f.waived is None]
    return {
        "errors": sum(f.severity == Severity.ERROR for f in live),
        "warnings": sum(f.severity == Severity.WARNING for f in live),
        "info": sum(f.severity == Severity.INFO for f in live),
        "waived": len(findings) - len(live),
    }
