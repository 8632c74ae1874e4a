"""Cross-wheel linkage, the facts: what the emulated install says about the wheel.

Pure functions of a :class:`~wheelguard.linkage.emulate.Linkage`: whether each admitted
provider version still **ships the SONAME** and **exports the symbols** the wheel imports from
it (symbol versions compared where the provider defines them), whether one SONAME or one
runtime's C ABI is **provided twice** in the closure, which needs hold only because a provider
is **preloaded** or only in a **shared site-packages**, and which **manylinux tag** the wheel
earns when its declared providers count as satisfied. The checks in
:mod:`wheelguard.checks.linkage` word them as findings; ``wheelguard show --deps`` prints
:func:`describe`.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from packaging.version import Version

from wheelguard.knowledge.manylinux import PlatformPolicy, linux_platforms, platform_policy
from wheelguard.knowledge.specifiers import has_upper_bound
from wheelguard.linkage.emulate import (
    ROLES,
    Dependency,
    Link,
    Linkage,
    Role,
    Sample,
    delivered,
    installed_elf,
)
from wheelguard.loader.paths import install_path
from wheelguard.model import ArchivePath, Binary, SoName

__all__ = [
    "CxxImport",
    "Duplicate",
    "Preload",
    "SonameGap",
    "SymbolGap",
    "Verdict",
    "cxx_imports",
    "describe",
    "duplicates",
    "layout_breaks",
    "preloads",
    "soname_gaps",
    "symbol_gaps",
    "unbounded_cxx",
    "verdict",
]

# C++ runtime and standard-library symbols: weak template instantiations that providers
# happen to export too; the consumer really takes them from libstdc++/libgcc_s.
_RUNTIME = re.compile(
    r"^(_Z(T[ISVT]|GV|Th|Tv)?N?[KVr]*(S[tabsiod]|9__gnu_cxx|10__cxxabiv1)"
    r"|_Z(nw|na|dl|da)[a-zA-Z]|__cxa_|__gxx_|_Unwind_|__gcc_|_ITM_|__gmon_start__)"
)


def _responsible(linkage: Linkage, needed: str) -> tuple[Dependency, ...]:
    """Dependencies expected to ship ``needed``: those that do at some version read, else
    those the known-provider table names exactly (a family glob such as ``nvidia-*`` is no
    evidence that one member ships a given library)."""
    pool = [d for d in linkage.dependencies if d.status != "undeclared"]
    real = tuple(d for d in pool
                 if any(s.wheel is not None and delivered(s.wheel, needed) for s in d.samples))
    if real:
        return real
    return tuple(d for d in pool if d.known is not None and "*" not in d.known.distribution
                 and d.known.provides(needed))


@dataclass(frozen=True, slots=True, kw_only=True)
class SonameGap:
    """An admitted version of a provider that does not ship a library the wheel needs."""

    dependency: Dependency
    sample: Sample
    needed: SoName
    binaries: tuple[ArchivePath, ...]
    ships: tuple[str, ...]
    """What that version ships instead (same stem), as ``path (SONAME x)``."""


def _judged(dep: Dependency, every_version: bool) -> tuple[Sample, ...]:
    if every_version:
        return tuple(s for s in dep.samples if s.wheel is not None)
    return dep.checked


def soname_gaps(linkage: Linkage, *, every_version: bool = False) -> tuple[SonameGap, ...]:
    """Admitted versions (with ``every_version``: every version read, the newest outside the
    range included) that do not ship a library the wheel needs."""
    gaps: list[SonameGap] = []
    for needed in sorted({n for ns in linkage.external.values() for n in ns}):
        for dep in _responsible(linkage, needed):
            for sample in _judged(dep, every_version):
                assert sample.wheel is not None
                if delivered(sample.wheel, needed) is not None:
                    continue
                stem = needed.split(".so", 1)[0]
                ships = tuple(
                    f"{install_path(b.path)} (SONAME {b.soname or '-'})"
                    for b in installed_elf(sample.wheel)
                    if posixpath.basename(b.path).startswith(stem)
                    or (b.soname or "").startswith(stem)
                )
                gaps.append(SonameGap(dependency=dep, sample=sample, needed=SoName(needed),
                                      binaries=linkage.needing(needed), ships=ships))
    return tuple(gaps)


def _own_exports(linkage: Linkage) -> frozenset[str]:
    return frozenset().union(*(b.exported for b in linkage.binaries))


def _imports(
    binary: Binary, needed: str, dep: Dependency, own: frozenset[str]
) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The symbols ``binary`` takes from ``dep``'s ``needed``: (plain names, (name, version)).

    ELF does not say which library an unversioned import binds to, so a plain import counts
    as the provider's when some version of the provider read exports it, or when it carries
    the provider's C ABI prefix (``TVMFFI``); C++ runtime symbols and the wheel's own exports
    are left out. A versioned import names its library through ``.gnu.version_r``.
    """
    libs = [lib for s in dep.samples if s.wheel is not None
            if (lib := delivered(s.wheel, needed)) is not None]
    if not libs:
        return frozenset(), frozenset()
    offered = frozenset().union(*(lib.exported for lib in libs))
    prefixes = dep.known.abi_prefixes if dep.known else ()
    library_of = {v.version: v.library for v in binary.version_needs}
    versioned = frozenset((s, v) for s, v in binary.undefined_versioned
                          if library_of.get(v) == needed)
    bound = {s for s, _v in binary.undefined_versioned}
    plain = frozenset(
        s for s in binary.undefined - bound - own
        if not _RUNTIME.match(s) and (s in offered or (bool(prefixes) and s.startswith(prefixes)))
    )
    return plain, versioned


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolGap:
    """Symbols a wheel's library imports that an admitted provider version does not export."""

    binary: ArchivePath
    needed: SoName
    dependency: Dependency
    sample: Sample
    library: str
    imported: int
    missing: tuple[str, ...]
    """``name`` or ``name@VERSION``."""


def symbol_gaps(linkage: Linkage, *, every_version: bool = False) -> tuple[SymbolGap, ...]:
    """Admitted versions (or every version read) lacking symbols the wheel imports."""
    own = _own_exports(linkage)
    gaps: list[SymbolGap] = []
    for binary in linkage.binaries:
        for needed in linkage.external.get(binary.path, ()):
            for dep in _responsible(linkage, needed):
                plain, versioned = _imports(binary, needed, dep, own)
                if not plain and not versioned:
                    continue
                for sample in _judged(dep, every_version):
                    assert sample.wheel is not None
                    lib = delivered(sample.wheel, needed)
                    if lib is None:
                        continue  # a SONAME gap, reported as such
                    defined = frozenset(lib.exported_versioned)
                    if defined:
                        lost = [f"{s}@{v}" for s, v in sorted(versioned) if (s, v) not in defined]
                    else:  # no version definitions: glibc binds by name alone
                        lost = [s for s, _v in sorted(versioned) if s not in lib.exported]
                    missing = tuple(sorted(plain - lib.exported)) + tuple(lost)
                    if missing:
                        gaps.append(SymbolGap(
                            binary=binary.path, needed=SoName(needed), dependency=dep,
                            sample=sample, library=install_path(lib.path),
                            imported=len(plain) + len(versioned), missing=missing,
                        ))
    return tuple(gaps)


@dataclass(frozen=True, slots=True, kw_only=True)
class CxxImport:
    """Mangled C++ symbols the wheel imports from a provider."""

    dependency: Dependency
    binaries: tuple[ArchivePath, ...]
    symbols: tuple[str, ...]


def unbounded_cxx(linkage: Linkage) -> tuple[CxxImport, ...]:
    found: list[CxxImport] = []
    for dep in linkage.dependencies:
        if dep.status == "undeclared" or dep.requirement is None:
            continue
        if has_upper_bound(dep.requirement.specifier):
            continue
        imported = cxx_imports(linkage, dep)
        if imported is not None:
            found.append(imported)
    return tuple(found)


def cxx_imports(linkage: Linkage, dep: Dependency) -> CxxImport | None:
    """The mangled C++ symbols the wheel imports from ``dep``, whatever its range says: an
    ABI that small releases change, so a range over it wants an upper bound."""
    own = _own_exports(linkage)
    symbols: set[str] = set()
    users: set[ArchivePath] = set()
    for binary in linkage.binaries:
        for needed in linkage.external.get(binary.path, ()):
            if dep not in _responsible(linkage, needed):
                continue
            plain, versioned = _imports(binary, needed, dep, own)
            mangled = {s for s in plain | {s for s, _v in versioned} if s.startswith("_Z")}
            if mangled:
                symbols |= mangled
                users.add(binary.path)
    if not symbols:
        return None
    return CxxImport(dependency=dep, binaries=tuple(sorted(users)), symbols=tuple(sorted(symbols)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Duplicate:
    """One SONAME, or one runtime's C ABI, provided by several distributions of the closure."""

    kind: Literal["soname", "abi"]
    key: str
    owners: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    """(distribution, versions, install paths), the wheel itself first when it is one."""
    wheel_paths: tuple[ArchivePath, ...]
    """The wheel's own members involved (empty: two dependencies collide)."""


def duplicates(linkage: Linkage, *, every_version: bool = False) -> tuple[Duplicate, ...]:
    """SONAMEs and runtime ABIs owned by several distributions of the closure: the admitted
    versions (with ``every_version``: every version read)."""
    wheel = linkage.wheel
    by_soname: dict[str, dict[str, tuple[set[str], set[str]]]] = defaultdict(dict)
    by_abi: dict[str, dict[str, tuple[set[str], set[str]]]] = defaultdict(dict)

    def note(table: dict[str, tuple[set[str], set[str]]], dist: str, ver: str, path: str) -> None:
        versions, paths = table.setdefault(dist, (set(), set()))
        versions.add(ver)
        paths.add(path)

    closure: list[tuple[str, str, tuple[Binary, ...]]] = [
        (str(wheel.name), str(wheel.version), linkage.binaries)
    ]
    for dep in linkage.dependencies:
        if dep.status == "undeclared":
            continue
        for s in _judged(dep, every_version):
            if s.wheel is not None:
                closure.append((str(dep.name), str(s.version), installed_elf(s.wheel)))
    for dist, ver, binaries in closure:
        for b in binaries:
            path = install_path(b.path)
            if b.soname:
                note(by_soname[b.soname], dist, ver, path)
            for known in linkage.providers:
                if known.abi_prefixes and known.abi_exports(b):
                    note(by_abi[known.abi_prefixes[0]], dist, ver, path)
    members = {install_path(b.path): b.path for b in linkage.binaries}
    found: list[Duplicate] = []
    for kind, table in (("soname", by_soname), ("abi", by_abi)):
        for key, owners in sorted(table.items()):
            if len(owners) < 2:
                continue
            order = sorted(owners, key=lambda d: (d != str(wheel.name), d))
            mine = owners.get(str(wheel.name), (set(), set()))[1]
            found.append(Duplicate(
                kind="soname" if kind == "soname" else "abi", key=key,
                owners=tuple((d, tuple(sorted(owners[d][0], key=Version)),
                              tuple(sorted(owners[d][1]))) for d in order),
                wheel_paths=tuple(sorted(members[p] for p in mine if p in members)),
            ))
    return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class Preload:
    """A NEEDED found only because its provider's library is already loaded, in some layouts."""

    binary: ArchivePath
    needed: SoName
    provider: str
    library: str
    """The provider's file that must be loaded first (its install path)."""
    layouts: tuple[str, ...]
    entry: str | None
    """The entry that reaches it where the layout is shared, if any."""


def preloads(linkage: Linkage) -> tuple[Preload, ...]:
    groups: dict[tuple[ArchivePath, str], list[Link]] = defaultdict(list)
    for link in linkage.links:
        groups[(link.binary, link.resolution.needed)].append(link)
    found: list[Preload] = []
    for (binary, needed), links in sorted(groups.items()):
        pre = [lk for lk in links if lk.resolution.kind == "preload"
               and lk.resolution.provider != str(linkage.wheel.name)]
        if not pre:
            continue
        entry = next((lk.resolution.entry for lk in links
                      if lk.resolution.kind == "dependency" and lk.resolution.entry), None)
        layouts = tuple(lay.name for lay in linkage.layouts
                        if any(lk.layout == lay.name for lk in pre))
        first = pre[0].resolution
        found.append(Preload(binary=binary, needed=SoName(needed), provider=first.provider or "",
                             library=first.path or "", layouts=layouts, entry=entry))
    return tuple(found)


def layout_breaks(linkage: Linkage) -> tuple[tuple[ArchivePath, SoName, str, tuple[str, ...]], ...]:
    """(binary, needed, provider, layouts) where a dependency's library is found in a shared
    site-packages but not at all (not even by preloading) where the two are installed apart."""
    shared = linkage.shared_layouts
    apart = [lay.name for lay in linkage.layouts if not lay.shared]
    index = {(lk.binary, lk.resolution.needed, lk.layout, lk.scenario): lk.resolution
             for lk in linkage.links}
    found: dict[tuple[ArchivePath, SoName], tuple[str, set[str]]] = {}
    for lk in linkage.links:
        if lk.layout not in shared or lk.resolution.kind != "dependency":
            continue
        dep = linkage.dependency(lk.resolution.provider or "")
        if dep is None or dep.status != "declared":
            continue  # not the package's to import: WG701's subject
        for name in apart:
            other = index.get((lk.binary, lk.resolution.needed, name, lk.scenario))
            if other is not None and other.kind == "unresolved":
                key = (lk.binary, lk.resolution.needed)
                found.setdefault(key, (lk.resolution.provider or "", set()))[1].add(name)
    return tuple((b, n, prov, tuple(lay for lay in apart if lay in names))
                 for (b, n), (prov, names) in sorted(found.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The platform tag recomputed with the declared providers' libraries counted as present
    (what ``auditwheel repair --exclude`` for each of them would conclude, hermetically)."""

    claimed: str
    holds: bool
    oldest: str | None
    """The oldest tag of the family the wheel qualifies for; None: none (``linux`` only)."""
    provided: tuple[tuple[str, str], ...]
    """(library, distribution) counted as satisfied."""
    outside: tuple[str, ...]
    """Libraries the claimed tag does not allow and no declared provider supplies."""
    too_new: tuple[str, ...]
    """Symbol versions above the claimed tag's ceiling."""


def verdict(linkage: Linkage) -> Verdict | None:
    policy = linkage.platform
    if policy is None or not linkage.binaries:
        return None
    provided: dict[str, str] = {}
    for lk in linkage.links:
        r = lk.resolution
        dep = linkage.dependency(r.provider) if r.provider else None
        if (lk.layout in linkage.shared_layouts and lk.scenario != "newest"
                and r.kind in ("dependency", "preload") and dep is not None
                and dep.status == "declared"):
            provided.setdefault(r.needed, str(dep.name))
    remaining = sorted({n for ns in linkage.external.values() for n in ns} - set(provided))
    needs = [v for b in linkage.binaries for v in b.version_needs if v.library not in provided]

    def fits(p: PlatformPolicy) -> bool:
        return (all(p.allows_library(n) for n in remaining)
                and all(p.too_new(v.version) is None for v in needs))

    oldest: str | None = None
    if policy.arch is not None:
        musl = policy.name.startswith("musllinux")
        for name in reversed(linux_platforms(policy.arch, musl=musl)):
            if not name.startswith(("manylinux_", "musllinux_")):
                continue
            candidate = platform_policy([name])
            if candidate is not None and candidate.name == name and fits(candidate):
                oldest = name
                break
    outside = tuple(n for n in remaining if not policy.allows_library(n))
    too_new = tuple(sorted({v.version for v in needs if policy.too_new(v.version) is not None}))
    promise = policy.name.startswith(("manylinux", "musllinux"))
    return Verdict(
        claimed=policy.name, holds=not promise or not (outside or too_new), oldest=oldest,
        provided=tuple(sorted(provided.items())), outside=outside, too_new=too_new,
    )


# ---- plain data for show --deps and JSON --------------------------------------------------


def describe(linkage: Linkage) -> dict[str, Any]:
    """Everything ``show --deps`` prints, as JSON-ready data."""
    gaps: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for g in soname_gaps(linkage, every_version=True):
        gaps[(g.dependency.name, str(g.sample.version))][g.needed].update(g.binaries)
    for sg in symbol_gaps(linkage, every_version=True):
        for m in sg.missing:
            gaps[(sg.dependency.name, str(sg.sample.version))][m].add(sg.binary)
    lacks = {key: [f"{item} (needed by {', '.join(sorted(users))})"
                   for item, users in sorted(items.items())]
             for key, items in gaps.items()}
    deps = [
        {
            "name": d.name, "status": d.status, "requirement": str(d.requirement)
            if d.requirement else None, "extras": list(d.extras), "reasons": list(d.reasons),
            "available": len(d.available),
            "samples": [{"version": str(s.version), "roles": [r for r in ROLES if r in s.roles],
                         "in_range": s.in_range, "wheel": s.wheel.filename if s.wheel else None,
                         "problem": s.problem,
                         "lacks": lacks.get((d.name, str(s.version)), [])}
                        for s in d.samples],
            "problem": d.problem,
        }
        for d in linkage.dependencies
    ]
    per: dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict))
    expected: dict[tuple[str, Role], str | None] = {}
    for lk in linkage.links:
        item = lk.resolution.to_json()
        if lk.resolution.kind == "unresolved":
            # Say whose version failed to deliver it, where a provider is expected.
            key = (lk.resolution.needed, lk.scenario)
            if key not in expected:
                expected[key] = next(
                    (f"{d.name} {s.version}" for d in _responsible(linkage, key[0])
                     if (s := d.sample(lk.scenario)) is not None), None)
            item["expected_from"] = expected[key]
        per[(lk.binary, lk.resolution.needed)][lk.layout][lk.scenario] = item
    libraries = []
    for b in linkage.binaries:
        needed = []
        for n in b.needed:
            layouts = per.get((b.path, n), {})
            needed.append({"needed": n, "layouts": {k: dict(v) for k, v in layouts.items()}})
        libraries.append({"path": b.path, "soname": b.soname, "rpath": list(b.rpath),
                          "runpath": list(b.runpath), "needed": needed})
    v = verdict(linkage)
    return {
        "wheel": linkage.wheel.filename,
        "python": linkage.target.python,
        "platform_policy": linkage.platform.name if linkage.platform else None,
        "layouts": [{"name": lay.name, "description": lay.description}
                    for lay in linkage.layouts],
        "dependencies": deps,
        "libraries": libraries,
        "verdict": None if v is None else {
            "claimed": v.claimed, "holds": v.holds, "oldest": v.oldest,
            "provided": [{"library": n, "distribution": d} for n, d in v.provided],
            "outside": list(v.outside), "too_new": list(v.too_new),
        },
    }
