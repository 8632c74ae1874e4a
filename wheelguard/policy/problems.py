"""Where in a TOML file a problem is: line numbers for tables and keys, and the collected list.

tomllib keeps no positions, so the lines of ``[table]`` and ``[[table]]`` headers and of keys
are found by scanning the text; every problem of a file is collected as
``file:line: where: message`` and reported at once.
"""

from __future__ import annotations

import re

__all__ = ["Lines", "Problems", "short"]

_SHORT = 80
"""Keys and values longer than this are shortened in messages (a problem stays one line)."""


def short(text: str) -> str:
    """``repr`` of ``text``, cut to :data:`_SHORT` characters."""
    return repr(text) if len(text) <= _SHORT else repr(text[:_SHORT]) + f"... ({len(text)} chars)"


def _header(line: str) -> str | None:
    """The table name of a ``[table]`` or ``[[table]]`` line, else None.

    String operations only: the regex this replaces (a lazy group before optional spaces)
    was quadratic on one long line that opens a header and never closes it.
    """
    text = line.strip()
    if text.startswith("[") and "]" in text:
        hash_at = text.find("#")
        if hash_at >= 0:
            text = text[:hash_at].rstrip()
        double = text.startswith("[[")
        inner = text[2:-2] if double and text.endswith("]]") else text[1:-1]
        if not text.endswith("]") or not inner.strip() or "[" in inner or "]" in inner:
            return None
        parts = (p.strip().strip('"').strip("'") for p in inner.split("."))
        return ".".join(parts)
    return None


class Lines:
    """Line numbers for tables and keys, found by scanning the text (tomllib keeps none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []
        for no, line in enumerate(self.lines, start=1):
            name = _header(line)
            if name is not None:
                self.headers.append((no, name))

    def span(self, table: str, index: int | None = None) -> tuple[int, int] | None:
        """Lines [start, end) of ``[table]`` or the ``index``-th (1-based) ``[[table]]``."""
        if not table:
            start = 1
        else:
            hits = [no for no, name in self.headers if name == table]
            pos = (index or 1) - 1
            if pos >= len(hits):
                return None
            start = hits[pos]
        end = len(self.lines) + 1
        for no, name in self.headers:
            if no > start and not name.startswith(f"{table}."):
                end = no
                break
        return start, end

    def line_of(self, table: str, index: int | None = None, key: str | None = None) -> int | None:
        span = self.span(table, index)
        if span is None:
            return None
        start, end = span
        if key is not None and len(key) <= 4 * _SHORT:
            k = re.escape(key)
            pattern = re.compile(rf"^\s*(?:{k}|\"{k}\"|'{k}')\s*[=.]")
            for no in range(start, min(end, len(self.lines) + 1)):
                if pattern.match(self.lines[no - 1]):
                    return no
        return start if table else None


class Problems:
    """Collects every problem of one file, each as ``file:line: where: message``."""

    def __init__(self, source: str, lines: Lines) -> None:
        self.source = source
        self.lines = lines
        self.items: list[str] = []

    def add(self, message: str, *, table: str = "", index: int | None = None,
            key: str | None = None) -> None:
        line = self.lines.line_of(table, index, key)
        where = self.source if line is None else f"{self.source}:{line}"
        if table == "rule":
            what = f"rule {index}" + (f", key {short(key)}" if key else "")
        elif table:
            what = f"[{table}]" + (f", key {short(key)}" if key else "")
        else:
            what = f"key {short(key)}" if key else "file"
        self.items.append(f"{where}: {what}: {message}")
