"""The exclude options of each grafting tool, derived from the libraries a policy says pip
provides, in the form that tool really accepts.

- **auditwheel** ``--exclude NAME``, once per name: a SONAME matched with ``fnmatch``, so globs
  (``libz3.so*``) pass through. Only ELF names concern it.
- **delocate** ``--exclude STRING``: a *substring* of the library's path, no globs. A dylib name
  is used as is (``libtvm_ffi.dylib`` excludes ``.../tvm_ffi/lib/libtvm_ffi.dylib`` and nothing
  else). A policy that names only ELF libraries gets the stem followed by a dot
  (``libz3.so`` gives ``libz3.``, which matches ``libz3.dylib`` and ``libz3.4.15.dylib`` but not
  ``libz3java.dylib``).
- **delvewheel** ``--exclude NAME`` (``--no-dll`` in releases before 1.8, one ``os.pathsep``-
  separated value, ``;`` on Windows): DLL file names, compared case-insensitively, no globs.
  DLL names are never derived from ELF names (``libz3.so`` does not say whether the DLL is
  ``z3.dll`` or ``libz3.dll``); a policy lists them.

A pattern with glob characters cannot be handed to delocate or delvewheel: it is expanded
against the names the tool would see in a wheel (its libraries and what they load), or refused
with :class:`FlagsError` when no wheel is given.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from wheelguard.errors import UsageError
from wheelguard.knowledge.names import library_leaf
from wheelguard.model import BinaryFormat, Wheel

__all__ = ["TOOLS", "DelvewheelForm", "FlagsError", "Tool", "exclude_flags", "names_in_wheel"]

Tool = Literal["auditwheel", "delocate", "delvewheel"]
TOOLS: tuple[Tool, ...] = ("auditwheel", "delocate", "delvewheel")
DelvewheelForm = Literal["exclude", "no-dll"]

_FORMATS: dict[Tool, BinaryFormat] = {"auditwheel": "elf", "delocate": "macho",
                                      "delvewheel": "pe"}
_GLOB = re.compile(r"[*?\[]")
_ELF_SUFFIX = re.compile(r"\.so(\.[0-9*?]+)*\*?$")


class FlagsError(UsageError):
    """A library pattern cannot be expressed as the tool's option."""


def _is_dylib(name: str) -> bool:
    return ".dylib" in name.lower()


def _is_dll(name: str) -> bool:
    return name.lower().endswith(".dll") or name.lower().endswith(".dll*")


def _is_elf(name: str) -> bool:
    return not _is_dylib(name) and not _is_dll(name)


def names_in_wheel(wheel: Wheel, tool: Tool) -> tuple[str, ...]:
    """The library names ``tool`` would consider in ``wheel``: its binaries of that tool's
    format and every library they load, by file name."""
    fmt = _FORMATS[tool]
    names: dict[str, None] = {}
    for b in wheel.iter_binaries(fmt):
        names[library_leaf(b.path)] = None
        if b.soname:
            names[library_leaf(b.soname)] = None
        for n in b.needed:
            names[library_leaf(n)] = None
    return tuple(names)


def exclude_flags(
    tool: Tool,
    libraries: Iterable[str],
    *,
    wheel_names: Sequence[str] | None = None,
    delvewheel_form: DelvewheelForm = "exclude",
) -> list[str]:
    """The options that keep ``libraries`` (names or globs) out of ``tool``'s grafting.

    ``wheel_names`` (from :func:`names_in_wheel`) expands globs for the tools that take none;
    without it a glob for such a tool raises :class:`FlagsError`.
    """
    names = list(dict.fromkeys(libraries))
    if tool == "auditwheel":
        return [arg for n in names if _is_elf(n) for arg in ("--exclude", n)]
    if tool == "delocate":
        dylibs = [n for n in names if _is_dylib(n)]
        wanted = dylibs or [_stem(n) + "." for n in names if _is_elf(n)]
        values = _expand(tool, wanted, wheel_names, case=True)
        return [arg for v in values for arg in ("--exclude", v)]
    values = _expand(tool, [n for n in names if _is_dll(n)], wheel_names, case=False)
    if not values:
        return []
    if delvewheel_form == "no-dll":
        return ["--no-dll", ";".join(values)]
    return [arg for v in values for arg in ("--exclude", v)]


def _stem(name: str) -> str:
    return _ELF_SUFFIX.sub("", name)


def _expand(
    tool: Tool, patterns: list[str], wheel_names: Sequence[str] | None, *, case: bool
) -> list[str]:
    out: dict[str, None] = {}
    for pattern in patterns:
        if not _GLOB.search(pattern):
            out[pattern] = None
            continue
        if wheel_names is None:
            raise FlagsError(
                f"{tool} takes no glob, and {pattern!r} is one: pass --wheel WHEEL to expand it "
                "against the libraries of the wheel being repaired, or list the names")
        # A stem derived from an ELF glob (libcudnn*.so.* -> libcudnn*.) is a prefix.
        glob = pattern + "*" if tool == "delocate" and pattern.endswith(".") else pattern
        for name in wheel_names:
            hit = (fnmatch.fnmatchcase(name, glob) if case
                   else fnmatch.fnmatchcase(name.lower(), glob.lower()))
            if hit:
                out[name] = None
    return list(out)
