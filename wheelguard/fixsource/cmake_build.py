"""CMake edits beyond run paths: debug flags, a runtime compiled in, what installs a member.

- **Debug info.** Explicit ``-g`` flags (``target_compile_options``, ``add_compile_options``,
  ``CMAKE_<LANG>_FLAGS``, ``COMPILE_OPTIONS``/``COMPILE_FLAGS``) put DWARF into a Release
  build whatever ``install.strip`` says once a build turns stripping off; they are removed.
  Config-specific generator expressions (``$<$<CONFIG:Debug>:-g>``) are left alone.
- **A provider's runtime compiled in.** The target that builds the member is found by its
  output name; its sources that come from the provider (a variable filled by the provider's
  ``--sourcedir``, or a path through a directory named like the provider) are removed and the
  provider's imported target (``tvm_ffi::shared``) linked instead. A target made of nothing
  else is removed, and whatever linked it links the provider.
- **What installs a member.** ``install(FILES|PROGRAMS|DIRECTORY|TARGETS ... DESTINATION)``
  commands that can ship a member, for the reviewer (the edit itself is a ``wheel.exclude``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from wheelguard.fixsource.cmake import Arg, CMakeFile, Command, var_refs
from wheelguard.fixsource.cmake_rpath import delete_command
from wheelguard.fixsource.patch import Edit, Instruction
from wheelguard.knowledge.providers import KnownProvider

__all__ = ["debug_flag_edits", "install_sites", "target_of", "unembed_edits"]

_DEBUG_FLAG = re.compile(r"^(?:-g|-g[1-3]|-ggdb[0-3]?|-gdwarf(?:-[2-5])?|-g3|/Zi|/Z7|/ZI)$")
_FLAG_VARS = re.compile(r"^CMAKE_(?:C|CXX|CUDA|HIP|Fortran|OBJC|OBJCXX)_FLAGS(?:_RELEASE|"
                        r"_MINSIZEREL|_RELWITHDEBINFO)?$")
_OPTION_COMMANDS = frozenset({"target_compile_options", "add_compile_options"})
_SCOPES = frozenset({"INTERFACE", "PUBLIC", "PRIVATE", "BEFORE"})
_LIB_KINDS = frozenset({"STATIC", "SHARED", "MODULE", "OBJECT", "EXCLUDE_FROM_ALL", "WITH_SOABI",
                        "USE_SABI", "INTERFACE"})
_TARGET_MAKERS = frozenset({"add_library", "python_add_library", "pybind11_add_module",
                            "nanobind_add_module", "add_executable"})


# ---- debug flags --------------------------------------------------------------------------


def _flag_args(cmd: Command) -> list[Arg]:
    """Arguments of ``cmd`` that hold compile flags."""
    vals = [a.value for a in cmd.args]
    if cmd.name in _OPTION_COMMANDS:
        skip = 1 if cmd.name == "target_compile_options" else 0
        return [a for a in cmd.args[skip:] if a.value not in _SCOPES]
    if cmd.name == "set" and vals and _FLAG_VARS.match(vals[0]):
        return [a for a in cmd.args[1:] if a.value not in ("CACHE", "STRING", "FORCE",
                                                             "PARENT_SCOPE")]
    if cmd.name == "string" and len(vals) >= 3 and vals[0].upper() == "APPEND" \
            and _FLAG_VARS.match(vals[1]):
        return list(cmd.args[2:])
    if cmd.name in ("set_target_properties", "set_source_files_properties") \
            and "PROPERTIES" in vals:
        i = vals.index("PROPERTIES") + 1
        out = []
        while i + 1 < len(vals):
            if vals[i] in ("COMPILE_OPTIONS", "COMPILE_FLAGS"):
                out.append(cmd.args[i + 1])
            i += 2
        return out
    return []


def debug_flag_edits(files: Iterable[CMakeFile], why: str) -> list[Edit]:
    out: list[Edit] = []
    for f in files:
        for cmd in f.commands:
            args = _flag_args(cmd)
            if not args:
                continue
            whole = [a for a in args if _DEBUG_FLAG.match(a.value)]
            if whole and cmd.name in _OPTION_COMMANDS and len(whole) == len(args):
                out.append(delete_command(f, cmd, why))
                continue
            for a in whole:
                replacement = '""' if cmd.name in ("set", "string") or \
                    cmd.name.startswith("set_") else ""
                start = a.start
                if not replacement:  # take the whitespace before it too
                    while start > 0 and f.text[start - 1] in " \t":
                        start -= 1
                out.append(Edit(file=f.path, start=start, end=a.end, text=replacement,
                                why=why, line=f.line_of(a.start)))
            for a in args:
                if a in whole or a.kind != "quoted" or "$<" in a.value:
                    continue
                tokens = a.value.split()
                if any(_DEBUG_FLAG.match(t) for t in tokens):
                    body = " ".join(t for t in tokens if not _DEBUG_FLAG.match(t))
                    out.append(Edit(file=f.path, start=a.start, end=a.end, text=f'"{body}"',
                                    why=why, line=f.line_of(a.start)))
    return out


# ---- targets ------------------------------------------------------------------------------


def _output_names(files: tuple[CMakeFile, ...]) -> dict[str, str]:
    names: dict[str, str] = {}
    for f in files:
        for cmd in f.commands:
            vals = [a.value for a in cmd.args]
            if cmd.name == "set_target_properties" and "PROPERTIES" in vals:
                i = vals.index("PROPERTIES")
                for j in range(i + 1, len(vals) - 1, 2):
                    if vals[j] in ("OUTPUT_NAME", "LIBRARY_OUTPUT_NAME"):
                        for t in vals[:i]:
                            names[t] = vals[j + 1]
    return names


def _stem(member: str) -> str:
    base = posixpath.basename(member)
    return re.sub(r"(\.cpython-[^.]+|\.abi3)?\.(so|dylib|pyd|dll)(\.[0-9.]+)?$", "", base)


def target_of(files: Iterable[CMakeFile], member: str) -> tuple[CMakeFile, Command] | None:
    """The ``add_library``-like command that builds ``member`` (matched by output name)."""
    files = tuple(files)
    outputs = _output_names(files)
    stem = _stem(member)
    for f in files:
        for cmd in f.commands:
            if cmd.name not in _TARGET_MAKERS or not cmd.args:
                continue
            name = cmd.args[0].value
            out = outputs.get(name, name)
            if stem in (out, f"lib{out}"):
                return f, cmd
    return None


def _provider_source_vars(files: tuple[CMakeFile, ...], provider: KnownProvider) -> set[str]:
    """Variables that an ``execute_process`` of the provider's module fills (``--sourcedir``)."""
    modules = tuple(provider.top_level)
    out: set[str] = set()
    for f in files:
        for cmd in f.commands:
            if cmd.name != "execute_process":
                continue
            vals = [a.value for a in cmd.args]
            if not any(m in v for v in vals for m in modules):
                continue
            if "OUTPUT_VARIABLE" in vals and vals.index("OUTPUT_VARIABLE") + 1 < len(vals):
                out.add(vals[vals.index("OUTPUT_VARIABLE") + 1])
    return out


def _from_provider(value: str, provider: KnownProvider, source_vars: set[str]) -> bool:
    if any(v in source_vars for v in var_refs(value)):
        return True
    names = {*provider.top_level, provider.distribution.rstrip("*"),
             *(t.replace("_", "-") for t in provider.top_level)}
    parts = value.replace("\\", "/").split("/")
    return any(p in names for p in parts[:-1])


def unembed_edits(files: Iterable[CMakeFile], member: str, provider: KnownProvider,
                  why: str) -> tuple[list[Edit], list[Instruction]]:
    files = tuple(files)
    found = target_of(files, member)
    link = provider.cmake_target
    if found is None or link is None:
        what = f"link {link}" if link else f"link {provider.distribution}'s runtime library"
        return [], [Instruction(text=f"{member} compiles {provider.distribution}'s runtime in "
                                f"({why}); no CMake target building it was found: build it "
                                f"from your own sources only and {what}")]
    tfile, tcmd = found
    name = tcmd.args[0].value
    source_vars = _provider_source_vars(files, provider)
    sources: list[tuple[CMakeFile, Command, Arg]] = [
        (tfile, tcmd, a) for a in tcmd.args[1:] if a.value not in _LIB_KINDS]
    for f in files:
        for cmd in f.commands:
            if cmd.name == "target_sources" and cmd.args and cmd.args[0].value == name:
                sources += [(f, cmd, a) for a in cmd.args[1:] if a.value not in _SCOPES]
    theirs = [s for s in sources if _from_provider(s[2].value, provider, source_vars)]
    text = f"{why}: link {link} from {provider.distribution} instead of compiling its runtime in"
    if not theirs:
        return [], [Instruction(
            file=tfile.path, line=tcmd.line,
            text=f"target {name} builds {member}, which exports {provider.distribution}'s "
                 f"runtime ABI, but none of its sources is recognisably the provider's: find "
                 f"what compiles the runtime in and link {link} instead")]
    edits: list[Edit] = []
    instructions = _package_check(files, provider)
    if len(theirs) < len(sources):
        for f, _cmd, a in theirs:
            edits.append(_drop_arg(f, a, text))
        if not _links(files, name, link):
            edits.append(Edit(file=tfile.path, start=tcmd.end, end=tcmd.end,
                              text=f"\ntarget_link_libraries({name} PRIVATE {link})",
                              why=text, line=tcmd.line))
        return edits, instructions
    edits.append(delete_command(tfile, tcmd, text))
    functions = frozenset(c.args[0].value.lower() for f in files for c in f.commands
                          if c.name in ("function", "macro") and c.args)
    for f in files:
        for cmd in f.commands:
            if cmd is tcmd or not cmd.args:
                continue
            edits.extend(_retarget(f, cmd, name, link, text, functions=functions))
    return edits, instructions


def _links(files: tuple[CMakeFile, ...], target: str, link: str) -> bool:
    return any(cmd.name == "target_link_libraries" and cmd.args and cmd.args[0].value == target
               and any(a.value == link for a in cmd.args)
               for f in files for cmd in f.commands)


def _package_check(files: tuple[CMakeFile, ...], provider: KnownProvider) -> list[Instruction]:
    package = provider.cmake_package
    if package is None:
        return []
    if any(cmd.name == "find_package" and cmd.args and cmd.args[0].value == package
           for f in files for cmd in f.commands):
        return []
    return [Instruction(file=files[0].path if files else None, line=None,
                        text=f"add find_package({package} CONFIG REQUIRED) (with "
                             f"{package}_ROOT from `python -m {provider.top_level[0]}.config "
                             f"--cmakedir`) so that {provider.cmake_target} exists")]


def _drop_arg(f: CMakeFile, a: Arg, why: str) -> Edit:
    start = a.start
    while start > 0 and f.text[start - 1] in " \t":
        start -= 1
    if start > 0 and f.text[start - 1] == "\n":
        line_start = start
        end = a.end
        while end < len(f.text) and f.text[end] in " \t":
            end += 1
        if end < len(f.text) and f.text[end] == "\n":
            return Edit(file=f.path, start=line_start, end=end + 1, text="", why=why,
                        line=f.line_of(a.start))
    return Edit(file=f.path, start=start, end=a.end, text="", why=why, line=f.line_of(a.start))


def _retarget(f: CMakeFile, cmd: Command, name: str, link: str, why: str, *,
              functions: frozenset[str]) -> list[Edit]:
    """Uses of a removed target: its own commands go, links to it link the provider."""
    vals = [a.value for a in cmd.args]
    if vals[0] == name and (cmd.name.startswith("target_") or cmd.name in functions
                            or cmd.name in ("set_target_properties", "add_dependencies")):
        return [delete_command(f, cmd, why)]
    if name not in vals[1:]:
        return []
    if cmd.name == "install" and vals[0] == "TARGETS":
        others = [a for a in cmd.args[1:1 + _first_key(cmd)] if a.value != name]
        if not others:
            return [delete_command(f, cmd, why)]
        return [_drop_arg(f, a, why) for a in cmd.args if a.value == name]
    if cmd.name in ("set_target_properties", "add_dependencies"):
        return [_drop_arg(f, a, why) for a in cmd.args if a.value == name]
    if cmd.name == "target_link_libraries":
        return [Edit(file=f.path, start=a.start, end=a.end, text=link, why=why,
                     line=f.line_of(a.start)) for a in cmd.args[1:] if a.value == name]
    return []


_INSTALL_KEYS = frozenset({"EXPORT", "ARCHIVE", "LIBRARY", "RUNTIME", "OBJECTS", "FRAMEWORK",
                           "BUNDLE", "PRIVATE_HEADER", "PUBLIC_HEADER", "RESOURCE",
                           "DESTINATION", "COMPONENT", "PERMISSIONS", "CONFIGURATIONS",
                           "OPTIONAL", "NAMELINK_ONLY", "NAMELINK_SKIP", "INCLUDES"})


def _first_key(cmd: Command) -> int:
    for i, a in enumerate(cmd.args[1:]):
        if a.value in _INSTALL_KEYS:
            return i
    return len(cmd.args) - 1


# ---- what ships a member ------------------------------------------------------------------


def install_sites(files: Iterable[CMakeFile], member: str) -> list[tuple[CMakeFile, Command]]:
    """``install()`` commands that can put ``member`` into the wheel."""
    out = []
    for f in files:
        for cmd in f.commands:
            if cmd.name != "install" or not cmd.args:
                continue
            vals = [a.value for a in cmd.args]
            dests = [vals[i + 1].rstrip("/") for i, v in enumerate(vals[:-1])
                     if v == "DESTINATION"]
            kind = vals[0]
            for dest in dests:
                if _ships(kind, vals, dest, member):
                    out.append((f, cmd))
                    break
    return out


def _ships(kind: str, vals: list[str], dest: str, member: str) -> bool:
    prefix = f"{dest}/" if dest not in ("", ".") else ""
    if not member.startswith(prefix):
        return False
    rest = member[len(prefix):]
    items = vals[1:vals.index("DESTINATION")] if "DESTINATION" in vals else vals[1:]
    if kind == "DIRECTORY":
        for src in items:
            if src in ("FILES_MATCHING", "PATTERN", "REGEX"):
                break
            if src.endswith("/"):
                return True
            base = posixpath.basename(src.rstrip("/"))
            if "${" in base or rest.startswith(base + "/"):
                return True
        return False
    if kind in ("FILES", "PROGRAMS"):
        return "/" not in rest and any(
            "${" in src or "$<" in src or posixpath.basename(src) == rest for src in items)
    if kind == "TARGETS":
        return "/" not in rest and any(_stem(rest) in (t, f"lib{t}") for t in items)
    return False
