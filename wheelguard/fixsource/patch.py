"""Edits of build files, the instructions no edit can express, and the unified diff of both.

An :class:`Edit` replaces one span of one project file; the fixers queue them and
:func:`apply_edits` applies them per file from the end, after rejecting overlaps (an edit
contained in a deletion is dropped: the deletion already removes what it would change).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Edit", "EditConflict", "Instruction", "apply_edits", "summarize_patch",
           "unified_diff"]


class EditConflict(ValueError):
    """Two edits overlap without one containing the other: a bug in a fixer, never the user's."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    file: str
    start: int
    end: int
    text: str
    why: str
    """One line for the reviewer: what the edit fixes, and the policy rule behind it."""
    line: int

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "why": self.why}


@dataclass(frozen=True, slots=True, kw_only=True)
class Instruction:
    """A change the fix cannot express as an edit: what to do, and where."""

    text: str
    file: str | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "text": self.text}


def apply_edits(texts: Mapping[str, str], edits: Iterable[Edit]) -> dict[str, str]:
    """The new text of every file some edit touches."""
    by_file: dict[str, list[Edit]] = {}
    for e in edits:
        by_file.setdefault(e.file, []).append(e)
    out: dict[str, str] = {}
    for file, mine in sorted(by_file.items()):
        text = texts[file]
        kept = _without_contained(mine)
        for e in sorted(kept, key=lambda e: (e.start, e.end), reverse=True):
            text = text[:e.start] + e.text + text[e.end:]
        out[file] = text
    return out


def _without_contained(edits: list[Edit]) -> list[Edit]:
    ordered = sorted(set(edits), key=lambda e: (e.start, -e.end))
    kept: list[Edit] = []
    for e in ordered:
        if kept:
            last = kept[-1]
            if e.start >= last.start and e.end <= last.end and last.end > last.start:
                continue  # inside an earlier (larger) edit's span
            if e.start < last.end:
                msg = f"{e.file}: overlapping edits at line {last.line} and {e.line}"
                raise EditConflict(msg)
        kept.append(e)
    return kept


def unified_diff(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """A ``git apply``/``patch -p1`` compatible diff of every changed file."""
    chunks: list[str] = []
    for file in sorted(new):
        before, after = old[file], new[file]
        if before == after:
            continue
        lines = difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile=f"a/{file}", tofile=f"b/{file}", n=3,
        )
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of "
                          "file\n")
    return "".join(chunks)


def summarize_patch(text: str) -> str:
    """One line about a patch fix-source wrote (``--format text``/``diff``, or its JSON), for
    the release checklist that links it."""
    import json

    stripped = text.lstrip()
    if stripped.startswith("{"):
        doc = json.loads(stripped)
        return str(doc.get("summary", "fix-source report"))
    files = [line[6:] for line in text.splitlines() if line.startswith("+++ b/")]
    todo = sum(1 for line in text.splitlines() if line.startswith("# TODO "))
    if not files and not todo:
        return "no change to the build configuration"
    out = f"{len(files)} file(s) changed: {', '.join(files)}" if files else "no edits"
    return out + (f"; {todo} instruction(s)" if todo else "")
