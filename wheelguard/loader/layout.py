"""The wheel as the loader sees it once installed: files, directories, search-path entries.

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

from wheelguard.loader.origin import expand_origin, origin_dir
from wheelguard.loader.paths import install_path
from wheelguard.model import ArchivePath, Binary, EntryKind, SearchTag, Wheel, freeze_mapping

__all__ = [
    "Entry",
    "Layout",
    "build_host_path",
    "classify_entry",
    "entries",
    "find_dylib_in_wheel",
    "find_in_wheel",
]

_BUILD_TREE = re.compile(
    r"(^|/)(build|_build|cmake-build[^/]*|_skbuild|builddir|tmp|home|Users|runner|__w|project|"
    r"io|src|opt/_internal|workspace)(/|$)"
)
_HOMEBREW = re.compile(r"^(/opt/homebrew|/usr/local/(Cellar|opt|Homebrew))(/|$)")
"""Homebrew's prefixes (Apple silicon, Intel): present on the build machine, not the user's."""


def build_host_path(path: str) -> str | None:
    """What an absolute path most likely is on the machine that built the wheel: ``a Homebrew
    prefix``, ``a build tree``, or None when it does not look like either."""
    if _HOMEBREW.match(path):
        return "a Homebrew prefix"
    if _BUILD_TREE.search(path):
        return "a build tree"
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    """The wheel as installed: files, directories and top-level names, computed once."""

    files: Mapping[str, ArchivePath]
    dirs: frozenset[str]
    tops: frozenset[str]
    inherited: Mapping[str, tuple[Entry, ...]] = field(
        default_factory=lambda: freeze_mapping({}))
    """Install path of a binary -> DT_RPATH entries of the in-wheel objects that load it.

    glibc searches the DT_RPATH of the loading object and of its loaders for an object that
    has no DT_RUNPATH: auditwheel's grafted ``pkg.libs/libstdc++-*.so`` carries no RPATH of its
    own and finds its sibling ``libgcc_s-*.so`` through the extension module's DT_RPATH.
    dyld does the same with ``LC_RPATH``: an ``@rpath/`` load tries the entries of the image
    itself, then those of the images that loaded it; for a Mach-O binary this holds the
    ``LC_RPATH`` entries of its in-wheel loaders (each ``@loader_path`` relative to its own
    carrier).
    """
    loaded_first: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: freeze_mapping({}))
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
        layout = cls(files=freeze_mapping(files), dirs=frozenset(dirs), tops=tops)
        binaries = [b for w in wheels for b in w.binaries if b.format == "elf"]
        inherited, loaded_first = _loader_context(layout, binaries)
        inherited.update(_dyld_context(layout, [b for w in wheels for b in w.binaries
                                                if b.format == "macho"]))
        return replace(layout, inherited=freeze_mapping(inherited),
                       loaded_first=freeze_mapping({k: freeze_mapping(v)
                                                    for k, v in loaded_first.items()}))


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
                if (t := _found_path(find_in_wheel(n, search, layout.files))
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


def _dyld_context(layout: Layout, binaries: list[Binary]) -> dict[str, tuple[Entry, ...]]:
    """Fixed point of "X loads Y in the wheel" for Mach-O: Y's ``@rpath/`` loads also try X's
    ``LC_RPATH`` entries, and those X inherited."""
    by_path = {install_path(b.path): b for b in binaries}
    own = {p: [classify_entry(b, e, "LC_RPATH", layout) for e in b.rpath]
           for p, b in by_path.items()}
    inherited: dict[str, list[Entry]] = {p: [] for p in by_path}
    changed = True
    while changed:
        changed = False
        for p, b in by_path.items():
            search = own[p] + inherited[p]
            for name in b.needed:
                hit = find_dylib_in_wheel(name, b.path, search, layout.files)
                if hit is None or hit[0] not in by_path or hit[0] == p:
                    continue
                for entry in search:
                    if entry not in inherited[hit[0]] and entry not in own[hit[0]]:
                        inherited[hit[0]].append(entry)
                        changed = True
    return {p: tuple(v) for p, v in inherited.items() if v}


def find_dylib_in_wheel(
    name: str, binary_path: str, search: Iterable[Entry], files: Mapping[str, ArchivePath]
) -> tuple[str, str] | None:
    """The install path a dylib load command reaches inside the wheel, as dyld expands it, and
    how (``@loader_path`` or the LC_RPATH entry that found it); None when it does not."""
    if name.startswith("@loader_path/"):
        candidate = posixpath.normpath(
            posixpath.join(origin_dir(binary_path), name.removeprefix("@loader_path/")))
        return (candidate, "@loader_path") if candidate in files else None
    if name.startswith("@rpath/"):
        hit = find_in_wheel(name.removeprefix("@rpath/"), search, files)
        return (hit[0], hit[1].raw) if hit is not None else None
    return None


def find_in_wheel(
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
    tag: SearchTag
    kind: EntryKind
    directory: str | None
    """Install-root-relative directory for $ORIGIN entries; None for absolute/cwd ones."""
    looks_like_build_tree: bool = False
    looks_like_homebrew: bool = False


def classify_entry(binary: Binary, raw: str, tag: SearchTag, layout: Layout) -> Entry:
    if raw.startswith("/"):
        return Entry(raw, tag, "absolute", None, bool(_BUILD_TREE.search(raw)),
                     bool(_HOMEBREW.match(raw)))
    if tag == "LC_RPATH" and (raw == "@executable_path" or raw.startswith("@executable_path/")):
        # The main executable's directory: for a wheel, wherever the Python interpreter is.
        return Entry(raw, tag, "executable-relative", None)
    expanded = expand_origin(raw, binary.path)
    if expanded is None:
        return Entry(raw, tag, "cwd-relative", None)
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
    """Every entry, RPATH and RUNPATH both (hygiene concerns both, even the one ignored);
    ``LC_RPATH`` for Mach-O."""
    if binary.format == "macho":
        return tuple(classify_entry(binary, e, "LC_RPATH", layout) for e in binary.rpath)
    return tuple(
        [classify_entry(binary, e, "RPATH", layout) for e in binary.rpath]
        + [classify_entry(binary, e, "RUNPATH", layout) for e in binary.runpath]
    )
