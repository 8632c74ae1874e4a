"""The source needs of one wheel turned into edits of a scikit-build-core + CMake project.

Each need goes to the file where the build decides it: members not to ship to
``wheel.exclude`` (or a ``wheel.packages`` mapping dropped whole), search-path entries to the
CMake argument that holds them (or the link-path setting that adds absolute ones), DWARF to
``install.strip``/``cmake.build-type`` and explicit ``-g`` flags, a runtime compiled in to the
target that compiles it, requirements to ``[project].dependencies``. What has no edit becomes an
:class:`~wheelguard.fixsource.patch.Instruction` naming the file and line to look at.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from wheelguard.fixsource.cmake import CMakeFile, Command, discover
from wheelguard.fixsource.cmake_build import debug_flag_edits, install_sites, unembed_edits
from wheelguard.fixsource.cmake_rpath import (
    RpathSite,
    entry_edits,
    find_entry,
    link_path_edits,
    rpath_sites,
)
from wheelguard.fixsource.needs import EntryChange, SourceNeeds
from wheelguard.fixsource.patch import Edit, Instruction
from wheelguard.fixsource.project import Project
from wheelguard.fixsource.skbuild import (
    PYPROJECT,
    SKB,
    PyprojectEditor,
    exclude_patterns,
    package_sources,
    source_of,
)
from wheelguard.model import ArchivePath, Finding, SearchPathSubject
from wheelguard.repair.edits import RequirementEdit
from wheelguard.rules import RULES

__all__ = ["Parts", "fix_skbuild", "open_instructions", "preload_notes", "short"]


@dataclass
class Parts:
    edits: list[Edit] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What is already right, or context a reviewer wants (where a member is installed)."""


def short(reason: str, limit: int = 110) -> str:
    """A rule's reason cut to its first clause: edits and instructions stay one line."""
    head = re.split(r"(?<=[;:.])\s", reason, maxsplit=1)[0].rstrip(";:.")
    return head if len(head) <= limit else head[:limit - 1].rstrip() + "…"


def fix_skbuild(project: Project, needs: SourceNeeds) -> Parts:
    text = project.read_text(PYPROJECT)
    assert text is not None
    editor = PyprojectEditor(text)
    skb = editor.data.get("tool", {}).get("scikit-build", {})
    source_dir = str(skb.get("cmake", {}).get("source-dir", "") or "").strip("./")
    found = discover(project, source_dir)
    files = found.files
    parts = Parts()
    for path, line, arg in found.unresolved:
        parts.notes.append(f"{path}:{line}: {arg!r} not followed (the path needs CMake to "
                           "evaluate it)")
    name = str(editor.data.get("project", {}).get("name", needs.wheel.name))
    mapping = package_sources(editor.data, name, project.is_dir)
    _members(editor, files, mapping, needs, parts)
    _entries(editor, files, needs, parts)
    _debug(editor, files, needs, parts)
    wanted: list[tuple[RequirementEdit, str]] = []
    for u in needs.unembed:
        why = f"{u.member} compiles {u.distribution}'s runtime in"
        edits, instructions = unembed_edits(files, u.member, u.provider, why)
        parts.edits += edits
        parts.instructions += instructions
        declared = [r for r in editor.data.get("project", {}).get("dependencies", [])
                    if canonicalize_name(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0])
                    == u.distribution]
        if not declared and edits:
            wanted.append((RequirementEdit(u.distribution, None, u.distribution), why))
    wanted += [(r, f"Requires-Dist {r.new}: the repair would {'tighten' if r.old else 'add'} "
                   "it") for r in needs.requirements]
    for item in editor.requirements(wanted):
        _add(parts, item)
    parts.notes += preload_notes(project, mapping, needs)
    parts.instructions += open_instructions(needs, files, sites=None)
    return parts


def _add(parts: Parts, item: Edit | Instruction | None) -> None:
    if isinstance(item, Edit):
        parts.edits.append(item)
    elif isinstance(item, Instruction):
        parts.instructions.append(item)


# ---- members ------------------------------------------------------------------------------


def _members(editor: PyprojectEditor, files: tuple[CMakeFile, ...], mapping: dict[str, str],
             needs: SourceNeeds, parts: Parts) -> None:
    if not needs.removed:
        return
    removed = set(needs.removed)

    def why(paths: Iterable[str]) -> str:
        reasons = [needs.removal_reasons.get(ArchivePath(p), "") for p in paths]
        labels = sorted({r.split(":", 1)[0] for r in reasons if r})
        texts = sorted({short(r.split(": ", 1)[1]) for r in reasons if ": " in r})
        tail = f" ({texts[0]})" if len(texts) == 1 else ""
        return f"not shipped under {', '.join(labels)}{tail}"

    table = isinstance(editor.data.get("tool", {}).get("scikit-build", {}).get(
        "wheel", {}).get("packages"), dict)
    for dest in sorted(mapping) if table else ():
        under = {p for p in removed | needs.kept if p == dest or p.startswith(dest + "/")}
        if under and under <= removed:
            stmt = editor.mapping_statement(dest)
            if stmt is not None:
                parts.edits.append(editor.delete(stmt, f"{dest}/ ({_n(len(under))}): "
                                                       f"{why(under)}"))
                removed -= under
    data = {p for p in removed if p.split("/", 1)[0].endswith(".data")}
    for p in sorted(data):
        parts.instructions.append(Instruction(text=f"{p}: {why([p])}; wheel.exclude cannot name "
                                              "files of the .data directory: stop installing it"))
    removed -= data
    if removed:
        patterns = exclude_patterns(removed, needs.kept)
        edit = editor.exclude(patterns, f"{_n(len(removed))} {why(removed)}")
        if edit is not None:
            parts.edits.append(edit)
    for f, cmd in _shipping(files, removed):
        parts.notes.append(f"{f.path}:{cmd.line}: install({' '.join(cmd.values()[:3])} ...) "
                           "ships some of the excluded files; narrowing it removes them at the "
                           "root")


def _n(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def _shipping(files: tuple[CMakeFile, ...],
              removed: Iterable[str]) -> list[tuple[CMakeFile, Command]]:
    seen: dict[tuple[str, int], tuple[CMakeFile, Command]] = {}
    for member in sorted(removed):
        for f, cmd in install_sites(files, member):
            seen.setdefault((f.path, cmd.start), (f, cmd))
    return [v for _k, v in sorted(seen.items())]


# ---- search-path entries ------------------------------------------------------------------


def _cmake_text(new: str, original_raw: str) -> str:
    """A replacement entry written the way the original piece writes ``$``."""
    return new.replace("$", "\\$") if "\\$" in original_raw else new


def _entries(editor: PyprojectEditor, files: tuple[CMakeFile, ...], needs: SourceNeeds,
             parts: Parts) -> None:
    if not needs.entries:
        return
    sites = rpath_sites(files)
    by_entry: dict[str, list[EntryChange]] = {}
    for change in needs.entries:
        by_entry.setdefault(change.entry, []).append(change)
    per_site: dict[tuple[str, int], tuple[RpathSite, dict[tuple[int, int], str | None],
                                          list[str]]] = {}
    unlocated: list[EntryChange] = []
    for entry, changes in sorted(by_entry.items()):
        first = changes[0]
        binaries = sorted({c.binary for c in changes})
        what = "replaced by " + repr(first.replacement) if first.replacement else "dropped"
        why = (f"RUNPATH entry {entry!r} of {_few(binaries)} {what} ({first.kind}; "
               f"{first.reason.split(':', 1)[0]})")
        hits = find_entry(sites, entry)
        if not hits and _define_entry(editor, entry, first.replacement, why, parts):
            continue
        if not hits:
            unlocated.append(first)
            continue
        for site, start, end in hits:
            key = (site.file.path, site.arg.start)
            slot = per_site.setdefault(key, (site, {}, []))
            raw = site.file.text[start:end]
            slot[1][(start, end)] = None if first.replacement is None else \
                _cmake_text(first.replacement, raw)
            slot[2].append(why)
    for site, spans, whys in per_site.values():
        parts.edits.append(entry_edits(site, spans, "; ".join(dict.fromkeys(whys))))
    for change in unlocated:
        why = (f"RUNPATH entry {change.entry!r} ({change.kind}) appears in no CMake argument; "
               f"{change.reason.split(':', 1)[0]} drops it")
        if change.kind == "absolute":
            edits = link_path_edits(files, why + ": CMake adds link directories outside the "
                                    "build tree to the install RPATH")
            if not edits:
                for name, value in (("CMAKE_INSTALL_RPATH_USE_LINK_PATH", "OFF"),
                                    ("CMAKE_BUILD_WITH_INSTALL_RPATH", "ON")):
                    _add(parts, editor.define(name, value, why + ": no target setting found; "
                                              "set the defaults"))
            parts.edits += edits
            continue
        parts.instructions.append(Instruction(
            file=files[0].path if files else None,
            text=f"{why}: find what adds it (a linker flag -Wl,-rpath, a patchelf step, an "
                 "environment variable) and remove it"))


def _define_entry(editor: PyprojectEditor, entry: str, replacement: str | None, why: str,
                  parts: Parts) -> bool:
    """The entry in ``cmake.define.CMAKE_INSTALL_RPATH`` of pyproject.toml, edited there."""
    stmt = editor.find((*SKB, "cmake", "define", "CMAKE_INSTALL_RPATH"))
    if stmt is None:
        return False
    value = str(editor.data["tool"]["scikit-build"]["cmake"]["define"]["CMAKE_INSTALL_RPATH"])
    sep = ";" if ";" in value else ":"
    pieces = value.split(sep)
    if entry not in pieces:
        return False
    new = [p if p != entry else replacement or "" for p in pieces]
    new = [p for p in new if p]
    parts.edits.append(editor.set_string(stmt, sep.join(new), why))
    return True


def _few(paths: Sequence[str]) -> str:
    names = [posixpath.basename(p) for p in paths]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# ---- debug info ---------------------------------------------------------------------------

_DEBUG_TYPES = frozenset({"debug", "relwithdebinfo"})


def _debug(editor: PyprojectEditor, files: tuple[CMakeFile, ...], needs: SourceNeeds,
           parts: Parts) -> None:
    if not needs.debug:
        return
    binaries = [p for p, _r in needs.debug]
    label = needs.debug[0][1].split(":", 1)[0]
    why = f"DWARF in {_few(binaries)} ({label})"
    before = len(parts.edits)
    _add(parts, editor.set_bool(("install", "strip"), True, why))
    for keys in (("cmake", "build-type"), ("cmake", "define", "CMAKE_BUILD_TYPE")):
        stmt = editor.find(SKB + keys)
        if stmt is not None:
            value = editor.text[stmt.value_start:stmt.value_end].strip("\"'")
            if value.lower() in _DEBUG_TYPES:
                parts.edits.append(editor.set_string(stmt, "Release", why))
    stmt = editor.find(("tool", "cibuildwheel", "config-settings", "install.strip"))
    if stmt is not None and editor.text[stmt.value_start:stmt.value_end].strip("\"'") in (
            "false", "False", "0"):
        parts.edits.append(editor.set_string(stmt, "true", why))
    parts.edits += debug_flag_edits(files, why + ": explicit -g flags")
    if len(parts.edits) == before:
        parts.instructions.append(Instruction(
            file=PYPROJECT, text=f"{why}: pyproject.toml already asks for a stripped Release "
            "build; the build that made this wheel overrode it (-C install.strip=false, "
            "SKBUILD_INSTALL_STRIP, CFLAGS/CXXFLAGS with -g in the environment)"))


# ---- what is left for a person ------------------------------------------------------------


def preload_notes(project: Project, mapping: dict[str, str], needs: SourceNeeds) -> list[str]:
    out = []
    for p in needs.preloads:
        source = source_of(mapping, p.init)
        text = project.read_text(source) if source else None
        if text is not None and re.search(rf"^\s*(import|from)\s+{re.escape(p.module)}\b", text,
                                          re.MULTILINE):
            out.append(f"{source}: imports {p.module} (the preload the repair would add)")
        else:
            out.append(f"{source or p.init}: import {p.module} before the package loads its "
                       "libraries (the repair adds this preload to the wheel)")
    return out


def open_instructions(needs: SourceNeeds, files: tuple[CMakeFile, ...],
                      sites: list[RpathSite] | None) -> list[Instruction]:
    """Findings no decision handles, grouped (one instruction per entry, not per binary)."""
    out: list[Instruction] = []
    by_entry: dict[str, list[Finding]] = {}
    for f in needs.open:
        if isinstance(f.subject, SearchPathSubject):
            by_entry.setdefault(f.subject.entry, []).append(f)
            continue
        verdict = "fails by policy" if f.action == "fail" else "no policy rule decides it"
        out.append(Instruction(text=f"{f.check} {f.name} {f.path or needs.wheel.filename}: "
                               f"{verdict}: {RULES[f.check].hint}"))
    if by_entry:
        sites = rpath_sites(files) if sites is None else sites
    for entry, findings in sorted(by_entry.items()):
        binaries = sorted({f.subject.binary for f in findings
                           if isinstance(f.subject, SearchPathSubject)})
        first = findings[0]
        hits = find_entry(sites or [], entry)
        where = hits[0][0] if hits else None
        out.append(Instruction(
            file=where.file.path if where else None,
            line=where.file.line_of(hits[0][1]) if where else None,
            text=f"{first.check} {first.name}: RUNPATH entry {entry!r} of {_few(binaries)}: "
                 f"no policy rule decides it: {RULES[first.check].hint}"))
    for text in needs.failures:
        out.append(Instruction(text=f"the repair would refuse: {text}"))
    for text in needs.renames:
        out.append(Instruction(text=f"{text}: link against the library under the name the "
                               "repair gives it, so that the build writes that NEEDED"))
    return out
