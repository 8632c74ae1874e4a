"""``wheelguard advise``: which versions of each provider work with this wheel, and what
``Requires-Dist`` should say.

The linkage analysis (:mod:`wheelguard.linkage.emulate`) reads three versions of a provider;
this reads every release in and around the declared range (or every release), has each
judged (:func:`wheelguard.linkage.matrix.judge`) and proposes the range
(:func:`wheelguard.knowledge.specifiers.propose_range`). Versions are listed and read through
a :class:`~wheelguard.linkage.fetch.ProviderLookup` (pip or wheelhouses, a few at a time,
only the library members of each wheel); which to read next is decided from provisional
verdicts, and the final verdicts are computed once everything is read, because a plain import
counts as a provider's when some version read exports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelguard.errors import WheelguardError
from wheelguard.knowledge.providers import declared as declared_requirements
from wheelguard.knowledge.specifiers import propose_range
from wheelguard.linkage import library_member
from wheelguard.linkage.emulate import LAYOUTS, Dependency, InstallLayout, Sample, Survey, survey
from wheelguard.linkage.fetch import ProviderLookup, ProviderTooLarge, ProviderUnavailable
from wheelguard.linkage.matrix import ProviderAdvice, judge, needing
from wheelguard.model import ArchivePath, SoName, Wheel
from wheelguard.util.demangle import Demangler

__all__ = ["Advice", "AdviseProgress", "advise"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Advice:
    """Everything ``wheelguard advise`` reports for one wheel."""

    wheel: Wheel
    python: str
    platforms: tuple[str, ...]
    providers: tuple[ProviderAdvice, ...]
    unprovided: tuple[tuple[SoName, tuple[ArchivePath, ...]], ...]
    """External libraries no provider read delivers, with the libraries that need them."""
    all_versions: bool
    demangler: str

    @property
    def ok(self) -> bool:
        return not any(p.wrong for p in self.providers)


class AdviseProgress(Protocol):
    """Where :func:`advise` says what it is doing (the CLI draws it on stderr)."""

    def reading(self, provider: str, versions: int) -> None:
        """About to read this many more versions of ``provider``."""

    def read(self, provider: str, version: Version, problem: str | None) -> None:
        """One version read (``problem``: why it could not be)."""


# ---- reading the versions -----------------------------------------------------------------


def advise(
    wheel: Wheel,
    lookup: ProviderLookup,
    *,
    python: str | None = None,
    extras: Iterable[str] = (),
    only: Iterable[str] = (),
    all_versions: bool = False,
    jobs: int = 4,
    layouts: Iterable[InstallLayout] = LAYOUTS,
    progress: AdviseProgress | None = None,
    demangler: Demangler | None = None,
) -> Advice:
    """The version matrix of every provider of ``wheel``'s external libraries (``only``: of
    these distributions, read even when nothing points at them) and the range to declare.

    Versions read: every final release with ``all_versions``; otherwise those the declared
    range admits (the newest release for an undeclared provider), then outwards on each side,
    ``jobs`` at a time, while the outermost one read still works, plus the newest release.
    """
    extras = tuple(extras)
    chosen = tuple(layouts)
    names = {canonicalize_name(n) for n in only}
    found = survey(wheel, lookup, python=python, extras=extras, undeclared_by_name=True)
    deps = [d for d in found.dependencies if not names or d.name in names]
    deps += _asked(found, names - {d.name for d in deps}, extras=extras, python=python)
    dem = demangler or Demangler()
    results = [
        _advise_one(found, dep, lookup, all_versions=all_versions, jobs=jobs, layouts=chosen,
                    progress=progress, demangler=dem)
        for dep in sorted(deps, key=lambda d: d.name)
    ]
    results = [r for r in results if r.needs or r.failing or r.problem or r.name in names]
    delivered_by = {n for r in results if r.working or r.failing for n in r.needs}
    unprovided = tuple(
        (n, needing(found, n))
        for n in sorted({n for ns in found.external.values() for n in ns} - delivered_by))
    return Advice(wheel=wheel, python=found.target.python, platforms=found.target.platforms,
                  providers=tuple(results), unprovided=unprovided, all_versions=all_versions,
                  demangler=dem.source)


def _asked(found: Survey, names: set[NormalizedName], *, extras: tuple[str, ...],
           python: str | None) -> list[Dependency]:
    """Distributions named with ``--provider`` that nothing in the wheel points at."""
    in_force = declared_requirements(found.wheel, extras=extras, python=python)
    out: list[Dependency] = []
    for name in sorted(names):
        req = in_force.get(name)
        known = next((p for p in found.providers if p.matches_distribution(name)), None)
        out.append(Dependency(name=name, status="declared" if req is not None else "undeclared",
                              requirement=req, reasons=("asked for with --provider",),
                              known=known))
    return out


def _advise_one(
    found: Survey,
    dep: Dependency,
    lookup: ProviderLookup,
    *,
    all_versions: bool,
    jobs: int,
    layouts: tuple[InstallLayout, ...],
    progress: AdviseProgress | None,
    demangler: Demangler,
) -> ProviderAdvice:
    base = ProviderAdvice(name=dep.name, status=dep.status, requirement=dep.requirement,
                          reasons=dep.reasons)
    if lookup.skipped(dep.name):
        return replace(base, problem="skipped (--skip)")
    try:
        listed = lookup.versions(dep.name, found.target)
    except ProviderUnavailable as e:
        return replace(base, problem=str(e))
    available = tuple(v for v in listed if not v.is_prerelease) or listed
    if not available:
        where = "the wheelhouse" + (" or the index" if lookup.download else "")
        return replace(base, problem=f"no wheel for Python {found.target.python} on "
                                     f"{found.target.platforms[0]} or older in {where}")
    spec = dep.requirement.specifier if dep.requirement is not None else None
    reader = _Reader(found, dep, lookup, spec=spec, jobs=jobs, progress=progress)
    if all_versions:
        reader.read(available)
    else:
        _read_around(found, dep, reader, available=available, spec=spec, layouts=layouts)
    needs, cells, cxx = judge(found, dep, reader.samples, layouts=layouts, demangler=demangler)
    judged = [c.version for c in cells if c.status != "unread"]
    working = [c.version for c in cells if c.status == "works"]
    proposal = propose_range(available, working, judged=judged, declared=spec, cap=cxx)
    problem = None
    if not judged:
        problem = reader.stopped or "; ".join(
            sorted({e.detail for c in cells for e in c.evidence})) or "no version could be read"
    return replace(base, needs=needs, available=available, cells=cells, proposal=proposal,
                   cxx=cxx, problem=problem)


def _read_around(
    found: Survey,
    dep: Dependency,
    reader: _Reader,
    *,
    available: tuple[Version, ...],
    spec: SpecifierSet | None,
    layouts: tuple[InstallLayout, ...],
) -> None:
    """The declared range and the newest release, then outwards from the range, a batch at a
    time, while the outermost version read on that side does not fail."""
    admitted = [v for v in available if spec is not None and spec.contains(v, True)]
    # Everything between the range's ends, the versions a `!=` leaves out included: a hole
    # the range skips may be the very reason for it, and the verdict should show it.
    core = available[available.index(admitted[0]):available.index(admitted[-1]) + 1] \
        if admitted else [available[-1]]
    reader.read([*core, available[-1]])
    low, high = available.index(core[0]), available.index(core[-1])
    last = len(available) - 1  # the newest: read already

    def failing() -> set[Version]:
        cells = judge(found, dep, reader.samples, layouts=layouts)[1]
        return {c.version for c in cells if c.status == "fails"}

    while reader.stopped is None:
        fails = failing()
        down = range(low - 1, max(0, low - reader.jobs) - 1, -1) \
            if low > 0 and available[low] not in fails else range(0)
        up = range(high + 1, min(last, high + 1 + reader.jobs)) \
            if available[high] not in fails else range(0)
        if not down and not up:
            return
        reader.read(available[i] for i in [*down, *up])
        fails = failing()
        # Each side's new frontier: its first failing version, else the farthest one read.
        low = next((i for i in down if available[i] in fails), down[-1] if down else low)
        high = next((i for i in up if available[i] in fails), up[-1] if up else high)


class _Reader:
    """The versions of one provider read so far; reads more a batch at a time."""

    def __init__(self, found: Survey, dep: Dependency, lookup: ProviderLookup, *,
                 spec: SpecifierSet | None, jobs: int, progress: AdviseProgress | None) -> None:
        self.found = found
        self.dep = dep
        self.lookup = lookup
        self.spec = spec
        self.jobs = max(1, jobs)
        self.progress = progress
        self.stopped: str | None = None
        """Why no more versions are read (a wheel over the size limit)."""
        self._samples: dict[Version, Sample] = {}

    @property
    def samples(self) -> tuple[Sample, ...]:
        return tuple(self._samples[v] for v in sorted(self._samples))

    def read(self, versions: Iterable[Version]) -> None:
        todo = sorted({v for v in versions if v not in self._samples})
        if not todo:
            return
        if self.stopped is None:
            if self.progress is not None:
                self.progress.reading(str(self.dep.name), len(todo))
            got = self.lookup.read_many(self.dep.name, todo, self.found.target,
                                        only=library_member, jobs=self.jobs,
                                        on_done=self._done)
        else:
            got = {}
        for v in todo:
            outcome = got.get(v)
            if isinstance(outcome, ProviderTooLarge) and self.stopped is None:
                self.stopped = f"{outcome} (its other releases are not fetched)"
            wheel = outcome if isinstance(outcome, Wheel) else None
            problem = None if wheel is not None else str(outcome or self.stopped)
            self._samples[v] = Sample(
                version=v, roles=frozenset(), wheel=wheel, problem=problem,
                in_range=self.spec is not None and self.spec.contains(v, True))

    def _done(self, version: Version, outcome: Wheel | WheelguardError) -> None:
        if self.progress is not None:
            problem = None if isinstance(outcome, Wheel) else str(outcome)
            self.progress.read(str(self.dep.name), version, problem)
