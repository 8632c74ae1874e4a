"""Cross-wheel linkage: will every library be found, once, at every allowed version?

A wheel's native libraries need libraries that other distributions ship (``libtvm_ffi.so``
from apache-tvm-ffi, ``libz3.so.4.15`` from z3-solver). The hermetic audit can only trust the
table of known providers; this module reads the providers' real wheels, found by a
:class:`~wheelguard.linkage.fetch.ProviderLookup` at the lowest and the highest version the
declared range admits and at the newest published, and answers as the loader would, without
installing anything:

* **where each DT_NEEDED is found**, per install layout (:data:`LAYOUTS`) and per version
  scenario: through a RUNPATH/RPATH entry with ``$ORIGIN`` expanded (the search is
  :func:`wheelguard.loader.resolve.resolve_binary` run over the combined install, so the rules are
  the audit's own), by the platform, or only because an object with that SONAME is already
  loaded (glibc matches a NEEDED against loaded SONAMEs first; "import the provider first");
* whether each endpoint still **ships the SONAME** and **exports the symbols** the wheel
  imports from it (symbol versions compared where the provider defines them);
* whether one SONAME or one runtime's C ABI is **provided twice** in the closure;
* which **manylinux tag** the wheel earns when its declared providers count as satisfied.

The checks in :mod:`wheelguard.checks.linkage` turn these facts into findings and
``wheelguard show --deps`` prints them.

Limits, on purpose: only the wheel's own ELF libraries are loaded (a provider's own NEEDED are
that provider's audit); DT_RPATH inherited from a loading object, ``LD_LIBRARY_PATH`` and the
host's ``ld.so.cache`` are not consulted; dependencies are followed one level (the wheel's own
Requires-Dist).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelguard.errors import InvalidWheel
from wheelguard.knowledge.manylinux import PlatformPolicy, linux_platforms, platform_policy
from wheelguard.knowledge.providers import KnownProvider, declared, known_providers
from wheelguard.linkage.fetch import ProviderLookup, ProviderUnavailable, Target, target_for
from wheelguard.loader.layout import Layout, classify_entry
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolve import Resolution, resolve_binary
from wheelguard.model import ArchivePath, Binary, SoName, Wheel
from wheelguard.reading.scan import scan_wheel

__all__ = [
    "LAYOUTS",
    "ROLES",
    "CxxImport",
    "Dependency",
    "Duplicate",
    "InstallLayout",
    "Link",
    "Linkage",
    "Preload",
    "Role",
    "Sample",
    "SonameGap",
    "SymbolGap",
    "Verdict",
    "analyse_linkage",
    "delivered",
    "describe",
    "duplicates",
    "has_upper_bound",
    "layout_breaks",
    "preloads",
    "soname_gaps",
    "symbol_gaps",
    "unbounded_cxx",
    "verdict",
]

Role = Literal["lowest", "highest", "newest"]
ROLES: tuple[Role, ...] = ("lowest", "highest", "newest")
Status = Literal["declared", "extra", "undeclared"]
"""``declared``: a Requires-Dist in force (markers for the target, extras asked for);
``extra``: declared only under an extra not asked for; ``undeclared``: not declared at all,
found because a RUNPATH entry reaches its directory."""

_UPPER = frozenset({"<", "<=", "==", "~=", "==="})
# C++ runtime and standard-library symbols: weak template instantiations that providers
# happen to export too; the consumer really takes them from libstdc++/libgcc_s.
_RUNTIME = re.compile(
    r"^(_Z(T[ISVT]|GV|Th|Tv)?N?[KVr]*(S[tabsiod]|9__gnu_cxx|10__cxxabiv1)"
    r"|_Z(nw|na|dl|da)[a-zA-Z]|__cxa_|__gxx_|_Unwind_|__gcc_|_ITM_|__gmon_start__)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallLayout:
    """Where the wheel and its dependencies land relative to each other."""

    name: str
    description: str
    shared: bool
    """Dependencies share the wheel's install root, so ``$ORIGIN/../../<dep>`` reaches them."""


LAYOUTS: tuple[InstallLayout, ...] = (
    InstallLayout(
        name="site-packages", shared=True,
        description="wheel and dependencies in one site-packages (pip install into one env)",
    ),
    InstallLayout(
        name="system-site-packages", shared=False,
        description="wheel in a venv made with --system-site-packages, dependencies in the "
                    "base environment's site-packages",
    ),
    InstallLayout(
        name="target", shared=False,
        description="wheel installed with pip install --target DIR --no-deps, dependencies "
                    "in the environment's site-packages (or --user, or a PYTHONPATH overlay)",
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One version of a dependency that was (or was meant to be) read."""

    version: Version
    roles: frozenset[Role]
    in_range: bool
    """Admitted by the declared range: only these can be installed, so only these count."""
    wheel: Wheel | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        roles = ", ".join(r for r in ROLES if r in self.roles)
        outside = "" if self.in_range else ", outside the range"
        return f"{self.version} ({roles}{outside})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    """A distribution that provides (or is expected to provide) libraries the wheel needs."""

    name: NormalizedName
    status: Status
    requirement: Requirement | None
    extras: tuple[str, ...] = ()
    """For ``extra``: the extras that declare it."""
    reasons: tuple[str, ...] = ()
    """Why it was read: ``provides libtvm_ffi.so``, ``owns tvm_ffi/``."""
    known: KnownProvider | None = None
    available: tuple[Version, ...] = ()
    samples: tuple[Sample, ...] = ()
    problem: str | None = None
    """Why nothing (in range) could be checked: skipped, no compatible wheel, pip failed."""

    def sample(self, role: Role) -> Sample | None:
        return next((s for s in self.samples if role in s.roles and s.wheel is not None), None)

    @property
    def checked(self) -> tuple[Sample, ...]:
        """The samples the checks judge: read, and admitted by the range."""
        return tuple(s for s in self.samples if s.in_range and s.wheel is not None)

    @property
    def spec(self) -> str:
        if self.requirement is None:
            return "not declared"
        return str(self.requirement.specifier) or "any version"


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """How one NEEDED of one binary resolves in one layout with one version scenario."""

    binary: ArchivePath
    layout: str
    scenario: Role
    resolution: Resolution


@dataclass(frozen=True, slots=True, kw_only=True)
class Linkage:
    """The analysis of one wheel against real wheels of its providers; immutable facts."""

    wheel: Wheel
    target: Target
    platform: PlatformPolicy | None
    providers: tuple[KnownProvider, ...]
    layouts: tuple[InstallLayout, ...]
    dependencies: tuple[Dependency, ...]
    binaries: tuple[Binary, ...]
    """The wheel's ELF libraries that install into site-packages (the ones emulated)."""
    external: Mapping[ArchivePath, tuple[SoName, ...]]
    """Per binary, the NEEDED found neither in the wheel nor by the platform policy."""
    links: tuple[Link, ...]

    @property
    def shared_layouts(self) -> frozenset[str]:
        """Layouts where the dependencies share the wheel's directory (the ordinary install)."""
        return frozenset(lay.name for lay in self.layouts if lay.shared)

    def dependency(self, name: str) -> Dependency | None:
        canonical = canonicalize_name(name)
        return next((d for d in self.dependencies if d.name == canonical), None)

    def needing(self, needed: str) -> tuple[ArchivePath, ...]:
        return tuple(b for b, ns in self.external.items() if needed in ns)


def has_upper_bound(requirement: Requirement) -> bool:
    """True when the specifier caps the version (``<``, ``<=``, ``==``, ``~=``, ``===``)."""
    return any(s.operator in _UPPER for s in requirement.specifier)


def _installed_elf(wheel: Wheel) -> tuple[Binary, ...]:
    """ELF objects that land in site-packages (not ``.data/scripts`` or ``.data/data``)."""
    return tuple(
        b for b in wheel.iter_binaries("elf")
        if not install_path(b.path).split("/", 1)[0].endswith(".data")
    )


def delivered(wheel: Wheel, needed: str) -> Binary | None:
    """The library of ``wheel`` the loader takes for ``needed``: a file of that name (what a
    search-path entry finds), else one whose SONAME it is (what a preload matches)."""
    libs = _installed_elf(wheel)
    by_name = next((b for b in libs if posixpath.basename(b.path) == needed), None)
    return by_name or next((b for b in libs if b.soname == needed), None)


# ---- finding the providers --------------------------------------------------------------


def analyse_linkage(
    wheel: Wheel,
    lookup: ProviderLookup,
    *,
    python: str | None = None,
    extras: Iterable[str] = (),
    platform: PlatformPolicy | None = None,
    providers: tuple[KnownProvider, ...] | None = None,
    layouts: Iterable[InstallLayout] = LAYOUTS,
) -> Linkage:
    """Read the providers of ``wheel``'s external libraries and emulate the loader."""
    target = target_for(wheel, python)
    policy = platform if platform is not None else platform_policy(wheel.platforms)
    known = known_providers() if providers is None else providers
    binaries = _installed_elf(wheel)
    own = Layout.of(wheel)
    external: dict[ArchivePath, tuple[SoName, ...]] = {}
    reached: set[str] = set()
    for b in binaries:
        external[b.path] = tuple(
            r.needed for r in resolve_binary(own, b, policy, (), {})
            if r.kind == "unresolved" and "/" not in r.needed
        )
        for raw in b.search_path:
            entry = classify_entry(b, raw, b.search_path_tag, own)
            if entry.kind == "other-distribution" and entry.directory is not None:
                reached.add(entry.directory.split("/", 1)[0])
    needs = frozenset(n for ns in external.values() for n in ns)
    deps = _dependencies(
        wheel, lookup, target=target, known=known, needs=needs, reached=frozenset(reached),
        extras=tuple(extras), python=python,
    )
    chosen = tuple(layouts)
    links = tuple(
        link
        for layout in chosen
        for role in ROLES
        for link in _emulate(wheel, binaries, deps=deps, layout=layout, role=role,
                             platform=policy)
    )
    return Linkage(
        wheel=wheel, target=target, platform=policy, providers=known, layouts=chosen,
        dependencies=deps, binaries=binaries, external=external, links=links,
    )


def _dependencies(
    wheel: Wheel,
    lookup: ProviderLookup,
    *,
    target: Target,
    known: tuple[KnownProvider, ...],
    needs: frozenset[SoName],
    reached: frozenset[str],
    extras: tuple[str, ...],
    python: str | None,
) -> tuple[Dependency, ...]:
    """The distributions worth reading: declared ones that provide a needed library or own a
    directory an entry reaches; extra-only or undeclared ones that provide a needed library
    (undeclared: in a directory an entry reaches). Everything else (torch for a wheel that
    needs none of its libraries) is never fetched."""
    binaries = _installed_elf(wheel)
    # What the wheel itself ships that a provider may ship too (the duplicate checks).
    shipped = {b.soname for b in binaries if b.soname} | {
        posixpath.basename(b.path) for b in binaries}
    exported_abi = {x for p in known for x in p.abi_prefixes
                    if any(p.abi_exports(b) for b in binaries)}
    if not needs and not reached and not shipped:
        return ()
    in_force = declared(wheel, extras=extras, python=python)
    raw_extras = wheel.metadata_fields.get("provides_extra") or ()
    all_extras = tuple(str(e) for e in raw_extras)
    with_extras = declared(wheel, extras=all_extras, python=python)
    named = {canonicalize_name(r.name) for r in wheel.requires_dist}
    candidates: dict[NormalizedName, tuple[Status, Requirement | None]] = {}
    for name, declared_req in in_force.items():
        candidates[NormalizedName(name)] = ("declared", declared_req)
    for name, extra_req in with_extras.items():
        candidates.setdefault(NormalizedName(name), ("extra", extra_req))
    local = lookup.distributions(target)
    for name in sorted(local - named - {wheel.name}):
        candidates[name] = ("undeclared", None)
    for p in known:
        if "*" in p.distribution or canonicalize_name(p.distribution) in named:
            continue
        if canonicalize_name(p.distribution) != wheel.name:
            candidates.setdefault(NormalizedName(canonicalize_name(p.distribution)),
                                  ("undeclared", None))

    deps: list[Dependency] = []
    for name, (status, req) in sorted(candidates.items()):
        provider = next((p for p in known if p.matches_distribution(name)), None)
        names = lookup.member_names(name, target) if name in local else frozenset()
        files = {install_path(n) for n in names}
        basenames = {posixpath.basename(f) for f in files}
        tops = {f.split("/", 1)[0] for f in files} | set(provider.top_level if provider else ())
        exact = provider is not None and "*" not in provider.distribution
        provides = sorted(n for n in needs
                          if n in basenames or (exact and provider is not None
                                                and provider.provides(n)))
        owns = sorted(reached & tops)
        also = sorted(n for n in shipped
                      if n in basenames or (exact and provider is not None
                                            and provider.provides(n)))
        abi = sorted(exported_abi & set(provider.abi_prefixes if provider else ()))
        relevant = {
            "declared": bool(provides or owns or also or abi),
            "extra": bool(provides),
            "undeclared": bool(provides and owns),
        }[status]
        if not relevant:
            continue
        reasons = tuple([f"provides {n}" for n in provides] + [f"owns {t}/" for t in owns]
                        + [f"also ships {n}" for n in also]
                        + [f"owns the {x}* ABI the wheel exports" for x in abi])
        extra_names = tuple(e for e in all_extras if status == "extra"
                            and NormalizedName(name) in declared(wheel, extras=(e,), python=python))
        dep = Dependency(name=name, status=status, requirement=req, extras=extra_names,
                         reasons=reasons, known=provider)
        deps.append(_sample(dep, lookup, target))
    return tuple(deps)


def _sample(dep: Dependency, lookup: ProviderLookup, target: Target) -> Dependency:
    """Choose and read the versions to judge: lowest and highest in range, and the newest."""
    if lookup.skipped(dep.name):
        return replace(dep, problem="skipped (--skip)")
    try:
        available = lookup.versions(dep.name, target)
    except ProviderUnavailable as e:
        return replace(dep, problem=str(e))
    where = "the wheelhouse" + (" or the index" if lookup.download else "")
    if not available:
        return replace(dep, problem=f"no wheel for Python {target.python} on "
                                    f"{target.platforms[0]} or older in {where}")
    finals = [v for v in available if not v.is_prerelease] or list(available)
    newest = max(finals)
    roles: dict[Version, set[Role]] = defaultdict(set)
    if dep.status == "undeclared" or dep.requirement is None:
        in_range = [newest]
        roles[newest].update(ROLES)
    else:
        in_range = list(dep.requirement.specifier.filter(available))
        if not in_range:
            shown = ", ".join(str(v) for v in available[-5:])
            return replace(dep, available=available, problem=(
                f"no version with a compatible wheel satisfies {dep.spec} (newest available: "
                f"{shown})"))
        roles[in_range[0]].add("lowest")
        roles[in_range[-1]].add("highest")
        roles[newest].add("newest")
    samples: list[Sample] = []
    for version in sorted(roles):
        wheel: Wheel | None = None
        problem: str | None = None
        try:
            wheel = scan_wheel(lookup.obtain(dep.name, version, target))
        except (ProviderUnavailable, InvalidWheel) as e:
            problem = str(e)
        samples.append(Sample(version=version, roles=frozenset(roles[version]),
                              in_range=version in in_range, wheel=wheel, problem=problem))
    unread = [s for s in samples if s.in_range and s.wheel is None]
    return replace(
        dep, available=available, samples=tuple(samples),
        problem="; ".join(s.problem or "" for s in unread) if unread else None,
    )


# ---- the loader ---------------------------------------------------------------------------


def _emulate(
    wheel: Wheel,
    binaries: tuple[Binary, ...],
    *,
    deps: tuple[Dependency, ...],
    layout: InstallLayout,
    role: Role,
    platform: PlatformPolicy | None,
) -> Iterator[Link]:
    members = [(d, s) for d in deps if (s := d.sample(role)) is not None and s.wheel is not None]
    installed = [s.wheel for _d, s in members if s.wheel is not None] if layout.shared else []
    # pip installs dependencies before their dependent: the wheel's own files win a clash.
    combined = Layout.of_many([*installed, wheel])
    owner: dict[str, tuple[Dependency, Sample]] = {}
    if layout.shared:
        for d, s in members:
            assert s.wheel is not None
            owner.update((install_path(m.path), (d, s)) for m in s.wheel.members)
    for m in wheel.members:
        owner.pop(install_path(m.path), None)
    # What may already be loaded when a NEEDED is looked up: a declared provider's libraries
    # (imported first) and the wheel's own. The package cannot import a distribution it does
    # not require (undeclared, or behind an extra nobody asked for).
    loaded: dict[str, tuple[Dependency | None, Sample | None, str]] = {}
    for d, s in members:
        if d.status == "declared" and s.wheel is not None:
            for b in _by_soname(_installed_elf(s.wheel)):
                loaded.setdefault(b.soname or "", (d, s, install_path(b.path)))
    for b in _by_soname(binaries):
        loaded.setdefault(b.soname or "", (None, None, install_path(b.path)))
    for b in binaries:
        for res in resolve_binary(combined, b, platform, (), {}):
            yield Link(binary=b.path, layout=layout.name, scenario=role,
                       resolution=_attribute(wheel, res, owner, loaded))


def _by_soname(binaries: Iterable[Binary]) -> list[Binary]:
    """Libraries with a SONAME, the file named after it first (``libz3.so.4.15`` before the
    ``libz3.so`` copy carrying the same SONAME): the one a provider's import loads."""
    return sorted((b for b in binaries if b.soname),
                  key=lambda b: posixpath.basename(b.path) != b.soname)


def _attribute(
    wheel: Wheel,
    res: Resolution,
    owner: Mapping[str, tuple[Dependency, Sample]],
    loaded: Mapping[str, tuple[Dependency | None, Sample | None, str]],
) -> Resolution:
    """Name the distribution behind a resolution found over the combined install."""
    if res.kind == "wheel" and res.path is not None:
        found = owner.get(res.path)
        if found is None:
            return replace(res, provider=str(wheel.name), version=str(wheel.version))
        dep, sample = found
        return replace(
            res, kind="undeclared" if dep.status == "undeclared" else "dependency",
            provider=str(dep.name), version=str(sample.version),
            requirement=str(dep.requirement) if dep.requirement else None,
        )
    if res.kind == "unresolved" and "/" not in res.needed and res.needed in loaded:
        dep_, sample_, path = loaded[res.needed]
        return Resolution(
            res.needed, "preload", path=path,
            provider=str(dep_.name) if dep_ else str(wheel.name),
            version=str(sample_.version) if sample_ else str(wheel.version),
            requirement=str(dep_.requirement) if dep_ and dep_.requirement else None,
        )
    return res


# ---- facts the checks judge ----------------------------------------------------------------


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
                    for b in _installed_elf(sample.wheel)
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
    """Mangled C++ symbols imported from a provider whose declared range has no upper bound."""

    dependency: Dependency
    binaries: tuple[ArchivePath, ...]
    symbols: tuple[str, ...]


def unbounded_cxx(linkage: Linkage) -> tuple[CxxImport, ...]:
    own = _own_exports(linkage)
    found: list[CxxImport] = []
    for dep in linkage.dependencies:
        if dep.status == "undeclared" or dep.requirement is None:
            continue
        if has_upper_bound(dep.requirement):
            continue
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
        if symbols:
            found.append(CxxImport(dependency=dep, binaries=tuple(sorted(users)),
                                   symbols=tuple(sorted(symbols))))
    return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class Duplicate:
    """One SONAME, or one runtime's C ABI, provided by several distributions of the closure."""

    kind: Literal["soname", "abi"]
    key: str
    owners: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    """(distribution, versions, install paths), the wheel itself first when it is one."""
    wheel_paths: tuple[ArchivePath, ...]
    """The wheel's own members involved (empty: two dependencies collide)."""


def duplicates(linkage: Linkage) -> tuple[Duplicate, ...]:
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
        for s in dep.samples:
            if s.wheel is not None and s.in_range:
                closure.append((str(dep.name), str(s.version), _installed_elf(s.wheel)))
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


def _resolution_data(r: Resolution) -> dict[str, Any]:
    return {"kind": r.kind, "path": r.path, "entry": r.entry, "distribution": r.provider,
            "version": r.version, "requirement": r.requirement}


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
        item = _resolution_data(lk.resolution)
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
