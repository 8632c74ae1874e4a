"""Where a RUNPATH entry comes from in CMake, and the edit that drops or replaces it there.

An entry rarely sits in ``INSTALL_RPATH`` itself: it is set in a cache variable, appended to a
list, passed to a helper function that sets the property. :func:`rpath_sites` follows those
steps backwards from every ``INSTALL_RPATH``/``BUILD_RPATH``/``CMAKE_INSTALL_RPATH`` use
(``set``, ``list(APPEND)``, ``string(APPEND)``, function parameters and ``ARGN``) to the
arguments that hold entry text, and :func:`entry_edits` finds the entry among them, piece by
piece (``:`` and ``;`` separate entries; a ``${VAR}`` inside a path segment matches any text
there, as ``cu${CUDA_MAJOR}`` matches ``cu13``). An absolute entry found in no argument comes
from CMake's link-path RPATH: :func:`link_path_edits` switches ``INSTALL_RPATH_USE_LINK_PATH``
off (or ``BUILD_WITH_INSTALL_RPATH`` on) where the project sets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wheelguard.fixsource.cmake import Arg, CMakeFile, Command, unescape, var_refs
from wheelguard.fixsource.patch import Edit

__all__ = ["RpathSite", "delete_command", "entry_edits", "link_path_edits", "rpath_sites",
           "true_constant"]

_RPATH_PROPS = frozenset({"INSTALL_RPATH", "BUILD_RPATH"})
_RPATH_VARS = frozenset({"CMAKE_INSTALL_RPATH", "CMAKE_BUILD_RPATH"})
_TRUE = frozenset({"1", "ON", "YES", "TRUE", "Y"})
_FALSE = frozenset({"0", "OFF", "NO", "FALSE", "N", "", "IGNORE", "NOTFOUND"})
_REF = re.compile(r"\$\{[^}]*\}|\$<[^>]*>")


def true_constant(value: str) -> bool | None:
    upper = value.upper()
    if upper in _TRUE:
        return True
    if upper in _FALSE or upper.endswith("-NOTFOUND"):
        return False
    return None


@dataclass(frozen=True, slots=True)
class RpathSite:
    """An argument whose text ends up in a binary's RPATH/RUNPATH."""

    file: CMakeFile
    command: Command
    arg: Arg


def _property_values(cmd: Command, wanted: frozenset[str]) -> list[Arg]:
    """Values of properties in ``wanted`` set by set_target_properties/set_property."""
    names = [a.value for a in cmd.args]
    out: list[Arg] = []
    if cmd.name == "set_target_properties" and "PROPERTIES" in names:
        i = names.index("PROPERTIES") + 1
        while i + 1 < len(cmd.args):
            if names[i] in wanted:
                out.append(cmd.args[i + 1])
            i += 2
    elif cmd.name == "set_property" and "PROPERTY" in names:
        i = names.index("PROPERTY")
        if i + 1 < len(names) and names[i + 1] in wanted:
            out.extend(cmd.args[i + 2:])
    return out


def assigned(cmd: Command) -> tuple[str, list[Arg]] | None:
    """The variable a command sets and the arguments whose text goes into it."""
    args = cmd.args
    vals = [a.value for a in args]
    if cmd.name == "set" and args:
        rest = list(args[1:])
        for stop in ("CACHE", "PARENT_SCOPE"):
            if stop in vals[1:]:
                rest = rest[:vals[1:].index(stop)]
        return vals[0], rest
    if cmd.name == "list" and len(args) >= 3:
        op = vals[0].upper()
        if op in ("APPEND", "PREPEND"):
            return vals[1], list(args[2:])
        if op == "INSERT" and len(args) >= 4:
            return vals[1], list(args[3:])
    if cmd.name == "string" and len(args) >= 3:
        op = vals[0].upper()
        if op in ("APPEND", "PREPEND", "CONCAT"):
            return vals[1], list(args[2:])
        if op == "JOIN" and len(args) >= 4:
            return vals[2], list(args[3:])
    return None


def rpath_sites(files: Iterable[CMakeFile]) -> list[RpathSite]:
    """Every argument that flows into an RPATH, by variables and function parameters."""
    files = tuple(files)
    params: dict[str, tuple[str, ...]] = {}
    for f in files:
        for cmd in f.commands:
            if cmd.name in ("function", "macro") and cmd.args:
                params[cmd.args[0].value.lower()] = tuple(a.value for a in cmd.args[1:])
    sites: dict[tuple[str, int], RpathSite] = {}
    rvars: set[tuple[str | None, str]] = {(None, v) for v in _RPATH_VARS}
    rparams: dict[str, set[int | str]] = {}

    def add(f: CMakeFile, cmd: Command, arg: Arg) -> bool:
        key = (f.path, arg.start)
        if key in sites:
            return False
        sites[key] = RpathSite(f, cmd, arg)
        for name in var_refs(arg.value):
            fn = cmd.function
            mine = params.get(fn, ()) if fn else ()
            if fn and (name in ("ARGN", "ARGV") or name.startswith("ARGV") or name in mine):
                slot: int | str = mine.index(name) if name in mine else name
                rparams.setdefault(fn, set()).add(slot)
            else:
                rvars.add((None, name))
        return True

    changed = True
    while changed:
        changed = False
        for f in files:
            for cmd in f.commands:
                for arg in _property_values(cmd, _RPATH_PROPS):
                    changed |= add(f, cmd, arg)
                target = assigned(cmd)
                if target is not None and (None, target[0]) in rvars:
                    for arg in target[1]:
                        changed |= add(f, cmd, arg)
                slots = rparams.get(cmd.name)
                if slots:
                    declared = len(params.get(cmd.name, ()))
                    for i, arg in enumerate(cmd.args):
                        if i in slots or (i >= declared and ("ARGN" in slots or "ARGV" in slots)) \
                                or f"ARGV{i}" in slots:
                            changed |= add(f, cmd, arg)
    return list(sites.values())


# ---- finding one entry --------------------------------------------------------------------


def _pieces(arg: Arg) -> list[tuple[int, int, str]]:
    """(start, end, value) of each ':'/';'-separated piece of the argument's body, offsets in
    the file. An escaped ``\\;`` is no separator."""
    offset, body = arg.body
    out: list[tuple[int, int, str]] = []
    start = 0
    i = 0
    while i <= len(body):
        if i < len(body) and body[i] == "\\":
            i += 2
            continue
        if i == len(body) or body[i] in ":;":
            raw = body[start:i]
            value = raw if arg.kind == "bracket" else unescape(raw)
            out.append((offset + start, offset + i, value))
            start = i + 1
        i += 1
    return out


def _pattern(piece: str) -> re.Pattern[str] | None:
    """A regex for a piece; None for pieces that are only references (``${entries}``)."""
    literal = _REF.sub("", piece)
    if not literal.strip("/ "):
        return None
    parts: list[str] = []
    last = 0
    for m in _REF.finditer(piece):
        parts.append(re.escape(piece[last:m.start()]))
        parts.append(r"[^/:;]*")
        last = m.end()
    parts.append(re.escape(piece[last:]))
    return re.compile("".join(parts))


def find_entry(sites: Iterable[RpathSite], entry: str) -> list[tuple[RpathSite, int, int]]:
    """Every piece of every site that produces ``entry``: (site, start, end) in the file."""
    hits = []
    for site in sites:
        for start, end, value in _pieces(site.arg):
            pattern = _pattern(value)
            if pattern is not None and pattern.fullmatch(entry):
                hits.append((site, start, end))
    return hits


def entry_edits(site: RpathSite, replacements: dict[tuple[int, int], str | None],
                why: str) -> Edit:
    """One edit of one argument: each piece span in ``replacements`` dropped (None) or
    replaced. An argument left empty becomes ``""``, which CMake drops from an RPATH list."""
    arg = site.arg
    offset, body = arg.body
    kept: list[str] = []
    for start, end, _value in _pieces(arg):
        if (start, end) in replacements:
            new = replacements[(start, end)]
            if new is not None:
                kept.append(new)
            continue
        kept.append(site.file.text[start:end])
    sep = next((c for c in body if c in ":;"), ":")
    new_body = sep.join(kept) if any(kept) else ""
    head = arg.raw[:offset - arg.start]
    tail = arg.raw[offset - arg.start + len(body):]
    text = new_body or '""' if arg.kind == "unquoted" else head + new_body + tail
    return Edit(file=site.file.path, start=arg.start, end=arg.end, text=text, why=why,
                line=site.file.line_of(arg.start))


def cmake_escape(entry: str, kind: str) -> str:
    """An entry as a quoted CMake argument body writes it (``$`` kept: CMake expands only
    ``${...}``)."""
    del kind
    return entry.replace("\\", "\\\\").replace('"', '\\"')


# ---- link-path RPATH ----------------------------------------------------------------------


def link_path_edits(files: Iterable[CMakeFile], why: str) -> list[Edit]:
    """``INSTALL_RPATH_USE_LINK_PATH`` switched off wherever the project switches it on; if it
    never does, ``BUILD_WITH_INSTALL_RPATH`` switched on wherever it is switched off."""
    files = tuple(files)
    edits = _flag_edits(files, "INSTALL_RPATH_USE_LINK_PATH", want=False, why=why)
    if not edits:
        edits = _flag_edits(files, "BUILD_WITH_INSTALL_RPATH", want=True, why=why)
    return edits


def _flag_edits(files: tuple[CMakeFile, ...], prop: str, *, want: bool, why: str) -> list[Edit]:
    out: list[Edit] = []
    for f in files:
        for cmd in f.commands:
            values = list(_property_values(cmd, frozenset({prop})))
            target = assigned(cmd)
            if cmd.name == "set" and target is not None and target[0] == f"CMAKE_{prop}":
                values.extend(target[1][:1])
            for arg in values:
                current = true_constant(arg.value)
                if current is None or current == want:
                    continue
                out.append(Edit(file=f.path, start=arg.start, end=arg.end,
                                text="ON" if want else "OFF", why=why,
                                line=f.line_of(arg.start)))
    return out


def delete_command(f: CMakeFile, cmd: Command, why: str) -> Edit:
    """Remove a command; whole lines when nothing else shares them."""
    text = f.text
    line_start = text.rfind("\n", 0, cmd.start) + 1
    line_end = text.find("\n", cmd.end)
    line_end = len(text) if line_end < 0 else line_end + 1
    before = text[line_start:cmd.start]
    after = text[cmd.end:line_end]
    if not before.strip() and (not after.strip() or after.strip().startswith("#")):
        return Edit(file=f.path, start=line_start, end=line_end, text="", why=why,
                    line=cmd.line)
    return Edit(file=f.path, start=cmd.start, end=cmd.end, text="", why=why, line=cmd.line)
