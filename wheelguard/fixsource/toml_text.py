"""Where each key of a TOML file sits in its text, so an edit changes one value and nothing else.

``tomllib`` gives values without positions, and rewriting a whole ``pyproject.toml`` from a
parsed document would lose its comments and layout: a reviewer would get a diff of the entire
file for one added glob. This scanner finds table headers and ``key = value`` statements with
their offsets (multi-line arrays and strings included); :mod:`wheelguard.fixsource.pyproject`
turns wanted values into edits of exactly those spans, and checks the result with ``tomllib``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Header", "Statement", "TomlLayout", "array_items", "dump_string", "split_key"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Statement:
    table: tuple[str, ...]
    key: tuple[str, ...]
    line: int
    start: int
    """Offset of the statement's line."""
    value_start: int
    value_end: int
    end: int
    """Offset after the statement's last line (its newline included)."""

    @property
    def path(self) -> tuple[str, ...]:
        return self.table + self.key


@dataclass(frozen=True, slots=True)
class Header:
    table: tuple[str, ...]
    array: bool
    line: int
    start: int
    end: int


def split_key(text: str) -> tuple[tuple[str, ...], int]:
    """A dotted key at the start of ``text``: its parts and where it ends."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "\"'":
            quote = text[i]
            j = text.index(quote, i + 1)
            parts.append(text[i + 1:j])
            i = j + 1
        else:
            m = _BARE.match(text, i)
            if m is None:
                break
            parts.append(m.group())
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        break
    return tuple(parts), i


class TomlLayout:
    def __init__(self, text: str) -> None:
        self.text = text
        self.statements: list[Statement] = []
        self.headers: list[Header] = []
        self._scan()

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def _scan(self) -> None:
        text, n = self.text, len(self.text)
        table: tuple[str, ...] = ()
        i = 0
        while i < n:
            line_end = text.find("\n", i)
            line_end = n if line_end < 0 else line_end + 1
            stripped = text[i:line_end].strip()
            if not stripped or stripped.startswith("#"):
                i = line_end
                continue
            if stripped.startswith("["):
                array = stripped.startswith("[[")
                inner = stripped[2:] if array else stripped[1:]
                key, _ = split_key(inner)
                table = key
                self.headers.append(Header(key, array, self._line(i), i, line_end))
                i = line_end
                continue
            offset = i + (len(text[i:line_end]) - len(text[i:line_end].lstrip()))
            key, used = split_key(text[offset:line_end])
            eq = text.find("=", offset + used, line_end)
            if not key or eq < 0:
                i = line_end
                continue
            value_start = eq + 1
            while value_start < n and text[value_start] in " \t":
                value_start += 1
            value_end = _value_end(text, value_start)
            end = text.find("\n", value_end)
            end = n if end < 0 else end + 1
            self.statements.append(Statement(table, key, self._line(i), i, value_start,
                                             value_end, end))
            i = end

    def find(self, path: tuple[str, ...]) -> Statement | None:
        return next((s for s in self.statements if s.path == path), None)

    def header(self, table: tuple[str, ...]) -> Header | None:
        return next((h for h in self.headers if h.table == table and not h.array), None)

    def in_table(self, table: tuple[str, ...]) -> list[Statement]:
        return [s for s in self.statements if s.table == table]

    def table_end(self, table: tuple[str, ...]) -> int | None:
        """Where a new statement of ``table`` goes: after its last one, else after its header.
        None when the file has no such table header."""
        header = self.header(table)
        if header is None:
            return None
        mine = [s for s in self.in_table(table) if s.start >= header.start]
        return mine[-1].end if mine else header.end


def _value_end(text: str, i: int) -> int:
    """End offset of the value starting at ``i`` (strings, arrays and inline tables nested)."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i:i + 3]
            j = text.find(quote, i + 3)
            i = n if j < 0 else j + 3
            while i < n and text[i] == quote[0]:
                i += 1  # up to two quotes may end a multi-line string's content
            if depth == 0:
                return i
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            if depth == 0:
                return i
            continue
        if c == "'":
            j = text.find("'", i + 1)
            i = n if j < 0 else j + 1
            if depth == 0:
                return i
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == "#" and depth > 0:
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif depth == 0 and c in "\n#":
            return len(text[:i].rstrip())
        i += 1
    return len(text.rstrip())


def array_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the items of the array ``text[start:end]`` (``[`` ... ``]``)."""
    items: list[tuple[int, int]] = []
    i = start + 1
    item_start: int | None = None
    close = end - 1
    while i < close:
        c = text[i]
        if c in " \t\r\n,":
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = close if j < 0 else j
            continue
        item_start = i
        item_end = _value_end(text, i)
        items.append((item_start, item_end))
        i = item_end
    return items


def dump_string(value: str) -> str:
    """A TOML basic string for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
