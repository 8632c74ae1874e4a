"""Hermetic emulation of the dynamic loader's search, over the wheel's own install layout.

Paths here are relative to the install root (site-packages for purelib/platlib members), so
``$ORIGIN/../../tvm_ffi/lib`` from ``tilelang/lib`` becomes ``tvm_ffi/lib``: another
distribution's directory. Nothing on the host is consulted, so the verdict is the same on any
machine.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.requirements import Requirement

from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.knowledge.providers import KnownProvider, find_requirement, provider_for_soname
from wheelguard.model import ArchivePath, Binary, SoName, Wheel

__all__ = [
    "Entry",
    "EntryKind",
    "Layout",
    "Resolution",
    "classify_entry",
    "entries",
    "install_path",
    "resolve_binary",
]

EntryKind = Literal["absolute", "cwd-relative", "escapes-root", "in-wheel", "missing-dir",
                    "other-distribution"]

_ORIGIN = re.compile(r"\$(ORIGIN\b|\{ORIGIN\})")
_DATA = re.compile(r"^[^/]+\.data/(purelib|platlib)/")
_BUILD_TREE = re.compile(
    r"(^|/)(build|_build|cmake-build[^/]*|_skbuild|builddir|tmp|home|Users|runner|__w|project|"
    r"io|src|opt/_internal|workspace)(/|$)"
)


def install_path(member: str) -> str:
    """Where a member lands relative to site-packages (``.data/platlib`` folds into it)."""
    return _DATA.sub("", member)


@dataclass(frozen=True, slots=True)
class Layout:
    """The wheel as installed: files, directories and top-level names, computed once."""

    files: Mapping[str, ArchivePath]
    dirs: frozenset[str]
    tops: frozenset[str]
    inherited: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)
    """Install path of a binary -> DT_RPATH entries of the in-wheel objects that load it.

    glibc searches the DT_RPATH of the loading object and of its loaders for an object that
    has no DT_RUNPATH: auditwheel's grafted ``pkg.libs/libstdc++-*.so`` carries no RPATH of its
    own and finds its sibling ``libgcc_s-*.so`` through the extension module's DT_RPATH.
    """
    loaded_first: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Install path of a binary -> {NEEDED name: file} that its in-wheel loaders resolve.

    The loader maps dependencies breadth first and matches a NEEDED name against objects
    already loaded before searching: what a loader needs itself is there before the
    dependencies of its dependencies are looked up.
    """

    @classmethod
    def of(cls, wheel: Wheel) -> Layout:
        return cls.of_many((wheel,))

    @classmethod
    def of_many(cls, wheels: Iterable[Wheel]) -> Layout:
        """Several wheels installed into one directory, as pip installs them into one
        site-packages: a later wheel's file replaces an earlier one's at the same path."""
        files = {install_path(m.path): m.path for w in wheels for m in w.members}
        dirs: set[str] = set()
        for f in files:
            d = posixpath.dirname(f)
            while d and d not in dirs:
                dirs.add(d)
                d = posixpath.dirname(d)
        tops = frozenset(f.split("/", 1)[0] for f in files)
        layout = cls(files=files, dirs=frozenset(dirs), tops=tops)
        binaries = [b for w in wheels for b in w.binaries if b.format == "elf"]
        inherited, loaded_first = _loader_context(layout, binaries)
        return replace(layout, inherited=inherited, loaded_first=loaded_first)


def _loader_context(
    layout: Layout, binaries: list[Binary]
) -> tuple[dict[str, tuple[Entry, ...]], dict[str, dict[str, str]]]:
    """Fixed point of "X loads Y in the wheel": Y inherits X's DT_RPATH (and X's inheritance),
    and what X and its own loaders resolved is loaded before Y's dependencies are looked up.

    A loader with DT_RUNPATH contributes no RPATH (glibc ignores its DT_RPATH), and an object
    with DT_RUNPATH searches only that, so no RPATH is inherited into it either.
    """
    by_path = {install_path(b.path): b for b in binaries}
    own = {p: [classify_entry(b, e, b.search_path_tag, layout) for e in b.search_path]
           for p, b in by_path.items()}
    gives = {p: ([] if b.runpath else [classify_entry(b, e, "RPATH", layout) for e in b.rpath])
             for p, b in by_path.items()}
    inherited: dict[str, list[Entry]] = {p: [] for p in by_path}
    loaded: dict[str, dict[str, str]] = {p: {} for p in by_path}
    changed = True
    while changed:
        changed = False
        for p, b in by_path.items():
            search = own[p] + ([] if b.runpath else inherited[p])
            found: dict[str, str] = {
                n: t for n in b.needed
                if (t := _found_path(_find_in_wheel(n, search, layout.files))
                    or loaded[p].get(n))
            }
            passed = gives[p] + inherited[p]
            before: dict[str, str] = {**loaded[p], **found}
            for target in found.values():
                if target not in by_path:
                    continue
                if not by_path[target].runpath:
                    for entry in passed:
                        if entry not in inherited[target]:
                            inherited[target].append(entry)
                            changed = True
                for name, file in before.items():
                    if name not in loaded[target] and file != target:
                        loaded[target][name] = file
                        changed = True
    return ({p: tuple(v) for p, v in inherited.items() if v},
            {p: v for p, v in loaded.items() if v})


def _find_in_wheel(
    needed: str, search: Iterable[Entry], files: Mapping[str, ArchivePath]
) -> tuple[str, Entry] | None:
    """The install path that ``needed`` resolves to through ``search``, with the entry that
    found it."""
    for entry in search:
        if entry.directory is None or entry.kind in ("escapes-root", "other-distribution"):
            continue
        candidate = posixpath.normpath(posixpath.join(entry.directory, needed))
        if candidate in files:
            return candidate, entry
    return None


def _found_path(hit: tuple[str, Entry] | None) -> str | None:
    return hit[0] if hit is not None else None


@dataclass(frozen=True, slots=True)
class Entry:
    """One RPATH/RUNPATH entry of one binary, classified."""

    raw: str
    tag: str
    """RPATH or RUNPATH."""
    kind: EntryKind
    directory: str | None
    """Install-root-relative directory for $ORIGIN entries; None for absolute/cwd ones."""
    looks_like_build_tree: bool = False


def classify_entry(binary: Binary, raw: str, tag: str, layout: Layout) -> Entry:
    if raw.startswith("/"):
        return Entry(raw, tag, "absolute", None, bool(_BUILD_TREE.search(raw)))
    if not _ORIGIN.match(raw):
        return Entry(raw, tag, "cwd-relative", None)
    # A top-level binary's $ORIGIN is the install root itself: "." keeps "$ORIGIN/lib" from
    # expanding to the absolute-looking "/lib".
    origin = posixpath.dirname(install_path(binary.path)) or "."
    expanded = _ORIGIN.sub(lambda _m: origin, raw, count=1)
    if "$" in expanded:
        # $LIB / $PLATFORM: the loader expands them per host; treat the dir as unknown.
        return Entry(raw, tag, "in-wheel", posixpath.normpath(expanded))
    directory = posixpath.normpath(expanded)
    if directory == ".." or directory.startswith("../"):
        return Entry(raw, tag, "escapes-root", directory)
    top = directory.split("/", 1)[0]
    if directory != "." and top not in layout.tops:
        return Entry(raw, tag, "other-distribution", directory)
    if directory != "." and directory not in layout.dirs:
        return Entry(raw, tag, "missing-dir", directory)
    return Entry(raw, tag, "in-wheel", directory)


def entries(binary: Binary, layout: Layout) -> tuple[Entry, ...]:
    """Every entry, RPATH and RUNPATH both (hygiene concerns both, even the one ignored)."""
    return tuple(
        [classify_entry(binary, e, "RPATH", layout) for e in binary.rpath]
        + [classify_entry(binary, e, "RUNPATH", layout) for e in binary.runpath]
    )


ResolutionKind = Literal["wheel", "platform", "dependency", "undeclared", "unresolved", "preload"]
"""``preload``: no search-path entry finds it; an already loaded object with that SONAME
(loaded by importing its provider first) satisfies it. Only the linkage analysis says so."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one DT_NEEDED of one binary is satisfied."""

    needed: SoName
    kind: ResolutionKind
    path: str | None = None
    """Install-root-relative file for ``wheel``; for dependencies the directory reached."""
    entry: str | None = None
    """The RPATH/RUNPATH entry that found it; None when found by SONAME preload or policy."""
    provider: str | None = None
    """Distribution that provides it (``dependency``/``undeclared``)."""
    requirement: str | None = None
    version: str | None = None
    """The provider's version, where a real wheel of it was read (linkage analysis)."""


def resolve_binary(
    layout: Layout,
    binary: Binary,
    platform: PlatformPolicy | None,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> tuple[Resolution, ...]:
    search = [classify_entry(binary, e, binary.search_path_tag, layout) for e in binary.search_path]
    if binary.format == "macho":
        return tuple(_resolve_install_name(binary, n, search, layout.files) for n in binary.needed)
    here = install_path(binary.path)
    if not binary.runpath:
        search += layout.inherited.get(here, ())
    first = layout.loaded_first.get(here, {})
    return tuple(
        _resolve_one(needed, search, layout.files, platform, first=first, providers=providers,
                     requirements=requirements)
        for needed in binary.needed
    )


_MACOS_SYSTEM = ("/usr/lib/", "/System/Library/")


def _resolve_install_name(
    binary: Binary, name: SoName, search: list[Entry], files: Mapping[str, ArchivePath]
) -> Resolution:
    """dyld's view: ``@loader_path/`` is $ORIGIN, ``@rpath/`` walks LC_RPATH, and the OS
    libraries under /usr/lib and /System are the platform's."""
    if name.startswith(_MACOS_SYSTEM):
        return Resolution(name, "platform")
    if name.startswith("@loader_path/"):
        origin = posixpath.dirname(install_path(binary.path)) or "."
        candidate = posixpath.normpath(posixpath.join(origin, name.removeprefix("@loader_path/")))
        if candidate in files:
            return Resolution(name, "wheel", path=candidate, entry="@loader_path")
    elif name.startswith("@rpath/"):
        hit = _find_in_wheel(name.removeprefix("@rpath/"), search, files)
        if hit is not None:
            return Resolution(name, "wheel", path=hit[0], entry=hit[1].raw)
    return Resolution(name, "unresolved")


def _resolve_one(
    needed: SoName,
    search: list[Entry],
    files: Mapping[str, ArchivePath],
    platform: PlatformPolicy | None,
    *,
    first: Mapping[str, str],
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution:
    if "/" in needed:
        return Resolution(needed, "unresolved")
    hit = _find_in_wheel(needed, search, files)
    if hit is not None:
        return Resolution(needed, "wheel", path=hit[0], entry=hit[1].raw)
    if needed in first:  # mapped by a loader before this object's NEEDED are looked up
        return Resolution(needed, "wheel", path=first[needed], entry=None)
    if platform is not None and platform.allows_library(needed):
        return Resolution(needed, "platform")
    provider = provider_for_soname(needed, providers)
    if provider is not None:
        via = next(
            (e for e in search
             if e.kind == "other-distribution" and e.directory is not None
             and e.directory.split("/", 1)[0] in provider.top_level),
            None,
        )
        req = find_requirement(requirements, provider)
        return Resolution(
            needed,
            "dependency" if req is not None else "undeclared",
            path=via.directory if via else None,
            entry=via.raw if via else None,
            provider=str(req.name) if req is not None else provider.distribution,
            requirement=str(req) if req is not None else None,
        )
    return Resolution(needed, "unresolved")
