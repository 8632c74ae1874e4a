"""What should not ship: build and source artifacts, foreign binaries, debug info.

Artifacts are reported per tree (a vendored project such as ``pkg/3rdparty/tvm``, else the
package subdirectory) with file counts and bytes, because release engineers act per tree: a
592 MB ``3rdparty/`` is one decision, not ten thousand.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.tags import machines, native_formats
from wheelguard.knowledge.trees import tree_of
from wheelguard.model import (
    ArchivePath,
    DebugInfoSubject,
    Finding,
    Member,
    MemberSubject,
    TreeSubject,
)
from wheelguard.rules import RULES
from wheelguard.util.units import format_bytes

__all__ = ["artifact_category", "run"]

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


def run(ctx: AuditContext) -> Iterator[Finding]:
    yield from _artifacts(ctx)
    yield from _binaries(ctx)


def _artifacts(ctx: AuditContext) -> Iterator[Finding]:
    tallies: dict[tuple[str, bool], _Tally] = defaultdict(_Tally)
    dist_info = ctx.wheel.dist_info + "/"
    for member in ctx.wheel.members:
        if member.path.startswith(dist_info):
            continue
        tree, vendored = tree_of(member.path)
        category = artifact_category(member.path, vendored)
        if category is None or (not vendored and category not in _EVERYWHERE):
            continue
        tallies[(tree, vendored)].add(member, category)
    for (tree, vendored), t in sorted(tallies.items()):
        rule = RULES["WG401" if vendored else "WG402"]
        kinds = ", ".join(
            f"{c} {n} files/{format_bytes(b)}" for c, (n, b) in sorted(t.categories.items())
        )
        yield rule.finding(
            TreeSubject(tree=tree, vendored=vendored, members=tuple(t.members)),
            f"{tree}/ ships {t.files} build/source files ({format_bytes(t.bytes)}): {kinds}",
            data={
                "tree": tree,
                "vendored": vendored,
                "files": t.files,
                "bytes": t.bytes,
                "categories": {c: {"files": n, "bytes": b} for c, (n, b) in t.categories.items()},
                "examples": t.examples,
            },
        )


def _binaries(ctx: AuditContext) -> Iterator[Finding]:
    arches = machines(ctx.wheel.platforms)
    expected = native_formats(ctx.wheel.platforms)
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
            size = next((m.size for m in ctx.wheel.members if m.path == b.path), 0)
            yield RULES["WG404"].finding(
                DebugInfoSubject(binary=b.path, library=b.name),
                f"carries DWARF debug sections ({format_bytes(size)} file)",
                data={"size": size},
            )
    for path, error in ctx.wheel.unreadable_binaries:
        # The adapters' errors name the member; the finding already carries it as its path.
        reason = error.removeprefix(f"{path}: ")
        yield RULES["WG405"].finding(MemberSubject(path=path), reason, data={"reason": reason})

