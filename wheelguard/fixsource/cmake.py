"""A reader of CMake files exact enough to edit them: commands, arguments and their offsets.

A source fix has to change the one argument that puts ``tinykern/lib`` into a RUNPATH, and
leave every byte around it alone, so the reader keeps each argument's span in the file and its
value as CMake sees it (escapes resolved, ``${VAR}`` references kept: nothing is evaluated).
It follows ``include()`` and ``add_subdirectory()`` from the top-level ``CMakeLists.txt``
where the path can be resolved without running CMake, and never outside the project.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from wheelguard.fixsource.project import Project

__all__ = ["Arg", "CMakeFile", "Command", "Discovery", "discover", "iter_commands", "parse",
           "unescape", "var_refs"]

ArgKind = Literal["quoted", "unquoted", "bracket"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACKET_OPEN = re.compile(r"\[(=*)\[")
_VAR_REF = re.compile(r"\$\{([A-Za-z0-9_./+-]+)\}")
_ESCAPES = {"t": "\t", "r": "\r", "n": "\n"}


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument as written (``raw``, at ``start:end`` of the file) and as CMake reads it."""

    raw: str
    value: str
    kind: ArgKind
    start: int
    end: int

    @property
    def body(self) -> tuple[int, str]:
        """Offset and text of the part inside quotes or brackets (all of an unquoted one)."""
        if self.kind == "quoted":
            return self.start + 1, self.raw[1:-1]
        if self.kind == "bracket":
            opening = _BRACKET_OPEN.match(self.raw)
            assert opening is not None
            width = opening.end()
            return self.start + width, self.raw[width:-width]
        return self.start, self.raw


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    """Lower-case: CMake command names are case-insensitive."""
    args: tuple[Arg, ...]
    start: int
    end: int
    """Offset just after the closing parenthesis."""
    line: int
    function: str | None = None
    """The ``function()``/``macro()`` whose body holds this command (lower-case)."""

    def values(self) -> tuple[str, ...]:
        return tuple(a.value for a in self.args)


@dataclass(frozen=True, slots=True)
class CMakeFile:
    path: str
    """Project-relative, '/'-separated."""
    text: str
    commands: tuple[Command, ...]
    _lines: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._lines, offset - 1) + 1 if self._lines else \
            self.text.count("\n", 0, offset) + 1


def var_refs(text: str) -> tuple[str, ...]:
    """The ``${NAME}`` references in an argument's value, outermost names only."""
    return tuple(m.group(1) for m in _VAR_REF.finditer(text))


# ---- the parser ---------------------------------------------------------------------------


def parse(text: str, path: str = "CMakeLists.txt") -> CMakeFile:
    newlines = tuple(i for i, c in enumerate(text) if c == "\n")
    commands: list[Command] = []
    functions: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            i = _skip_comment(text, i)
            continue
        m = _IDENT.match(text, i)
        if m is None:
            i += 1
            continue
        j = m.end()
        while j < n and text[j] in " \t":
            j += 1
        if j >= n or text[j] != "(":
            i = m.end()
            continue
        args, end = _arguments(text, j + 1)
        name = m.group().lower()
        line = bisect.bisect_right(newlines, i - 1) + 1
        commands.append(Command(name, args, i, end, line, functions[-1] if functions else None))
        if name in ("function", "macro") and args:
            functions.append(args[0].value.lower())
        elif name in ("endfunction", "endmacro") and functions:
            functions.pop()
        i = end
    return CMakeFile(path, text, tuple(commands), newlines)


def _skip_comment(text: str, i: int) -> int:
    bracket = _BRACKET_OPEN.match(text, i + 1)
    if bracket is not None:
        close = text.find("]" + bracket.group(1) + "]", bracket.end())
        return len(text) if close < 0 else close + len(bracket.group(1)) + 2
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _arguments(text: str, i: int) -> tuple[tuple[Arg, ...], int]:
    args: list[Arg] = []
    depth, n = 1, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == "#":
            i = _skip_comment(text, i)
        elif c == "(":
            depth += 1
            i += 1
        elif c == ")":
            depth -= 1
            i += 1
            if depth == 0:
                return tuple(args), i
        elif c == '"':
            end = _quoted_end(text, i)
            raw = text[i:end]
            args.append(Arg(raw, unescape(raw[1:-1]), "quoted", i, end))
            i = end
        elif (bracket := _BRACKET_OPEN.match(text, i)) is not None:
            close = text.find("]" + bracket.group(1) + "]", bracket.end())
            end = n if close < 0 else close + len(bracket.group(1)) + 2
            raw = text[i:end]
            width = bracket.end() - i
            args.append(Arg(raw, raw[width:-width] if close >= 0 else raw[width:], "bracket",
                            i, end))
            i = end
        else:
            j = i
            while j < n and text[j] not in " \t\r\n()":
                j += 2 if text[j] == "\\" else 1
            j = min(j, n)
            raw = text[i:j]
            args.append(Arg(raw, unescape(raw), "unquoted", i, j))
            i = j
    return tuple(args), n


def _quoted_end(text: str, i: int) -> int:
    j, n = i + 1, len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j + 1
        j += 1
    return n


def unescape(raw: str) -> str:
    """A quoted or unquoted argument's text as CMake reads it (references left as they are)."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            if nxt == "\n":
                pass  # line continuation inside a quoted argument
            elif nxt == ";":
                out.append("\\;")  # stays a literal semicolon, not a list separator
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# ---- which files the build reads ----------------------------------------------------------

_DIR_VARS = ("CMAKE_CURRENT_SOURCE_DIR", "CMAKE_CURRENT_LIST_DIR")
_ROOT_VARS = ("CMAKE_SOURCE_DIR", "PROJECT_SOURCE_DIR", "CMAKE_HOME_DIRECTORY")
MAX_FILES = 400


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[CMakeFile, ...]
    unresolved: tuple[tuple[str, int, str], ...]
    """(file, line, argument) of include/add_subdirectory calls not followed."""


def discover(project: Project, source_dir: str = "") -> Discovery:
    """The CMake files a configure of ``source_dir`` reads, as far as paths resolve statically.

    Variables set to literal paths earlier in the walk are substituted; a path that still
    holds ``${...}``, lies outside the project or is a symlink is recorded, not followed.
    """
    top = posixpath.join(source_dir, "CMakeLists.txt") if source_dir else "CMakeLists.txt"
    queue = [top]
    seen: set[str] = set()
    files: list[CMakeFile] = []
    unresolved: list[tuple[str, int, str]] = []
    known: dict[str, str] = dict.fromkeys(_ROOT_VARS, source_dir or ".")
    module_path: list[str] = []
    while queue and len(files) < MAX_FILES:
        rel = queue.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        text = project.read_text(rel)
        if text is None:
            continue
        parsed = parse(text, rel)
        files.append(parsed)
        here = posixpath.dirname(rel) or "."
        for cmd in parsed.commands:
            _learn(cmd, known, module_path, here)
            if cmd.name not in ("include", "add_subdirectory") or not cmd.args:
                continue
            target = _resolve(cmd.args[0].value, here, known)
            if target is None:
                unresolved.append((rel, cmd.line, cmd.args[0].value))
                continue
            if cmd.name == "add_subdirectory":
                queue.append(_normal(posixpath.join(target, "CMakeLists.txt")))
                continue
            found = _include_target(project, target, cmd.args[0].value, here, module_path)
            if found is not None:
                queue.append(found)
    return Discovery(tuple(files), tuple(unresolved))


def _learn(cmd: Command, known: dict[str, str], module_path: list[str], here: str) -> None:
    """Remember ``set(VAR <one literal path>)`` and CMAKE_MODULE_PATH additions."""
    if cmd.name == "set" and len(cmd.args) >= 2:
        name = cmd.args[0].value
        value = _resolve(cmd.args[1].value, here, known)
        if name == "CMAKE_MODULE_PATH":
            module_path[:] = [v for a in cmd.args[1:]
                              if (v := _resolve(a.value, here, known)) is not None]
        elif value is not None and len(cmd.args) == 2:
            known[name] = value
    elif cmd.name == "list" and len(cmd.args) >= 3 and cmd.args[0].value.upper() in (
            "APPEND", "PREPEND") and cmd.args[1].value == "CMAKE_MODULE_PATH":
        module_path.extend(v for a in cmd.args[2:]
                           if (v := _resolve(a.value, here, known)) is not None)


def _resolve(value: str, here: str, known: dict[str, str]) -> str | None:
    """A project-relative path for ``value``, or None where a variable stays unknown."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _DIR_VARS:
            return "\0" + here
        return "\0" + known[name] if name in known else m.group(0)

    text = _VAR_REF.sub(sub, value)
    if "${" in text or "$<" in text or "$ENV{" in text:
        return None
    if text.startswith("\0"):
        text = text[1:]
    elif text.startswith("/"):
        return None  # absolute: outside the project as far as we know
    else:
        text = posixpath.join(here, text.replace("\0", ""))
    return _normal(text.replace("\0", ""))


def _normal(path: str) -> str:
    out = posixpath.normpath(path)
    return "" if out == "." else out


def _include_target(project: Project, target: str, raw: str, here: str,
                    module_path: list[str]) -> str | None:
    if "/" in raw or raw.endswith(".cmake"):
        return target if project.is_file(target) else None
    for directory in module_path:
        candidate = _normal(posixpath.join(directory, f"{raw}.cmake"))
        if project.is_file(candidate):
            return candidate
    del here
    return None  # a module CMake ships (CheckLanguage, GNUInstallDirs ...)


def iter_commands(files: tuple[CMakeFile, ...], *names: str) -> Iterator[tuple[CMakeFile,
                                                                                 Command]]:
    wanted = frozenset(names)
    for f in files:
        for cmd in f.commands:
            if not wanted or cmd.name in wanted:
                yield f, cmd
