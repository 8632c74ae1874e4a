"""Text from a wheel, made safe to print: what it holds is shown, never obeyed.

Member names, SONAMEs, NEEDED entries and RPATHs come from whoever built the wheel. Printed
raw, an ANSI escape sequence recolours or rewrites the terminal, a newline forges a line of
the report (``FORGED: all checks passed``), a bidirectional control makes a name read as
another; printed through rich markup, ``[bold]`` or ``[link=...]`` in a name is obeyed and
an unbalanced ``[/]`` raises. :func:`visible` turns every character that is not plainly
printable into its Python escape (``\\x1b``, ``\\n``, ``\\u202e``); :func:`markup` does that
and escapes rich markup too. Consoles that print such text also need ``emoji=False``, or
``:smile:`` in a name becomes a picture.
"""

from __future__ import annotations

__all__ = ["markup", "visible"]


def visible(text: str) -> str:
    """``text`` with each non-printable character (controls, line and paragraph separators,
    format characters such as bidi overrides, unassigned code points) as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    """The escape Python's repr writes for a non-printable character (\n, \x1b, \u202e)."""
    return repr(c)[1:-1]


def markup(text: str) -> str:
    """``text`` as rich markup that prints it literally (after :func:`visible`)."""
    from rich.markup import escape

    return escape(visible(text))
