"""What the next build must do differently, from the policy's decisions about one wheel.

``wheelguard repair`` carries the decisions out on the artifact; a source fix carries the same
decisions out on the build, so that the next wheel needs no repair. This module states them
in build-neutral terms (members not to ship, search-path entries to drop or replace, binaries
to ship without DWARF, requirements, preloads, libraries that compile a provider's runtime
in) and leaves the build files to :mod:`wheelguard.fixsource.skbuild` and
:mod:`wheelguard.fixsource.cmake_fix`.

It reads typed subjects and :class:`~wheelguard.policy.decide.Decisions` only, plus the
repair plan for what the plan alone computes (requirement ranges tightened, preloads), never
check codes or ``Finding.data``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import KnownProvider
from wheelguard.loader.origin import is_origin_relative, origin_entry
from wheelguard.model import Action, ArchivePath, EntryKind, Finding, MemberSubject, Wheel
from wheelguard.policy.decide import Decisions, decide
from wheelguard.policy.schema import PolicySet
from wheelguard.repair.edits import PreloadEdit, RequirementEdit
from wheelguard.repair.plan import make_plan

__all__ = ["EntryChange", "SourceNeeds", "Unembed", "source_needs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryChange:
    """One RPATH/RUNPATH entry of one binary the policy drops or replaces."""

    binary: ArchivePath
    entry: str
    kind: EntryKind
    replacement: str | None
    """The entry to write instead; None: drop it."""
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unembed:
    """A library that compiles a provider's runtime in; the build must link the provider."""

    member: ArchivePath
    library: str
    provider: KnownProvider
    distribution: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceNeeds:
    wheel: Wheel
    removed: frozenset[ArchivePath]
    """Members the next build must not ship (the repair would drop them)."""
    kept: frozenset[ArchivePath]
    """Every other payload member (what exclusion patterns must not touch)."""
    removal_reasons: Mapping[ArchivePath, str]
    entries: tuple[EntryChange, ...]
    debug: tuple[tuple[ArchivePath, str], ...]
    """Binaries that must ship without DWARF, with the rule that says so."""
    requirements: tuple[RequirementEdit, ...]
    preloads: tuple[PreloadEdit, ...]
    unembed: tuple[Unembed, ...]
    open: tuple[Finding, ...]
    """Findings no decision handles (or that a fail rule forbids without a source fix here):
    they become instructions."""
    failures: tuple[str, ...]
    """Why the repair would refuse, beyond the findings above (e.g. an unbounded C++ ABI)."""
    renames: tuple[str, ...]
    """NEEDED renames/removals the repair would make: the build should link differently."""

    @property
    def empty(self) -> bool:
        return not (self.removed or self.entries or self.debug or self.requirements
                    or self.preloads or self.unembed or self.open or self.failures
                    or self.renames)


# Grafting and retagging are the repair step's work on every build (auditwheel or wheelguard
# repair as cibuildwheel's repair-wheel-command), not a change to the build's files.
_HANDLED = frozenset({Action.STRIP.value, Action.RELINK.value, Action.DEPEND_ON_PIP.value,
                      Action.GRAFT.value, Action.RETAG.value})


def source_needs(ctx: AuditContext, findings: tuple[Finding, ...],
                 policies: PolicySet) -> SourceNeeds:
    """``findings`` as the checks produced them (no policy applied yet)."""
    wheel = ctx.wheel
    decisions = decide(policies, wheel, findings)
    plan = make_plan(ctx, findings, policies)
    removed = frozenset(plan.drops)
    # "dropped: apache-tvm-ffi provides it" says more than the rule's long reason.
    reasons = {ArchivePath(s.path): f"{s.rule}: " + (s.detail.removeprefix("dropped: ")
                                                       if s.detail.startswith("dropped: ")
                                                       else s.reason)
               for s in plan.steps if s.path in removed}
    payload = frozenset(m.path for m in wheel.members
                        if not m.path.startswith(wheel.dist_info + "/"))
    unembed = _unembedded(ctx, decisions, removed)
    covered = {u.member for u in unembed}
    open_findings = tuple(
        f for f in decisions.findings
        if f.waived is None and f.action not in _HANDLED
        and not (isinstance(f.subject, MemberSubject) and f.subject.path in covered)
    )
    fail_texts = {f"{f.check} {f.name}: {f.path or wheel.filename}: {f.message}"
                  for f in decisions.findings}
    failures = tuple(m for m in plan.failures
                     if m not in fail_texts and not m.endswith("forbidden by policy"))
    renames = tuple(f"{s.path}: {s.detail} [{s.rule}]" for s in plan.steps
                    if s.action == Action.RELINK.value and s.detail.startswith("NEEDED "))
    return SourceNeeds(
        wheel=wheel,
        removed=removed,
        kept=payload - removed,
        removal_reasons=reasons,
        entries=_entries(decisions, removed),
        debug=tuple((p, f"{v.label}: {v.rule.reason}") for p, v in sorted(
            decisions.debug.items()) if p not in removed and _has_debug(wheel, p)),
        requirements=plan.requirements,
        preloads=plan.preloads,
        unembed=unembed,
        open=open_findings,
        failures=failures,
        renames=renames,
    )


def _has_debug(wheel: Wheel, path: str) -> bool:
    return any(b.path == path and b.has_debug_info for b in wheel.binaries)


def _entries(d: Decisions, removed: frozenset[ArchivePath]) -> tuple[EntryChange, ...]:
    """The relink decisions as the plan carries them out: replace, else drop by kind."""
    out: list[EntryChange] = []
    for s, v in d.entries:
        if s.binary in removed or v.rule.relink is None:
            continue
        target = v.rule.relink.replacement(s.entry)
        if target is not None:
            new = target if is_origin_relative(target) else origin_entry(s.binary, target)
        elif v.rule.relink.drops(s.drop_kind):
            new = None
        else:
            continue
        out.append(EntryChange(binary=s.binary, entry=s.entry, kind=s.entry_kind,
                               replacement=new, reason=f"{v.label}: {v.rule.reason}"))
    return tuple(out)


def _unembedded(ctx: AuditContext, d: Decisions,
                removed: frozenset[ArchivePath]) -> tuple[Unembed, ...]:
    """Libraries tied to a provider that are not a copy of the provider's own library: they
    compile its runtime in, and only the build can take it out again."""
    out: list[Unembed] = []
    for f in d.findings:
        s = f.subject
        if not isinstance(s, MemberSubject) or s.provider is None or s.path in removed:
            continue
        if f.waived is not None or f.action in _HANDLED:
            continue
        known = next((p for p in ctx.providers if p.matches_distribution(s.provider)), None)
        if known is None:
            continue
        name = loader_name(s.library or posixpath.basename(s.path))
        if known.provides(name) or known.provides(posixpath.basename(s.path)):
            continue  # a bundled copy: dropping it is a member decision, not this
        out.append(Unembed(member=s.path, library=s.library or posixpath.basename(s.path),
                           provider=known, distribution=canonicalize_name(s.provider),
                           reason=f.message))
    return tuple(out)
