"""What should not ship: build and source artifacts, foreign binaries, debug info.

Artifacts are reported per tree (a vendored project such as ``pkg/3rdparty/tvm``, else the
package subdirectory) with file counts and bytes, because release engineers act per tree: a
592 MB ``3rdparty/`` is one decision, not ten thousand.

Severity follows harm: what a tree wastes, in bytes and as a share of the installed wheel
(:func:`harm`), so one 837-byte ``CMakeLists.txt`` is a note and 165 MiB of static archives
an error; debug info, which tools do read, needs twice as much to fail a release. Trees a
package ships on purpose are named as such (WG408, info), not as forgotten build output:
sources its Python code compiles at run time (a path it builds from literals,
``root / "data" / "csrc"``, ``"driver.c"``), CMake package files for downstream builds
(``*.cmake`` under a ``cmake/`` directory), and the static archives of a library wheel (no
extension module, no Python code loading its libraries: the CUDA toolkit components). Debug
info is measured in DWARF bytes, and small amounts are a note.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.tags import machines, native_formats, parse_platform
from wheelguard.knowledge.trees import VENDOR_DIRS, tree_of
from wheelguard.model import (
    ArchivePath,
    Binary,
    DebugInfoSubject,
    Finding,
    Member,
    MemberSubject,
    Severity,
    TreeSubject,
    WheelSubject,
)
from wheelguard.rules import RULES
from wheelguard.util.units import format_bytes

__all__ = ["artifact_category", "harm", "run"]

_SOURCE = frozenset({".c", ".cc", ".cpp", ".cxx", ".c++", ".cu", ".m", ".mm", ".f", ".f90",
                     ".s", ".asm", ".rs", ".go", ".java", ".swift"})
_OBJECT = frozenset({".o", ".obj", ".a", ".lib", ".lo", ".la", ".gch", ".pch", ".ptx.o"})
_BUILD_FILES = frozenset({"cmakelists.txt", "cmakecache.txt", "makefile", "build.ninja",
                          ".ninja_log", ".ninja_deps", "compile_commands.json", "meson.build",
                          "build.bazel", "workspace", "configure.ac", "makefile.am",
                          "install_manifest.txt", "cmake_install.cmake", "ctesttestfile.cmake"})
_BUILD_DIR = re.compile(r"^(cmakefiles|cmake-build-.*|_skbuild|build|_build|build-.*)$")
_VCS_DIR = frozenset({".git", ".hg", ".svn", ".github", ".gitlab", ".circleci"})
_TEST_DIRS = frozenset({"tests", "test", "unittests"})
_DOC_DIRS = frozenset({"docs", "doc", "examples", "example", "tutorials"})

_FORMAT = {"elf": "ELF", "macho": "Mach-O", "pe": "PE"}

# Categories that count outside vendored trees too; tests and docs there belong to the package.
_EVERYWHERE = ("object", "build-dir", "vcs", "cmake", "source")


def artifact_category(path: str, vendored: bool) -> str | None:
    """Why a member is an artifact (``source``, ``cmake``, ``object`` ...), or None."""
    parts = path.split("/")
    name = parts[-1]
    lower = name.lower()
    dirs = [p.lower() for p in parts[:-1]]
    ext = posixpath.splitext(lower)[1]
    if any(d in _VCS_DIR for d in dirs) or lower.startswith((".git", ".hg")):
        return "vcs"
    if ext in _OBJECT:
        return "object"
    if any(_BUILD_DIR.match(d) for d in dirs) and ext != ".py":
        return "build-dir"
    if lower in _BUILD_FILES or ext == ".cmake" or lower.endswith(".cmake.in"):
        return "cmake"
    if ext in _SOURCE or (ext == ".s" and name.endswith(".S")):
        return "source"
    if vendored:
        if any(d in _TEST_DIRS for d in dirs):
            return "tests"
        if any(d in _DOC_DIRS for d in dirs):
            return "docs"
    return None


@dataclass
class _Tally:
    files: int = 0
    bytes: int = 0
    categories: dict[str, list[int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    members: list[tuple[ArchivePath, str]] = field(default_factory=list)

    def add(self, member: Member, category: str) -> None:
        self.members.append((member.path, category))
        self.files += 1
        self.bytes += member.size
        counts = self.categories.setdefault(category, [0, 0])
        counts[0] += 1
        counts[1] += member.size
        if len(self.examples) < 5:
            self.examples.append(member.path)


_ERROR_ARTIFACTS = (64 << 20, 16 << 20, 0.10)
"""Build output fails the audit from 64 MiB, or from 16 MiB that are 10% of the wheel."""
_ERROR_DEBUG = (128 << 20, 16 << 20, 0.25)
"""Debug info is useful data in the wrong place (line tables profilers read): it fails the
audit from 128 MiB, or from 16 MiB that are a quarter of the wheel."""
_NOTE_BYTES = 16 << 10
"""Below this it is a note: one stray CMakeLists.txt is not worth a warning."""


def harm(
    wasted: int, installed: int, limits: tuple[int, int, float] = _ERROR_ARTIFACTS
) -> Severity:
    """The severity of shipping ``wasted`` bytes nothing needs in a wheel of ``installed``:
    an error from ``limits[0]`` bytes, or from ``limits[1]`` bytes that are ``limits[2]`` of
    the installed wheel; a warning from 16 KiB; a note below."""
    absolute, least, share = limits
    if wasted >= absolute or (wasted >= least and wasted >= share * installed):
        return Severity.ERROR
    return Severity.WARNING if wasted >= _NOTE_BYTES else Severity.INFO


def run(ctx: AuditContext) -> Iterator[Finding]:
    yield from _artifacts(ctx)
    yield from _binaries(ctx)
    yield from _tags(ctx)


def _tags(ctx: AuditContext) -> Iterator[Finding]:
    """Platform tags the package index refuses to publish (``linux_x86_64``)."""
    local = sorted(p for p in ctx.wheel.platforms if parse_platform(p).family == "linux")
    if local:
        yield RULES["WG406"].finding(
            WheelSubject(),
            f"tagged {', '.join(local)}: the package index accepts only manylinux and "
            "musllinux tags for Linux, because a linux_* wheel promises nothing about the "
            "system libraries it runs with",
            data={"tags": local},
        )


_GENERIC_DIRS = frozenset({"src", "source", "sources", "lib", "lib64", "include", "build",
                           "tests", "test", "docs", "doc", "examples", "python", "cmake",
                           "data", "share", "bin", "tools", "utils", "csrc", "stubs", "common",
                           "core", "kernels", "runtime"} | VENDOR_DIRS)
"""Directory names too common to tie a tree to one path the code builds (alone)."""


class _Deliberate:
    """Why members counted as artifacts are shipped on purpose (:meth:`why`), with the
    package's path fragments indexed once (a JIT library builds hundreds of them)."""

    def __init__(self, ctx: AuditContext) -> None:
        self._sdk = ctx.reach is not None and any(r.kind == "library-wheel"
                                                  for r in ctx.reach.roots.values())
        fragments = ctx.wheel.python.fragments
        self._names = fragments
        self._by_first: dict[str, list[list[str]]] = defaultdict(list)
        for fragment in fragments:
            pieces = fragment.split("/")
            self._by_first[pieces[0]].append(pieces)

    def why(self, path: str, category: str, *, vendored: bool) -> str | None:
        parts = path.split("/")
        if category == "cmake" and not vendored and "cmake" in (p.lower() for p in parts[:-1]):
            return "cmake-package"  # a vendored project's package config is its own, not ours
        if category == "object" and self._sdk:
            return "sdk"
        if category == "source" and self._jit_source(parts):
            return "jit-sources"
        return None

    def _jit_source(self, parts: list[str]) -> bool:
        """A source the package's Python code builds a path to: its file name, a directory it
        sits in (not a generic one like ``src``), or a multi-part path (``data/csrc``). A path
        to a whole vendored project (``3rdparty/tvm``) or a top-level package says where code
        lives, not what is compiled, so it does not count."""
        if parts[-1] in self._names:
            return True
        for i in range(1, len(parts) - 1):
            for pieces in self._by_first.get(parts[i], ()):
                n = len(pieces)
                if i + n > len(parts) - 1 or parts[i:i + n] != pieces:
                    continue
                last = i + n - 1
                if parts[last - 1].lower() in VENDOR_DIRS or parts[last].lower() in VENDOR_DIRS:
                    continue  # a vendored project's root, or the vendor directory itself
                if n == 1 and pieces[0].lower() in _GENERIC_DIRS:
                    continue
                return True
        return False


def _artifacts(ctx: AuditContext) -> Iterator[Finding]:
    tallies: dict[tuple[str, bool], _Tally] = defaultdict(_Tally)
    kept: dict[tuple[str, bool], _Tally] = defaultdict(_Tally)
    dist_info = ctx.wheel.dist_info + "/"
    installed = ctx.wheel.total_size
    deliberate = _Deliberate(ctx)
    for member in ctx.wheel.members:
        if member.path.startswith(dist_info):
            continue
        tree, vendored = tree_of(member.path)
        category = artifact_category(member.path, vendored)
        if category is None or (not vendored and category not in _EVERYWHERE):
            continue
        why = deliberate.why(member.path, category, vendored=vendored)
        if why is not None:
            kept[(tree, vendored)].add(member, why)
        else:
            tallies[(tree, vendored)].add(member, category)
    for (tree, vendored), t in sorted(tallies.items()):
        rule = RULES["WG401" if vendored else "WG402"]
        severity = harm(t.bytes, installed)
        share = t.bytes / installed if installed else 0.0
        yield rule.finding(
            TreeSubject(tree=tree, vendored=vendored, members=tuple(t.members)),
            f"{tree}/ ships {t.files} build/source files ({format_bytes(t.bytes)}, "
            f"{share:.1%} of the installed wheel): {_kinds(t)}",
            data={
                "tree": tree,
                "vendored": vendored,
                "files": t.files,
                "bytes": t.bytes,
                "share": round(share, 4),
                "categories": {c: {"files": n, "bytes": b} for c, (n, b) in t.categories.items()},
                "examples": t.examples,
            },
            severity=severity,
        )
    for (tree, vendored), t in sorted(kept.items()):
        yield RULES["WG408"].finding(
            TreeSubject(tree=tree, vendored=vendored, members=tuple(t.members)),
            f"{tree}/ ships {t.files} files on purpose ({format_bytes(t.bytes)}): {_kinds(t)}",
            data={"tree": tree, "vendored": vendored, "files": t.files, "bytes": t.bytes,
                  "categories": {c: {"files": n, "bytes": b}
                                 for c, (n, b) in t.categories.items()},
                  "examples": t.examples},
        )


def _kinds(t: _Tally) -> str:
    return ", ".join(f"{c} {n} files/{format_bytes(b)}"
                     for c, (n, b) in sorted(t.categories.items()))


def _binaries(ctx: AuditContext) -> Iterator[Finding]:
    arches = machines(ctx.wheel.platforms)
    expected = native_formats(ctx.wheel.platforms)
    installed = ctx.wheel.total_size
    for b in ctx.wheel.iter_binaries():
        if arches is not None and (expected is None or b.format in expected):
            # A binary of another OS's format is WG421 (checks/foreign.py), not an arch issue.
            slices = set(b.machine.split("+"))
            # A universal Mach-O file with a slice for the tag loads fine (dyld picks that
            # slice); one that lacks a promised slice is WG322 (checks/macos.py).
            foreign = not slices & arches if b.format == "macho" else not slices <= arches
            if foreign:
                yield RULES["WG403"].finding(
                    MemberSubject(path=b.path, library=b.name),
                    f"{_FORMAT[b.format]} binary for {b.machine}, but the wheel is tagged for "
                    f"{', '.join(sorted(arches))}",
                    data={"machine": b.machine, "format": b.format, "wheel_arches": sorted(arches)},
                )
        if b.has_debug_info:
            yield _debug_info(ctx, b, installed)
    yield from _unreadable(ctx)


def _debug_info(ctx: AuditContext, b: Binary, installed: int) -> Finding:
    member = ctx.wheel.member(b.path)
    size = member.size if member is not None else 0
    dwarf = b.debug_bytes
    measured = (f"{format_bytes(dwarf)} of DWARF in a {format_bytes(size)} file" if dwarf
                else f"in a {format_bytes(size)} file")
    return RULES["WG404"].finding(
        DebugInfoSubject(binary=b.path, library=b.name),
        f"carries DWARF debug sections ({measured})",
        data={"size": size, "dwarf_bytes": dwarf},
        severity=harm(dwarf, installed, _ERROR_DEBUG) if dwarf else None,
    )


def _unreadable(ctx: AuditContext) -> Iterator[Finding]:
    for path, error in ctx.wheel.unreadable_binaries:
        # The adapters' errors name the member; the finding already carries it as its path.
        reason = error.removeprefix(f"{path}: ")
        yield RULES["WG405"].finding(MemberSubject(path=path), reason, data={"reason": reason})

