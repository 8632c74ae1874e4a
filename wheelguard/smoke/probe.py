"""The half of ``wheelguard smoke`` that runs *inside* the fresh environment.

wheelguard is not installed there (that is the point of a fresh environment), so this file is
a standalone script: standard library only, no ``wheelguard`` import, runnable by any
CPython >= 3.9 the environment was built from. :mod:`wheelguard.smoke.process` copies it, and
the GEMM drivers of :mod:`wheelguard.smoke.gemm`, into a scratch directory and runs::

    python -s _wheelguard_smoke_probe.py REQUEST.json RESULT.json

It reports facts and judges nothing: which distributions the interpreter sees, whether each
import worked, every native library mapped in the process (``/proc/self/maps``) with its
SONAME and the distribution whose RECORD lists the file, and what each GEMM driver returned.
The checks (duplicate SONAMEs, a runtime from the wrong distribution) run in wheelguard on
this data, where they are typed and unit-tested.

RESULT.json is rewritten after each phase, so a driver that crashes the process (a segfault in
a kernel, an abort in a runtime) still leaves the import phase and the libraries mapped by
then for the report.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import struct
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

# The script's own directory is sys.path[0]; it must not shadow anything the environment
# provides (wheelguard copies the probe into a directory of its own for the same reason).
_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or os.curdir).resolve() == _HERE:
    del sys.path[0]

PROBE_VERSION = 1
_DRIVER_PACKAGE = "_wheelguard_gemm"
_TAIL = 4000

# ELF constants (System V gABI).
_PT_LOAD = 1
_PT_DYNAMIC = 2
_DT_NULL = 0
_DT_STRTAB = 5
_DT_SONAME = 14
_ET_NAMES = {1: "rel", 2: "exec", 3: "dyn", 4: "core"}


def elf_info(path: str) -> dict[str, Any] | None:
    """``{"type": "dyn"|"exec"|..., "soname": str|None}`` for an ELF file, else None.

    A few reads through the program headers, never the whole file: mapped runtimes are up to
    hundreds of MB and only ``PT_DYNAMIC`` and the string table holding DT_SONAME matter here.
    """
    try:
        with Path(path).open("rb") as f:
            return _read_elf(f)
    except (OSError, struct.error, ValueError):
        return None


def _read_elf(f: Any) -> dict[str, Any] | None:
    ident = f.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF":
        return None
    is64 = ident[4] == 2
    end = "<" if ident[5] == 1 else ">"
    if is64:
        e_type, _machine, _ver, _entry, phoff, _shoff, _flags, _eh, phentsize, phnum = (
            struct.unpack_from(end + "HHIQQQIHHH", ident, 16)
        )
        ph_fmt, dyn_fmt = end + "IIQQQQQQ", end + "qQ"
    else:
        e_type, _machine, _ver, _entry, phoff, _shoff, _flags, _eh, phentsize, phnum = (
            struct.unpack_from(end + "HHIIIIIHHH", ident, 16)
        )
        ph_fmt, dyn_fmt = end + "IIIIIIII", end + "iI"
    info: dict[str, Any] = {"type": _ET_NAMES.get(e_type, str(e_type)), "soname": None}
    f.seek(phoff)
    table = f.read(phentsize * phnum)
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None  # (offset, filesz)
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, table, i * phentsize)
        if is64:
            p_type, _pf, p_offset, p_vaddr, _pa, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _pa, p_filesz = fields[:5]
        if p_type == _PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return info
    f.seek(dynamic[0])
    raw = f.read(dynamic[1])
    step = struct.calcsize(dyn_fmt)
    strtab = soname = None
    for pos in range(0, len(raw) - step + 1, step):
        tag, val = struct.unpack_from(dyn_fmt, raw, pos)
        if tag == _DT_NULL:
            break
        if tag == _DT_STRTAB:
            strtab = val
        elif tag == _DT_SONAME:
            soname = val
    if strtab is None or soname is None:
        return info
    for vaddr, offset, filesz in loads:
        if vaddr <= strtab < vaddr + filesz:
            f.seek(strtab - vaddr + offset + soname)
            name = f.read(4096).split(b"\0", 1)[0]
            info["soname"] = name.decode("utf-8", "replace")
            break
    return info


def mapped_files(maps_text: str) -> list[dict[str, Any]]:
    """File-backed mappings of ``/proc/<pid>/maps``, one entry per file (device and inode).

    The loader maps each object several times (text, data, relro); two entries with one
    (device, inode) are one file however its path is spelt, so a library reached through a
    symlink is not mistaken for a second copy.
    """
    files: dict[tuple[str, int], dict[str, Any]] = {}
    for line in maps_text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        dev, inode_text, path = parts[3], parts[4], parts[5]
        inode = int(inode_text)
        if inode == 0 or not path.startswith("/"):
            continue
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[: -len(" (deleted)")]
        key = (dev, inode)
        if key not in files:
            files[key] = {"path": path, "device": dev, "inode": inode, "deleted": deleted}
    return list(files.values())


def native_libraries() -> list[dict[str, Any]]:
    """Every ELF object mapped in this process, with its type and SONAME."""
    text = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    out = []
    for entry in mapped_files(text):
        info = elf_info(entry["path"])
        if info is None:
            continue
        out.append({**entry, **info})
    return out


def _is_native_name(name: str) -> bool:
    return name.endswith((".so", ".dylib")) or ".so." in name


def distributions() -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """Distributions visible on sys.path, and ``realpath -> (name, version)`` for their native
    files (from RECORD: the installer's own list of what it wrote, so ownership is not a guess
    from directory names)."""
    from importlib import metadata

    dists: list[dict[str, Any]] = []
    owners: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"] or "?"
            version = dist.version or "?"
            location = os.path.realpath(str(dist.locate_file("")))
            files = dist.files or []
            native = [os.path.realpath(str(dist.locate_file(f)))
                      for f in files if _is_native_name(f.name)]
        except Exception:  # a broken .dist-info must not sink the probe
            continue
        dists.append({"name": name, "version": version, "location": location})
        for path in native:
            owners.setdefault(path, (name, version))
    return dists, owners


def _attribute(libs: list[dict[str, Any]], owners: dict[str, tuple[str, str]]) -> None:
    for lib in libs:
        owner = owners.get(lib["path"]) or owners.get(os.path.realpath(lib["path"]))
        lib["distribution"], lib["version"] = owner if owner else (None, None)


def _tail(text: str) -> str:
    return text if len(text) <= _TAIL else "..." + text[-_TAIL:]


def _error_text(exc: BaseException) -> str:
    return _tail("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def load_driver_package(directory: str) -> None:
    """Make the copied driver directory importable as one package without running any
    ``__init__`` (drivers import only each other and the standard library)."""
    if _DRIVER_PACKAGE in sys.modules:
        return
    pkg = types.ModuleType(_DRIVER_PACKAGE)
    pkg.__path__ = [directory]
    pkg.__spec__ = importlib.machinery.ModuleSpec(_DRIVER_PACKAGE, None, is_package=True)
    pkg.__spec__.submodule_search_locations = [directory]
    sys.modules[_DRIVER_PACKAGE] = pkg


def run_driver(spec: dict[str, Any]) -> dict[str, Any]:
    name = str(spec["name"])
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"{_DRIVER_PACKAGE}.{spec['module']}")
        result = dict(module.run(dict(spec.get("options", {}))))
    except BaseException as e:  # a driver must never take the report down with it
        if isinstance(e, KeyboardInterrupt):
            raise
        result = {"status": "error", "reason": f"{type(e).__name__}: {e}", "error": _error_text(e)}
    result.setdefault("name", name)
    result["duration_s"] = round(time.perf_counter() - started, 3)
    return result


class _Result:
    """The result document, written atomically after each phase."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {"probe_version": PROBE_VERSION, "phase": "start"}
        # Installed files do not change while the probe runs: read every RECORD once.
        self._dists, self._owners = distributions()

    def write(self, phase: str) -> None:
        self.data["phase"] = phase
        libs = native_libraries()
        _attribute(libs, self._owners)
        seen = {lib["path"]: lib.get("loaded_in") for lib in self.data.get("libraries", [])}
        for lib in libs:
            lib["loaded_in"] = seen.get(lib["path"]) or phase
        self.data["libraries"] = libs
        self.data["distributions"] = self._dists
        # For the host to attribute libraries it learns of from the loader's own log when
        # this process dies (a second runtime often aborts in its static initialisers).
        self.data["native_files"] = {path: list(owner) for path, owner in self._owners.items()}
        tmp = Path(self.path + ".tmp")
        # default=str: a driver's stray non-JSON value (a numpy scalar) must not lose the report
        text = json.dumps(self.data, indent=1, sort_keys=True, default=str)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: _wheelguard_smoke_probe.py REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = _Result(argv[2])
    result.data["python"] = {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "path": list(sys.path),
        "machine": platform.machine(),
    }
    result.write("environment")

    imports: list[dict[str, Any]] = []
    result.data["imports"] = imports
    for module in request.get("imports", []):
        started = time.perf_counter()
        entry: dict[str, Any] = {"module": module}
        try:
            mod = importlib.import_module(module)
            entry["status"] = "ok"
            entry["file"] = getattr(mod, "__file__", None)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            entry["status"] = "failed"
            entry["error"] = _error_text(e)
        entry["duration_s"] = round(time.perf_counter() - started, 3)
        imports.append(entry)
    result.write("import")

    drivers = request.get("drivers", [])
    gemm: list[dict[str, Any]] = []
    result.data["gemm"] = gemm
    if drivers:
        if any(i["status"] != "ok" for i in imports):
            for spec in drivers:
                gemm.append({"name": spec["name"], "status": "error",
                             "reason": "not run: the package failed to import"})
        else:
            load_driver_package(str(request["driver_dir"]))
            for spec in drivers:
                gemm.append(run_driver(spec))
                result.write("gemm")
    result.write("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
