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
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import Requirement

from .model import ArchivePath, Binary, SoName, Wheel
from .platform import PlatformPolicy
from .providers import KnownProvider, find_requirement, provider_for_soname

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
        return cls(files=files, dirs=frozenset(dirs), tops=tops)


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
    return tuple(
        _resolve_one(needed, search, layout.files, platform, providers=providers,
                     requirements=requirements)
        for needed in binary.needed
    )


def _resolve_one(
    needed: SoName,
    search: list[Entry],
    files: Mapping[str, ArchivePath],
    platform: PlatformPolicy | None,
    *,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution:
    if "/" in needed:
        return Resolution(needed, "unresolved")
    for entry in search:
        if entry.directory is None or entry.kind in ("escapes-root", "other-distribution"):
            continue
        candidate = posixpath.normpath(posixpath.join(entry.directory, needed))
        if candidate in files:
            return Resolution(needed, "wheel", path=candidate, entry=entry.raw)
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
