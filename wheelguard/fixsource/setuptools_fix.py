"""setup.py-based builds: recognised, and answered with instructions that name the line.

A ``setup.py`` is a program: which ``package_data`` glob or ``extra_link_args`` entry made the
wheel what it is cannot be known without running it, so no edit is proposed there. The
instructions point at the lines that hold the settings involved (found by their names, and by
the entry text where an RPATH entry is written out literally); ``[project]`` requirements in
``pyproject.toml`` are still edited, as for any project.
"""

from __future__ import annotations

import re

from wheelguard.fixsource.build_fix import Parts, open_instructions, preload_notes, short
from wheelguard.fixsource.needs import SourceNeeds
from wheelguard.fixsource.patch import Instruction
from wheelguard.fixsource.project import Project
from wheelguard.fixsource.skbuild import PYPROJECT, PyprojectEditor, exclude_patterns

__all__ = ["fix_setuptools"]

_FILES = ("setup.py", "setup.cfg")


def _lines(project: Project, pattern: str) -> list[tuple[str, int]]:
    rx = re.compile(pattern)
    out = []
    for name in _FILES:
        text = project.read_text(name)
        if text is None:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if rx.search(line):
                out.append((name, i))
    return out


def _at(project: Project, pattern: str, text: str) -> list[Instruction]:
    hits = _lines(project, pattern)
    if not hits:
        return [Instruction(file=_FILES[0] if project.is_file(_FILES[0]) else None, text=text)]
    return [Instruction(file=f, line=n, text=text) for f, n in hits[:3]]


def fix_setuptools(project: Project, needs: SourceNeeds) -> Parts:
    parts = Parts()
    parts.notes.append("setup.py-based build: no edits of setup.py are proposed (it is a "
                       "program); the instructions name the lines to change")
    if needs.removed:
        patterns = exclude_patterns(needs.removed, needs.kept)
        parts.instructions += _at(
            project, r"package_data|data_files|include_package_data|MANIFEST",
            f"{len(needs.removed)} files must not ship: exclude "
            + ", ".join(patterns[:6]) + (" ..." if len(patterns) > 6 else "")
            + " (exclude_package_data, MANIFEST.in prune/exclude)")
    for change in needs.entries:
        literal = re.escape(change.entry)
        what = f"replace it with {change.replacement!r}" if change.replacement else "remove it"
        parts.instructions += _at(
            project, literal + r"|runtime_library_dirs|-rpath",
            f"RUNPATH entry {change.entry!r} of {change.binary} ({change.kind}): {what} "
            f"({short(change.reason)})")
    for path, reason in needs.debug:
        parts.instructions += _at(
            project, r"extra_compile_args|['\"]-g['\"]|CFLAGS",
            f"{path} ships DWARF ({short(reason)}): drop -g from extra_compile_args, or strip "
            "in the build (--strip-debug)")
    for u in needs.unembed:
        parts.instructions += _at(
            project, r"sources\s*=|Extension\(",
            f"{u.member} compiles {u.distribution}'s runtime in: drop its sources from the "
            f"extension and link {u.provider.cmake_target or u.distribution}'s library")
    text = project.read_text(PYPROJECT)
    editor = PyprojectEditor(text) if text is not None else None
    if editor is not None and "project" not in editor.data:
        editor = None
    wanted = [(r, f"Requires-Dist {r.new}: the repair would {'tighten' if r.old else 'add'} "
                  "it") for r in needs.requirements]
    if editor is not None:
        for item in editor.requirements(wanted):
            if isinstance(item, Instruction):
                parts.instructions.append(item)
            else:
                parts.edits.append(item)
    else:
        for _r, why in wanted:
            parts.instructions += _at(project, r"install_requires", why)
    parts.notes += preload_notes(project, {}, needs)
    parts.instructions += open_instructions(needs, (), sites=[])
    return parts
