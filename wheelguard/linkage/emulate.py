"""Cross-wheel linkage, the analysis: read the providers' real wheels and emulate the loader.

A wheel's native libraries need libraries that other distributions ship (``libtvm_ffi.so``
from apache-tvm-ffi, ``libz3.so.4.15`` from z3-solver). The hermetic audit can only trust the
table of known providers; this module reads the providers' real wheels, found by a
:class:`~wheelguard.linkage.fetch.ProviderLookup` at the lowest and the highest version the
declared range admits and at the newest published, and answers where each DT_NEEDED is found,
per install layout (:data:`LAYOUTS`) and per version scenario, as the loader would, without
installing anything: through a RUNPATH/RPATH entry with ``$ORIGIN`` expanded (the search is
:func:`wheelguard.loader.resolve.resolve_binary` run over the combined install, so the rules
are the audit's own), by the platform, or only because an object with that SONAME is already
loaded (glibc matches a NEEDED against loaded SONAMEs first; "import the provider first").
:mod:`wheelguard.linkage.facts` derives what the checks judge from the result.

Limits, on purpose: only the wheel's own ELF libraries are loaded (a provider's own NEEDED are
that provider's audit); ``LD_LIBRARY_PATH`` and the host's ``ld.so.cache`` are not consulted;
dependencies are followed one level (the wheel's own Requires-Dist).

Why this module is long: finding the providers, sampling their versions and emulating the
install are one analysis whose parts pass the same dependencies and samples along; the memo
that lets layouts and roles share an install's work lives beside the emulation it serves.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelguard.errors import InvalidWheel
from wheelguard.knowledge.manylinux import PlatformPolicy, platform_policy
from wheelguard.knowledge.providers import KnownProvider, declared, known_providers
from wheelguard.linkage import library_member
from wheelguard.linkage.fetch import ProviderLookup, ProviderUnavailable, Target, target_for
from wheelguard.loader.layout import Layout, classify_entry
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolve import Resolution, resolve_binary
from wheelguard.model import ArchivePath, Binary, SoName, Wheel, freeze_mapping

__all__ = [
    "LAYOUTS",
    "ROLES",
    "Dependency",
    "InstallLayout",
    "Link",
    "Linkage",
    "Role",
    "Sample",
    "Survey",
    "analyse_linkage",
    "delivered",
    "emulate_install",
    "installed_elf",
    "survey",
]

Role = Literal["lowest", "highest", "newest"]
ROLES: tuple[Role, ...] = ("lowest", "highest", "newest")
Status = Literal["declared", "extra", "undeclared"]
"""``declared``: a Requires-Dist in force (markers for the target, extras asked for);
``extra``: declared only under an extra not asked for; ``undeclared``: not declared at all,
found because a RUNPATH entry reaches its directory."""



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


def installed_elf(wheel: Wheel) -> tuple[Binary, ...]:
    """ELF objects that land in site-packages (not ``.data/scripts`` or ``.data/data``)."""
    return tuple(
        b for b in wheel.iter_binaries("elf")
        if not install_path(b.path).split("/", 1)[0].endswith(".data")
    )


def delivered(wheel: Wheel, needed: str) -> Binary | None:
    """The library of ``wheel`` the loader takes for ``needed``: a file of that name (what a
    search-path entry finds), else one whose SONAME it is (what a preload matches)."""
    libs = installed_elf(wheel)
    by_name = next((b for b in libs if posixpath.basename(b.path) == needed), None)
    return by_name or next((b for b in libs if b.soname == needed), None)


# ---- finding the providers --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Survey:
    """What the wheel needs from outside and who may provide it, before any provider version
    is read: where the linkage analysis and ``wheelguard advise`` both start."""

    wheel: Wheel
    target: Target
    platform: PlatformPolicy | None
    providers: tuple[KnownProvider, ...]
    binaries: tuple[Binary, ...]
    external: Mapping[ArchivePath, tuple[SoName, ...]]
    dependencies: tuple[Dependency, ...]  # not sampled yet: no version listed or read


def survey(
    wheel: Wheel,
    lookup: ProviderLookup,
    *,
    python: str | None = None,
    extras: Iterable[str] = (),
    platform: PlatformPolicy | None = None,
    providers: tuple[KnownProvider, ...] | None = None,
    undeclared_by_name: bool = False,
) -> Survey:
    """The wheel's external needs and the distributions worth reading for them.

    ``undeclared_by_name``: an undeclared distribution counts when it provides an external
    library, even if no search-path entry reaches its directory (a preload would find it): the
    advice asks only that; the audit asks for both (WG701 is about such an entry).
    """
    target = target_for(wheel, python)
    policy = platform if platform is not None else platform_policy(wheel.platforms)
    known = known_providers() if providers is None else providers
    binaries = installed_elf(wheel)
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
        extras=tuple(extras), python=python, undeclared_by_name=undeclared_by_name,
    )
    return Survey(wheel=wheel, target=target, platform=policy, providers=known,
                  binaries=binaries, external=freeze_mapping(external), dependencies=deps)


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
    found = survey(wheel, lookup, python=python, extras=extras, platform=platform,
                   providers=providers)
    deps = tuple(_sample(d, lookup, found.target) for d in found.dependencies)
    chosen = tuple(layouts)
    # Layouts and roles often install the same wheels (every unshared layout installs the
    # wheel alone; lowest, highest and newest are often one version): the combined layout,
    # its loader fixpoint and each binary's search are computed once per distinct install.
    memo = _InstallMemo()
    links = tuple(
        link
        for layout in chosen
        for role in ROLES
        for link in _emulate(wheel, found.binaries, deps=deps, layout=layout, role=role,
                             platform=found.platform, memo=memo)
    )
    return Linkage(
        wheel=wheel, target=found.target, platform=found.platform, providers=found.providers,
        layouts=chosen, dependencies=deps, binaries=found.binaries, external=found.external,
        links=links,
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
    undeclared_by_name: bool = False,
) -> tuple[Dependency, ...]:
    """The distributions worth reading: declared ones that provide a needed library or own a
    directory an entry reaches; extra-only or undeclared ones that provide a needed library
    (undeclared: in a directory an entry reaches, unless ``undeclared_by_name``). Everything
    else (torch for a wheel that needs none of its libraries) is never fetched."""
    binaries = installed_elf(wheel)
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
            "undeclared": bool(provides and (owns or undeclared_by_name)),
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
        deps.append(dep)
    return tuple(deps)


def _sample(dep: Dependency, lookup: ProviderLookup, target: Target) -> Dependency:
    """Choose and read the versions to judge: lowest and highest in range, and the newest."""
    if lookup.skipped(dep.name):
        return replace(dep, problem="skipped (--skip)")
    try:
        available = lookup.versions(dep.name, target)
    except ProviderUnavailable as e:
        return replace(dep, problem=str(e))
    if not available:
        return replace(dep, problem=f"no wheel for Python {target.python} on "
                                    f"{target.platforms[0]} or older: {lookup.where}")
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
            wheel = lookup.scan(lookup.obtain(dep.name, version, target), only=library_member)
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
    memo: _InstallMemo | None = None,
) -> Iterator[Link]:
    members = [(d, s) for d in deps if (s := d.sample(role)) is not None and s.wheel is not None]
    for binary, resolution in emulate_install(wheel, binaries, members, layout=layout,
                                              platform=platform, memo=memo):
        yield Link(binary=binary, layout=layout.name, scenario=role, resolution=resolution)


def emulate_install(
    wheel: Wheel,
    binaries: tuple[Binary, ...],
    members: Iterable[tuple[Dependency, Sample]],
    *,
    layout: InstallLayout,
    platform: PlatformPolicy | None,
    memo: _InstallMemo | None = None,
) -> Iterator[tuple[ArchivePath, Resolution]]:
    """Every NEEDED of ``binaries`` resolved over one install: the wheel with these versions
    of its dependencies, laid out as ``layout`` says. ``memo`` shares the work between calls
    that install the same wheels."""
    members = [(d, s) for d, s in members if s.wheel is not None]
    installed = [s.wheel for _d, s in members if s.wheel is not None] if layout.shared else []
    memo = memo if memo is not None else _InstallMemo()
    # pip installs dependencies before their dependent: the wheel's own files win a clash.
    combined = memo.layout([*installed, wheel])
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
            for b in _by_soname(installed_elf(s.wheel)):
                loaded.setdefault(b.soname or "", (d, s, install_path(b.path)))
    for b in _by_soname(binaries):
        loaded.setdefault(b.soname or "", (None, None, install_path(b.path)))
    for b in binaries:
        for res in memo.resolve(combined, b, platform):
            yield b.path, _attribute(wheel, res, owner, loaded)


class _InstallMemo:
    """The combined layout of each distinct set of installed wheels (its loader fixpoint is
    most of an emulation's cost) and each binary's resolutions over it, for one analysis."""

    def __init__(self) -> None:
        self._layouts: dict[tuple[int, ...], tuple[list[Wheel], Layout]] = {}
        self._resolved: dict[tuple[int, ArchivePath], list[Resolution]] = {}

    def layout(self, wheels: list[Wheel]) -> Layout:
        key = tuple(id(w) for w in wheels)
        hit = self._layouts.get(key)
        if hit is None:
            # The wheels are kept with their layout so that no id is reused while it lives.
            hit = self._layouts[key] = (wheels, Layout.of_many(wheels))
        return hit[1]

    def resolve(self, combined: Layout, binary: Binary,
                platform: PlatformPolicy | None) -> list[Resolution]:
        key = (id(combined), binary.path)
        hit = self._resolved.get(key)
        if hit is None:
            hit = self._resolved[key] = list(resolve_binary(combined, binary, platform, (), {}))
        return hit


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
