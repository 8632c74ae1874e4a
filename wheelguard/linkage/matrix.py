"""The version matrix of one provider: a verdict per version, with its evidence.

:func:`judge` is pure, a function of the wheel's :class:`~wheelguard.linkage.emulate.Survey`
and the provider wheels read, and asks the facts the WG7xx checks ask
(:mod:`wheelguard.linkage.facts`) of every version: the SONAMEs the wheel needs are shipped and
reached through its search path (or a preload) in the install layouts wheelguard models,
every symbol its libraries import from the provider is defined there with the symbol version
it asks for, and the provider brings no second copy of something the wheel ships.
:mod:`wheelguard.linkage.advise` decides which versions to read and turns the verdicts into
a proposed range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from wheelguard.knowledge.specifiers import RangeProposal
from wheelguard.linkage.emulate import (
    LAYOUTS,
    Dependency,
    InstallLayout,
    Linkage,
    Sample,
    Survey,
    delivered,
    emulate_install,
)
from wheelguard.linkage.facts import cxx_imports, duplicates, soname_gaps, symbol_gaps
from wheelguard.model import ArchivePath, SoName, freeze_mapping
from wheelguard.util.demangle import Demangler

__all__ = [
    "SHOWN_SYMBOLS",
    "Cell",
    "Evidence",
    "ProviderAdvice",
    "Reach",
    "Status",
    "Symbol",
    "judge",
    "needing",
]

Status = Literal["works", "fails", "unread"]
EvidenceKind = Literal["soname", "unreachable", "symbols", "duplicate", "unread"]
Reach = Literal["search-path", "preload", "not-found"]

SHOWN_SYMBOLS = 5
"""Missing symbols named per failing library; the count says how many there are."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Symbol:
    """A symbol a version lacks: its name, the version node it was asked for, and the name
    for people (the mangled one when it is not C++ or nothing could demangle it)."""

    name: str
    version: str | None = None
    demangled: str | None = None

    @property
    def shown(self) -> str:
        text = self.demangled or self.name
        return f"{text} @{self.version}" if self.version else text


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why one version fails (or could not be judged)."""

    kind: EvidenceKind
    needed: SoName | None = None
    binaries: tuple[ArchivePath, ...] = ()
    """The wheel's libraries concerned."""
    symbols: tuple[Symbol, ...] = ()
    """The first :data:`SHOWN_SYMBOLS` missing symbols."""
    count: int = 0
    """How many symbols are missing in all."""
    detail: str = ""
    """What the version ships instead, the duplicate's paths, or why it was not read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One provider version: works, fails (with evidence) or was not read."""

    version: Version
    status: Status
    declared: bool
    """The declared range admits this version."""
    wheel: str | None = None
    evidence: tuple[Evidence, ...] = ()
    reach: Mapping[str, Reach] = field(default_factory=lambda: freeze_mapping({}))
    """Per install layout, how the libraries the provider ships are found: the worst case
    over them (``preload``: only once the provider's package was imported)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAdvice:
    """The matrix of one provider and the range to declare for it."""

    name: NormalizedName
    status: Literal["declared", "extra", "undeclared"]
    requirement: Requirement | None
    reasons: tuple[str, ...]
    needs: tuple[SoName, ...] = ()
    """The external libraries this provider is expected to deliver."""
    available: tuple[Version, ...] = ()
    """Every final release with a compatible wheel (pre-releases are left out)."""
    cells: tuple[Cell, ...] = ()
    """The versions considered, ascending: judged ones and those that could not be read."""
    proposal: RangeProposal | None = None
    cxx: bool = False
    """The wheel imports mangled C++ symbols from it (so the proposal is capped)."""
    problem: str | None = None
    """Why no version could be judged."""

    def _versions(self, status: Status) -> tuple[Version, ...]:
        return tuple(c.version for c in self.cells if c.status == status)

    @property
    def working(self) -> tuple[Version, ...]:
        return self._versions("works")

    @property
    def failing(self) -> tuple[Version, ...]:
        return self._versions("fails")

    @property
    def unread(self) -> tuple[Version, ...]:
        return self._versions("unread")

    @property
    def declared_spec(self) -> str:
        if self.requirement is None:
            return ""
        return str(self.requirement.specifier)

    @property
    def admitted_failing(self) -> tuple[Version, ...]:
        """Versions the declared range lets pip install that do not work: the range is wrong."""
        return tuple(c.version for c in self.cells if c.status == "fails" and c.declared)

    @property
    def excluded_working(self) -> tuple[Version, ...]:
        """Versions that work but the declared range keeps out (the range could be wider)."""
        if self.requirement is None:
            return ()
        return tuple(c.version for c in self.cells if c.status == "works" and not c.declared)

    @property
    def proposed_requirement(self) -> str | None:
        """The ``Requires-Dist`` line to write (markers and extras as declared)."""
        if self.proposal is None:
            return None
        req = self.requirement
        name = req.name if req is not None else str(self.name)
        extras = f"[{','.join(sorted(req.extras))}]" if req is not None and req.extras else ""
        marker = f"; {req.marker}" if req is not None and req.marker is not None else ""
        return f"{name}{extras}{self.proposal.specifier}{marker}"

    @property
    def wrong(self) -> bool:
        """The declaration is wrong: it admits a failing version, or the wheel needs this
        provider without declaring it."""
        return bool(self.admitted_failing) or (self.status == "undeclared" and bool(self.needs)
                                               and bool(self.working))


# ---- judging ------------------------------------------------------------------------------


def _as_judged(dep: Dependency, samples: Iterable[Sample]) -> Dependency:
    """The dependency as the facts must see it to judge every version read: declared (the
    question is whether declaring it would work; an undeclared one is neither preloaded nor
    judged by the facts), holding every sample read."""
    return replace(dep, status="declared", samples=tuple(samples))


def judge(
    found: Survey,
    dep: Dependency,
    samples: Iterable[Sample],
    *,
    layouts: tuple[InstallLayout, ...] = LAYOUTS,
    demangler: Demangler | None = None,
) -> tuple[tuple[SoName, ...], tuple[Cell, ...], bool]:
    """(the libraries ``dep`` is expected to deliver, one cell per sample, whether the wheel
    imports mangled C++ from it). Pure, except for the demangler it is handed.

    Judged together because a plain (unversioned) import counts as the provider's when *some*
    version read exports it: the verdict of one version depends on what the others define.
    """
    samples = sorted(samples, key=lambda s: s.version)
    jdep = _as_judged(dep, samples)
    linkage = Linkage(
        wheel=found.wheel, target=found.target, platform=found.platform,
        providers=found.providers, layouts=layouts, dependencies=(jdep,),
        binaries=found.binaries, external=found.external, links=(),
    )
    gaps = soname_gaps(linkage, every_version=True)
    lost = symbol_gaps(linkage, every_version=True)
    dups = [d for d in duplicates(linkage, every_version=True)
            if any(owner == str(dep.name) for owner, _v, _p in d.owners)]
    exact = dep.known is not None and "*" not in dep.known.distribution
    needs = tuple(sorted(
        {n for ns in found.external.values() for n in ns
         if any(s.wheel is not None and delivered(s.wheel, n) for s in samples)
         or (exact and dep.known is not None and dep.known.provides(n))}))
    names = [m for g in lost for m in g.missing]
    shown = (demangler or Demangler("none")).many(m.split("@", 1)[0] for m in names)
    cells: list[Cell] = []
    for s in samples:
        if s.wheel is None:
            cells.append(Cell(version=s.version, status="unread", declared=s.in_range,
                              evidence=(Evidence(kind="unread", detail=s.problem or ""),)))
            continue
        evidence: list[Evidence] = []
        for g in gaps:
            if g.sample.version == s.version:
                ships = f"ships {', '.join(g.ships)}" if g.ships else "ships no such library"
                evidence.append(Evidence(kind="soname", needed=g.needed, binaries=g.binaries,
                                         detail=ships))
        reach = _reach(found, jdep, s, needs, layouts)
        unreached = [n for n in needs if not _reached(reach, n, layouts)
                     and not any(e.needed == n for e in evidence)]
        for n in unreached:
            evidence.append(Evidence(
                kind="unreachable", needed=n, binaries=needing(found, n),
                detail="shipped where no search-path entry of the wheel reaches it, and no "
                       "loaded library carries that SONAME"))
        # One item per set of missing symbols, naming every library of the wheel that
        # imports them (tilelang's compiler and runtime libraries often miss the same one).
        grouped: dict[tuple[SoName, str, tuple[str, ...]], list[ArchivePath]] = {}
        for sg in lost:
            if sg.sample.version == s.version:
                grouped.setdefault((sg.needed, sg.library, sg.missing), []).append(sg.binary)
        for (needed, library, missing), users in grouped.items():
            evidence.append(Evidence(
                kind="symbols", needed=needed, binaries=tuple(sorted(users)),
                symbols=tuple(_symbol(m, shown) for m in missing[:SHOWN_SYMBOLS]),
                count=len(missing), detail=f"{library} lacks {len(missing)} imported "
                                           f"symbol{'s' if len(missing) != 1 else ''}"))
        for d in dups:
            versions = next(v for owner, v, _p in d.owners if owner == str(dep.name))
            if str(s.version) in versions:
                others = "; ".join(f"{o} ({', '.join(p)})" for o, _v, p in d.owners)
                what = "SONAME" if d.kind == "soname" else "runtime ABI"
                evidence.append(Evidence(kind="duplicate", needed=SoName(d.key),
                                         binaries=d.wheel_paths,
                                         detail=f"{what} {d.key} twice: {others}"))
        per_layout = {lay.name: _worst(reach, needs, lay.name) for lay in layouts} if needs \
            else {}
        cells.append(Cell(version=s.version, status="fails" if evidence else "works",
                          declared=s.in_range, wheel=s.wheel.filename, evidence=tuple(evidence),
                          reach=freeze_mapping(per_layout)))
    return needs, tuple(cells), cxx_imports(linkage, jdep) is not None


def needing(found: Survey, needed: str) -> tuple[ArchivePath, ...]:
    return tuple(b for b, ns in found.external.items() if needed in ns)


def _symbol(missing: str, shown: Mapping[str, str]) -> Symbol:
    name, _, version = missing.partition("@")
    text = shown.get(name, name)
    return Symbol(name=name, version=version or None, demangled=text if text != name else None)


_RANK: dict[Reach, int] = {"search-path": 0, "preload": 1, "not-found": 2}


def _reach(
    found: Survey, jdep: Dependency, sample: Sample, needs: tuple[SoName, ...],
    layouts: tuple[InstallLayout, ...],
) -> dict[tuple[str, str], Reach]:
    """How each need resolves with this version installed, per (need, layout): the worst
    case over the wheel's libraries that need it."""
    out: dict[tuple[str, str], Reach] = {}
    for layout in layouts:
        for _binary, res in emulate_install(found.wheel, found.binaries, [(jdep, sample)],
                                            layout=layout, platform=found.platform):
            if res.needed not in needs:
                continue
            how: Reach = ("search-path" if res.kind in ("dependency", "wheel") else
                          "preload" if res.kind == "preload" else "not-found")
            key = (res.needed, layout.name)
            if key not in out or _RANK[how] > _RANK[out[key]]:
                out[key] = how
    return out


def _reached(reach: Mapping[tuple[str, str], Reach], needed: str,
             layouts: tuple[InstallLayout, ...]) -> bool:
    """Found in some layout: a layout that reaches it nowhere is the wheel's defect (WG707),
    the same at every version, not this version's."""
    return any(reach.get((needed, lay.name), "not-found") != "not-found" for lay in layouts)


def _worst(reach: Mapping[tuple[str, str], Reach], needs: tuple[SoName, ...],
           layout: str) -> Reach:
    return max((reach.get((n, layout), "not-found") for n in needs), key=_RANK.__getitem__)
