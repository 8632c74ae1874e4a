"""Real macOS (Mach-O) and Windows (PE) binaries, built on a Linux host at test time.

A hand-written Mach-O proves only that our reader agrees with the test author. These files come
from a real toolchain instead: zig's clang front end and its Mach-O and COFF linkers, installed
from PyPI as ``ziglang`` (the ``test`` extra pins it), so a clean CI machine needs no apt-get.
zig ships libSystem stubs for macOS; for Windows we write our own import libraries from ``.def``
files (``zig dlltool``) and link with ``zig lld-link``, because zig's own driver has no
``/delayload`` and building mingw's C runtime costs about a minute per target.

Where the linker cannot say something, the bytes are edited in place and nothing else moves:

- ``LC_REEXPORT_DYLIB`` and ``LC_LOAD_UPWARD_DYLIB``: zig's linker has no ``-reexport-l`` or
  ``-upward-l``. Those dependencies are linked as ordinary ``LC_LOAD_DYLIB`` and the command
  word is rewritten (the structure is the same ``dylib_command``).
- ``MH_BUNDLE`` (what setuptools and CMake ``MODULE`` make of a Python extension): zig cannot link
  ``-bundle``. The extension is linked as a dylib, its file type rewritten and its
  ``LC_ID_DYLIB`` removed, as ``ld -bundle`` would have written it.
- The ``.dSYM`` companion: no dsymutil here. :func:`dsym_for` writes one the way dsymutil lays
  it out: file type ``MH_DSYM``, the library's ``LC_UUID`` and ``LC_BUILD_VERSION``, its
  segments without file contents, and a ``__DWARF`` segment holding the DWARF that clang wrote
  for the same source.

zig signs arm64 output ad hoc ("linker-signed", as ld64 does) and leaves x86_64 unsigned. An
in-place edit invalidates the page hashes of that signature; :func:`reseal_adhoc` recomputes
them, so every signed fixture carries a signature that is valid for its bytes. One fixture has
its signature removed by lief, to have "absent" next to "present".

Where zig's output differs from ld64's (none of it matters to a reader of load commands):
an empty ``LC_FUNCTION_STARTS`` (lief logs "Can't read value at offset 0" for it); the
``LC_BUILD_VERSION`` sdk field says 27.0; symbols bound by ``-undefined dynamic_lookup`` carry
ordinal 0 in their nlist but flat lookup (-2) in the bind opcodes, which is what dyld reads;
the bundle still exports ``__mh_dylib_header``, not ``__mh_bundle_header``.

Everything is built once per cache key (this file, the zig version, the lief version) under
``$WHEELGUARD_FIXTURE_CACHE`` (default ``~/.cache/wheelguard/fixtures``): about a second cold,
nothing warm. Cached files are read-only and checked against their recorded digests on every
load, so a test that edits one in place is caught instead of poisoning later sessions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal, get_args

from .clibs import TVMFFI_SOURCE

__all__ = [
    "CACHE_ENV",
    "FIXTURES",
    "MACHO_RPATHS",
    "TVMFFI_EXPORTS",
    "BuildFailed",
    "FixtureName",
    "NativeFixtures",
    "ToolchainUnavailable",
    "build",
    "cache_key",
    "cache_root",
    "dsym_for",
    "fat_binary",
    "load_commands",
    "reseal_adhoc",
    "zig_executable",
]

CACHE_ENV = "WHEELGUARD_FIXTURE_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "wheelguard" / "fixtures"

# The key hashes this file; bump this only for a change it cannot see.
RECIPE_VERSION = 1

FixtureName = Literal[
    "macos/libtvm_ffi-arm64.dylib",
    "macos/libtvm_ffi-x86_64.dylib",
    "macos/libfoo-arm64.dylib",
    "macos/libfoo-x86_64.dylib",
    "macos/libfoo-universal2.dylib",
    "macos/libfoo-fat-arm64-only.dylib",
    "macos/libfoo-unsigned-arm64.dylib",
    "macos/libfoo-arm64.dylib.dSYM/Contents/Info.plist",
    "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib",
    "macos/libmacos14-arm64.dylib",
    "macos/libmacos1013-x86_64.dylib",
    "macos/core.abi3.so",
    "windows/tvm_ffi.dll",
    "windows/consumer.dll",
    "windows/delayed.dll",
    "windows/core.cp312-win_amd64.pyd",
    "windows/tvm_ffi-1a2b3c4d.dll",
    "windows/consumer-i686.dll",
    "windows/consumer-arm64.dll",
]

FIXTURES: Mapping[FixtureName, str] = {
    "macos/libtvm_ffi-arm64.dylib":
        "arm64, id @rpath/libtvm_ffi.dylib, exports the TVMFFI* C ABI, minos 11.0, signed",
    "macos/libtvm_ffi-x86_64.dylib":
        "x86_64, id @rpath/libtvm_ffi.dylib, exports the TVMFFI* C ABI, minos 11.0, unsigned",
    "macos/libfoo-arm64.dylib":
        "arm64 consumer: id @rpath/libfoo.dylib; load libSystem and @rpath/libtvm_ffi.dylib; "
        "weak @rpath/libweakdep.dylib; reexport @rpath/libreexported.dylib; upward "
        "@rpath/libupward.dylib; three LC_RPATH (see MACHO_RPATHS); minos 11.0; signed",
    "macos/libfoo-x86_64.dylib": "the same consumer for x86_64, unsigned (as ld64 leaves it)",
    "macos/libfoo-universal2.dylib": "fat: the x86_64 and arm64 libfoo slices, in that order",
    "macos/libfoo-fat-arm64-only.dylib": "fat with a single arm64 slice",
    "macos/libfoo-unsigned-arm64.dylib": "arm64 libfoo with LC_CODE_SIGNATURE removed by lief",
    "macos/libfoo-arm64.dylib.dSYM/Contents/Info.plist": "the dSYM bundle's Info.plist",
    "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib":
        "MH_DSYM companion of libfoo-arm64.dylib: same LC_UUID, __DWARF segment",
    "macos/libmacos14-arm64.dylib": "arm64, LC_BUILD_VERSION minos 14.0",
    "macos/libmacos1013-x86_64.dylib": "x86_64, old-style LC_VERSION_MIN_MACOSX 10.13",
    "macos/core.abi3.so":
        "arm64 MH_BUNDLE extension: loads @rpath/libtvm_ffi.dylib, LC_RPATH @loader_path/lib, "
        "PyModule_Create2 by dynamic lookup, exports PyInit_core, signed",
    "windows/tvm_ffi.dll": "x86_64, exports the TVMFFI* C ABI, imports KERNEL32.dll",
    "windows/consumer.dll": "x86_64, imports KERNEL32.dll and tvm_ffi.dll, exports consumer_call",
    "windows/delayed.dll":
        "x86_64, imports KERNEL32.dll, delay-imports tvm_ffi.dll, exports consumer_call",
    "windows/core.cp312-win_amd64.pyd":
        "x86_64 extension: imports python312.dll and tvm_ffi.dll, exports PyInit_core",
    "windows/tvm_ffi-1a2b3c4d.dll": "tvm_ffi.dll under a delvewheel-style grafted name",
    "windows/consumer-i686.dll": "i386 consumer (imports KERNEL32.dll and tvm_ffi.dll)",
    "windows/consumer-arm64.dll": "arm64 consumer (imports KERNEL32.dll and tvm_ffi.dll)",
}

MACHO_RPATHS = ("@loader_path/../lib", "/Users/runner/work/build/lib", "/opt/homebrew/lib")
TVMFFI_EXPORTS = ("TVMFFIFunctionCall", "TVMFFIObjectDecRef", "TVMFFIObjectIncRef")

# Mach-O constants (mach-o/loader.h).
MH_MAGIC_64 = 0xFEEDFACF
MH_DYLIB = 0x6
MH_BUNDLE = 0x8
MH_DSYM = 0xA
MH_NO_REEXPORTED_DYLIBS = 0x100000
LC_REQ_DYLD = 0x80000000
LC_SEGMENT_64 = 0x19
LC_ID_DYLIB = 0xD
LC_LOAD_DYLIB = 0xC
LC_UUID = 0x1B
LC_CODE_SIGNATURE = 0x1D
LC_SYMTAB = 0x2
LC_BUILD_VERSION = 0x32
LC_REEXPORT_DYLIB = 0x1F | LC_REQ_DYLD
LC_LOAD_UPWARD_DYLIB = 0x23 | LC_REQ_DYLD
FAT_MAGIC = 0xCAFEBABE
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CS_HASHTYPE_SHA256 = 2

MacArch = Literal["arm64", "x86_64"]
WinArch = Literal["x86_64", "i686", "arm64"]
MAC_ARCHES: tuple[MacArch, ...] = ("arm64", "x86_64")
WIN_ARCHES: tuple[WinArch, ...] = ("x86_64", "i686", "arm64")

_ZIG_TARGET: Mapping[str, str] = {"arm64": "aarch64-macos", "x86_64": "x86_64-macos"}
# (zig target, lld-link /machine, dlltool -m)
_WIN: Mapping[WinArch, tuple[str, str, str]] = {
    "x86_64": ("x86_64-windows-gnu", "x64", "i386:x86-64"),
    "i686": ("x86-windows-gnu", "x86", "i386"),
    "arm64": ("aarch64-windows-gnu", "arm64", "arm64"),
}


class ToolchainUnavailable(RuntimeError):
    """zig is not installed (``pip install -e '.[test]'`` installs it); the one reason to skip."""


class BuildFailed(RuntimeError):
    """The toolchain ran and failed, or wrote something other than what the recipe asked for."""


# --------------------------------------------------------------------------------------------
# Sources. Kept tiny: the point is the load commands and symbol tables, not the code.

_MAC_CONSUMER = """
extern int TVMFFIFunctionCall(void *func, void *args, int num_args, void *result);
extern int weakdep_value(void) __attribute__((weak_import));
extern int upward_value(void);
extern int getpid(void);
int foo_version(void) { return 1; }
int foo_call(void *func) {
    int r = TVMFFIFunctionCall(func, 0, 0, 0) + upward_value();
    if (weakdep_value) r += weakdep_value();
    return r + getpid();
}
"""
_MAC_DEPS = {
    "weakdep": "int weakdep_value(void) { return 2; }\n",
    "reexported": "int reexported_value(void) { return 3; }\n",
    "upward": "int upward_value(void) { return 4; }\n",
}
_MAC_EXTENSION = """
extern int TVMFFIFunctionCall(void *func, void *args, int num_args, void *result);
extern void *PyModule_Create2(void *def, int api_version);
static char module_def[104];
void *PyInit_core(void) {
    TVMFFIFunctionCall(0, 0, 0, 0);
    return PyModule_Create2(module_def, 1013);
}
"""
_WIN_CONSUMER = """
__declspec(dllimport) int TVMFFIFunctionCall(void *func, void *args, int num_args, void *result);
__declspec(dllimport) unsigned long __stdcall GetCurrentProcessId(void);
__declspec(dllexport) int consumer_call(void *func) {
    return TVMFFIFunctionCall(func, 0, 0, 0) + (int)GetCurrentProcessId();
}
"""
_WIN_TVMFFI_EXTRA = """
__declspec(dllimport) void *__stdcall GetProcessHeap(void);
int tvmffi_heap_probe(void) { return GetProcessHeap() != 0; }
"""
_WIN_EXTENSION = """
__declspec(dllimport) int TVMFFIFunctionCall(void *func, void *args, int num_args, void *result);
__declspec(dllimport) void *PyModule_Create2(void *def, int api_version);
static char module_def[104];
__declspec(dllexport) void *PyInit_core(void) {
    TVMFFIFunctionCall(0, 0, 0, 0);
    return PyModule_Create2(module_def, 1013);
}
"""
# What MSVC's delayimp.lib provides. Never called: the fixture is read, not loaded.
_WIN_DELAY_HELPER = """
void *__delayLoadHelper2(const void *descriptor, void **slot) { return *slot; }
"""
# Import libraries: (DLL name, [(symbol, stdcall argument bytes or None for cdecl)]).
_KERNEL32 = ("KERNEL32.dll", (("GetCurrentProcessId", 0), ("GetProcessHeap", 0)))
_TVMFFI_IMPORTS = ("tvm_ffi.dll", tuple((name, None) for name in TVMFFI_EXPORTS))
_PYTHON312 = ("python312.dll", (("PyModule_Create2", None),))


# --------------------------------------------------------------------------------------------
# The toolchain.


def zig_executable() -> Path:
    """The ``zig`` binary shipped inside the ``ziglang`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        msg = (
            "the ziglang package is not installed, so Mach-O and PE fixtures cannot be built "
            "on this host: pip install -e '.[test]'"
        )
        raise ToolchainUnavailable(msg)
    package = Path(next(iter(spec.submodule_search_locations)))
    for name in ("zig", "zig.exe"):
        if (package / name).is_file():
            return package / name
    msg = f"the ziglang package at {package} has no zig executable"
    raise ToolchainUnavailable(msg)


class _Zig:
    """One zig installation and a scratch directory; every call is checked."""

    def __init__(self, work: Path) -> None:
        self.exe = zig_executable()
        self.work = work
        self.env = dict(os.environ)
        # Keep zig's caches in the scratch directory: nothing outside the fixture cache is
        # written, and a cold build is measured honestly.
        self.env["ZIG_GLOBAL_CACHE_DIR"] = str(work / ".zig-global")
        self.env["ZIG_LOCAL_CACHE_DIR"] = str(work / ".zig-local")

    def run(self, *args: str | Path) -> None:
        cmd = [str(self.exe), *(str(a) for a in args)]
        proc = subprocess.run(
            cmd, cwd=self.work, env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            msg = f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            raise BuildFailed(msg)

    def source(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text, encoding="utf-8")
        return path

    def dylib(
        self,
        arch: MacArch,
        out: Path,
        source: str,
        *,
        install_name: str,
        minos: str = "11.0",
        rpaths: Sequence[str] = (),
        link: Sequence[str] = (),
        weak: Sequence[str] = (),
        lib_dir: Path | None = None,
        dynamic_lookup: bool = False,
        debug: bool = False,
    ) -> Path:
        src = self.source(out.name + ".c", source)
        cmd: list[str | Path] = [
            "cc", "-target", f"{_ZIG_TARGET[arch]}.{minos}", "-O2",
            "-g" if debug else "-g0",
            # No UBSan runtime, no compiler-rt: both would be compiled from source per target
            # (10 s or more) and add nothing a fixture needs.
            "-fno-sanitize=all", "-rtlib=none",
            "-shared", "-o", out, src,
            f"-Wl,-install_name,{install_name}",
            # CMake links every Apple shared library with this: room for later edits.
            "-Wl,-headerpad_max_install_names",
        ]  # fmt: skip
        cmd += [f"-Wl,-rpath,{entry}" for entry in rpaths]
        if lib_dir is not None:
            cmd.append(f"-L{lib_dir}")
        cmd += [f"-l{name}" for name in link]
        cmd += [f"-Wl,-weak-l{name}" for name in weak]
        if dynamic_lookup:
            cmd.append("-Wl,-undefined,dynamic_lookup")
        self.run(*cmd)
        return out

    def object(self, target: str, out: Path, source: str, *, debug: bool = False) -> Path:
        src = self.source(out.name + ".c", source)
        self.run(
            "cc", "-target", target, "-O2", "-g" if debug else "-g0", "-fno-sanitize=all",
            "-fno-stack-protector", "-c", "-o", out, src,
            # DWARF names the compile directory: keep the scratch path (it holds a pid) out.
            f"-ffile-prefix-map={self.work}=/src",
        )  # fmt: skip
        return out

    def import_lib(
        self, arch: WinArch, dll: str, symbols: Sequence[tuple[str, int | None]]
    ) -> Path:
        """An import library written from a ``.def`` file: only the names a fixture uses."""
        stem = f"{arch}-{dll.rsplit('.', 1)[0]}"
        lines = [f"LIBRARY {dll}", "EXPORTS"]
        for name, stdcall_bytes in symbols:
            decorated = arch == "i686" and stdcall_bytes is not None
            lines.append(f"{name}@{stdcall_bytes}" if decorated else name)
        definition = self.source(stem + ".def", "\n".join(lines) + "\n")
        out = self.work / f"{stem}.lib"
        # -k drops the @n from the imported name, as the real import libraries do.
        self.run("dlltool", "-k", "-d", definition, "-l", out, "-m", _WIN[arch][2])
        return out

    def dll(
        self,
        arch: WinArch,
        out: Path,
        objects: Sequence[Path],
        libs: Sequence[Path],
        *,
        exports: Sequence[str] = (),
        delayload: Sequence[str] = (),
    ) -> Path:
        machine = _WIN[arch][1]
        cmd: list[str | Path] = [
            # /lldmingw: the objects come from a mingw target (their export directives are
            # undecorated, which matters on i386); /Brepro: no time stamp, same bytes each run.
            "lld-link", "/lldmingw", "/dll", "/noentry", "/nodefaultlib", "/Brepro",
            f"/machine:{machine}", f"/out:{out}", *objects, *libs,
        ]  # fmt: skip
        if arch == "i686":
            cmd.append("/safeseh:no")
        cmd += [f"/export:{name}" for name in exports]
        cmd += [f"/delayload:{name}" for name in delayload]
        self.run(*cmd)
        return out


# --------------------------------------------------------------------------------------------
# Mach-O byte edits. 64-bit little-endian thin files only: all that zig writes for macOS.


def load_commands(data: bytes | bytearray) -> list[tuple[int, int, int]]:
    """``(offset, cmd, cmdsize)`` of each load command of a thin 64-bit Mach-O."""
    magic, _cpu, _sub, _ftype, ncmds, _size, _flags = struct.unpack_from("<7I", data)
    if magic != MH_MAGIC_64:
        msg = f"not a thin 64-bit little-endian Mach-O (magic {magic:#x})"
        raise ValueError(msg)
    out = []
    offset = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        out.append((offset, cmd, size))
        offset += size
    return out


def _dylib_name(data: bytes | bytearray, offset: int) -> str:
    name_offset = struct.unpack_from("<I", data, offset + 8)[0]
    size = struct.unpack_from("<I", data, offset + 4)[0]
    raw = data[offset + name_offset : offset + size]
    return raw.split(b"\0", 1)[0].decode()


def _retype_dylib(data: bytearray, name: str, new_cmd: int) -> None:
    """Rewrite the command word of the ``LC_LOAD_DYLIB`` naming ``name``: same structure, so
    the dylib ordinals the symbol bindings refer to stay what they were."""
    for offset, cmd, _size in load_commands(data):
        if cmd == LC_LOAD_DYLIB and _dylib_name(data, offset) == name:
            struct.pack_into("<I", data, offset, new_cmd)
            return
    msg = f"no LC_LOAD_DYLIB {name}"
    raise BuildFailed(msg)


def _make_bundle(data: bytearray) -> None:
    """MH_DYLIB -> MH_BUNDLE without LC_ID_DYLIB: what ``ld -bundle`` writes for a Python
    extension. Later commands move up and the freed bytes join the header padding."""
    commands = load_commands(data)
    found = [(offset, size) for offset, cmd, size in commands if cmd == LC_ID_DYLIB]
    if len(found) != 1:
        msg = f"expected one LC_ID_DYLIB, found {len(found)}"
        raise BuildFailed(msg)
    offset, size = found[0]
    _magic, _cpu, _sub, _ftype, ncmds, sizeofcmds, _flags = struct.unpack_from("<7I", data)
    end = 32 + sizeofcmds
    data[offset : end - size] = data[offset + size : end]
    data[end - size : end] = bytes(size)
    struct.pack_into("<I", data, 12, MH_BUNDLE)
    struct.pack_into("<II", data, 16, ncmds - 1, sizeofcmds - size)


def reseal_adhoc(data: bytes) -> bytes:
    """Recompute the page hashes of an ad-hoc (linker-signed) signature after an edit that
    moved nothing: the signature becomes valid for the new bytes again.

    Refuses when the layout changed (the signed range no longer ends where the signature
    starts) or the signature is not one this function understands: use a real signer then.
    Returns ``data`` unchanged when it carries no signature.
    """
    found = [(o, s) for o, cmd, s in load_commands(data) if cmd == LC_CODE_SIGNATURE]
    if not found:
        return data
    out = bytearray(data)
    dataoff, _datasize = struct.unpack_from("<II", data, found[0][0] + 8)
    magic, _length, count = struct.unpack_from(">III", data, dataoff)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        msg = f"signature superblob magic {magic:#x}"
        raise ValueError(msg)
    for i in range(count):
        _slot, blob = struct.unpack_from(">II", data, dataoff + 12 + 8 * i)
        base = dataoff + blob
        if struct.unpack_from(">I", data, base)[0] != CSMAGIC_CODEDIRECTORY:
            continue
        fields = struct.unpack_from(">9I4B", data, base)
        hash_offset, n_code, code_limit = fields[4], fields[7], fields[8]
        hash_size, hash_type, page_shift = fields[9], fields[10], fields[12]
        if code_limit != dataoff or hash_type != CS_HASHTYPE_SHA256:
            msg = (
                f"code directory covers {code_limit} bytes with hash type {hash_type}; "
                f"the signature starts at {dataoff}: the layout moved, re-sign for real"
            )
            raise ValueError(msg)
        page = 1 << page_shift
        if n_code != -(-code_limit // page):
            msg = f"{n_code} code slots for {code_limit} bytes in pages of {page}"
            raise ValueError(msg)
        for k in range(n_code):
            digest = hashlib.sha256(data[k * page : min((k + 1) * page, code_limit)]).digest()
            at = base + hash_offset + k * hash_size
            out[at : at + hash_size] = digest[:hash_size]
    return bytes(out)


def fat_binary(slices: Sequence[bytes], align_shift: int = 14) -> bytes:
    """A universal file of thin 64-bit slices in the given order, laid out as lipo does
    (big-endian ``fat_header``, each slice aligned to ``2**align_shift``)."""
    header = struct.pack(">II", FAT_MAGIC, len(slices))
    align = 1 << align_shift
    offset = -(-(8 + 20 * len(slices)) // align) * align
    arches = b""
    body = b""
    for thin in slices:
        cputype, cpusubtype = struct.unpack_from("<II", thin, 4)
        arches += struct.pack(">IIIII", cputype, cpusubtype, offset, len(thin), align_shift)
        pad = offset - (8 + 20 * len(slices)) - len(body)
        body += bytes(pad) + thin
        offset = -(-(offset + len(thin)) // align) * align
    return header + arches + body


def dsym_for(library: bytes, dwarf_object: bytes) -> bytes:
    """A dSYM companion of ``library``, laid out as dsymutil writes one.

    Header file type ``MH_DSYM``; the library's ``LC_UUID`` and ``LC_BUILD_VERSION`` verbatim;
    an empty ``LC_SYMTAB``; each of the library's segments with its sections but no file
    contents (offsets zero); then ``__DWARF`` with the ``__debug_*`` sections copied from
    ``dwarf_object``, clang's ``-g`` object of the same source.
    """
    lib_cmds = load_commands(library)
    cpu, sub = struct.unpack_from("<II", library, 4)
    keep: list[bytes] = []
    for offset, cmd, size in lib_cmds:
        if cmd in (LC_UUID, LC_BUILD_VERSION):
            keep.append(library[offset : offset + size])
    if len(keep) != 2:
        msg = "the library lacks LC_UUID or LC_BUILD_VERSION"
        raise BuildFailed(msg)
    segments: list[bytearray] = []
    for offset, cmd, size in lib_cmds:
        if cmd != LC_SEGMENT_64:
            continue
        seg = bytearray(library[offset : offset + size])
        struct.pack_into("<QQ", seg, 40, 0, 0)  # fileoff, filesize
        nsects = struct.unpack_from("<I", seg, 64)[0]
        for s in range(nsects):
            at = 72 + 80 * s
            struct.pack_into("<I", seg, at + 48, 0)  # offset
            struct.pack_into("<II", seg, at + 56, 0, 0)  # reloff, nreloc
        segments.append(seg)
    # __DWARF's addresses follow the last segment of the library.
    vmaddr = max(sum(struct.unpack_from("<QQ", seg, 24)) for seg in segments)
    debug = [
        (name, content)
        for segname, name, content in _object_sections(dwarf_object)
        if segname == "__DWARF"
    ]
    if not debug:
        msg = "the -g object has no __DWARF sections"
        raise BuildFailed(msg)
    ncmds = len(keep) + 1 + len(segments) + 1
    sizeofcmds = sum(map(len, keep)) + 24 + sum(map(len, segments)) + 72 + 80 * len(debug)
    data_start = -(-(32 + sizeofcmds) // 0x1000) * 0x1000
    # __DWARF: sections back to back from data_start, then a 1-byte string table.
    dwarf_sects = b""
    payload = b""
    for name, content in debug:
        dwarf_sects += struct.pack(
            "<16s16sQQIIIIIIII", name.encode(), b"__DWARF", vmaddr + len(payload),
            len(content), data_start + len(payload), 0, 0, 0, 0, 0, 0, 0,
        )  # fmt: skip
        payload += content
    dwarf_seg = struct.pack(
        "<II16sQQQQiiII", LC_SEGMENT_64, 72 + 80 * len(debug), b"__DWARF", vmaddr,
        -(-len(payload) // 0x1000) * 0x1000, data_start, len(payload), 7, 3, len(debug), 0,
    ) + dwarf_sects  # fmt: skip
    strtab_at = data_start + len(payload)
    symtab = struct.pack("<IIIIII", LC_SYMTAB, 24, strtab_at, 0, strtab_at, 1)
    header = struct.pack("<7II", MH_MAGIC_64, cpu, sub, MH_DSYM, ncmds, sizeofcmds, 0, 0)
    commands = b"".join(keep) + symtab + b"".join(map(bytes, segments)) + dwarf_seg
    head = header + commands
    return head + bytes(data_start - len(head)) + payload + b"\0"


def _object_sections(obj: bytes) -> list[tuple[str, str, bytes]]:
    """``(segname, sectname, bytes)`` of every section of an MH_OBJECT."""
    out = []
    for offset, cmd, _size in load_commands(obj):
        if cmd != LC_SEGMENT_64:
            continue
        nsects = struct.unpack_from("<I", obj, offset + 64)[0]
        for s in range(nsects):
            at = offset + 72 + 80 * s
            sect, seg, _addr, size, fileoff = struct.unpack_from("<16s16sQQI", obj, at)
            out.append((
                seg.rstrip(b"\0").decode(), sect.rstrip(b"\0").decode(),
                obj[fileoff : fileoff + size],
            ))  # fmt: skip
    return out


_DSYM_PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleDevelopmentRegion</key>
	<string>English</string>
	<key>CFBundleIdentifier</key>
	<string>com.apple.xcode.dsym.{name}</string>
	<key>CFBundleInfoDictionaryVersion</key>
	<string>6.0</string>
	<key>CFBundlePackageType</key>
	<string>dSYM</string>
	<key>CFBundleSignature</key>
	<string>????</string>
	<key>CFBundleShortVersionString</key>
	<string>1.0</string>
	<key>CFBundleVersion</key>
	<string>1</string>
</dict>
</plist>
"""


def _remove_signature(data: bytes) -> bytes:
    import lief

    lief.logging.disable()
    fat = lief.MachO.parse(list(data))
    binary = fat.at(0) if fat is not None else None
    if binary is None:
        msg = "lief could not parse the file whose signature it should remove"
        raise BuildFailed(msg)
    binary.remove_signature()
    return bytes(binary.write_to_bytes())


# --------------------------------------------------------------------------------------------
# The recipe.


def _build_into(out: Path, work: Path) -> None:
    zig = _Zig(work)
    mac = out / "macos"
    win = out / "windows"
    mac.mkdir(parents=True)
    win.mkdir(parents=True)

    thin: dict[MacArch, bytes] = {}
    for arch in MAC_ARCHES:
        deps = work / f"deps-{arch}"
        deps.mkdir()
        for dep, source in _MAC_DEPS.items():
            zig.dylib(arch, deps / f"lib{dep}.dylib", source,
                      install_name=f"@rpath/lib{dep}.dylib")  # fmt: skip
        tvm = zig.dylib(arch, deps / "libtvm_ffi.dylib", TVMFFI_SOURCE,
                        install_name="@rpath/libtvm_ffi.dylib")  # fmt: skip
        shutil.copyfile(tvm, mac / f"libtvm_ffi-{arch}.dylib")
        foo = zig.dylib(
            arch, deps / "libfoo.dylib",
            _MAC_CONSUMER, install_name="@rpath/libfoo.dylib", rpaths=MACHO_RPATHS,
            lib_dir=deps, link=("tvm_ffi", "reexported", "upward"), weak=("weakdep",),
        )  # fmt: skip
        edited = bytearray(foo.read_bytes())
        _retype_dylib(edited, "@rpath/libreexported.dylib", LC_REEXPORT_DYLIB)
        _retype_dylib(edited, "@rpath/libupward.dylib", LC_LOAD_UPWARD_DYLIB)
        flags = struct.unpack_from("<I", edited, 24)[0]
        struct.pack_into("<I", edited, 24, flags & ~MH_NO_REEXPORTED_DYLIBS)
        thin[arch] = reseal_adhoc(bytes(edited))
        (mac / f"libfoo-{arch}.dylib").write_bytes(thin[arch])

    (mac / "libfoo-universal2.dylib").write_bytes(fat_binary([thin["x86_64"], thin["arm64"]]))
    (mac / "libfoo-fat-arm64-only.dylib").write_bytes(fat_binary([thin["arm64"]]))
    (mac / "libfoo-unsigned-arm64.dylib").write_bytes(_remove_signature(thin["arm64"]))

    dwarf = zig.object("aarch64-macos.11.0", work / "libfoo-g.o", _MAC_CONSUMER, debug=True)
    bundle = mac / "libfoo-arm64.dylib.dSYM" / "Contents"
    (bundle / "Resources" / "DWARF").mkdir(parents=True)
    (bundle / "Info.plist").write_text(_DSYM_PLIST.format(name="libfoo-arm64.dylib"),
                                       encoding="utf-8")  # fmt: skip
    (bundle / "Resources" / "DWARF" / "libfoo-arm64.dylib").write_bytes(
        dsym_for(thin["arm64"], dwarf.read_bytes())
    )

    zig.dylib("arm64", mac / "libmacos14-arm64.dylib", _MAC_DEPS["upward"],
              install_name="@rpath/libmacos14.dylib", minos="14.0")  # fmt: skip
    zig.dylib("x86_64", mac / "libmacos1013-x86_64.dylib", _MAC_DEPS["upward"],
              install_name="@rpath/libmacos1013.dylib", minos="10.13")  # fmt: skip

    ext = zig.dylib(
        "arm64", work / "core.abi3.so", _MAC_EXTENSION, install_name="core.abi3.so",
        rpaths=("@loader_path/lib",), lib_dir=work / "deps-arm64", link=("tvm_ffi",),
        dynamic_lookup=True,
    )  # fmt: skip
    edited = bytearray(ext.read_bytes())
    _make_bundle(edited)
    (mac / "core.abi3.so").write_bytes(reseal_adhoc(bytes(edited)))

    for warch in WIN_ARCHES:
        target = _WIN[warch][0]
        kernel32 = zig.import_lib(warch, *_KERNEL32)
        tvm_lib = zig.import_lib(warch, *_TVMFFI_IMPORTS)
        consumer = zig.object(target, work / f"consumer-{warch}.obj", _WIN_CONSUMER)
        name = "consumer.dll" if warch == "x86_64" else f"consumer-{warch}.dll"
        zig.dll(warch, win / name, [consumer], [kernel32, tvm_lib])
        if warch != "x86_64":
            continue
        tvm_obj = zig.object(target, work / "tvm_ffi.obj", TVMFFI_SOURCE + _WIN_TVMFFI_EXTRA)
        zig.dll(warch, win / "tvm_ffi.dll", [tvm_obj], [kernel32], exports=TVMFFI_EXPORTS)
        # delvewheel renames the file and leaves its contents alone.
        shutil.copyfile(win / "tvm_ffi.dll", win / "tvm_ffi-1a2b3c4d.dll")
        helper = zig.object(target, work / "delayhelper.obj", _WIN_DELAY_HELPER)
        zig.dll(warch, win / "delayed.dll", [consumer, helper], [kernel32, tvm_lib],
                delayload=("tvm_ffi.dll",))  # fmt: skip
        python = zig.import_lib(warch, *_PYTHON312)
        ext_obj = zig.object(target, work / "core.obj", _WIN_EXTENSION)
        zig.dll(warch, win / "core.cp312-win_amd64.pyd", [ext_obj], [python, tvm_lib])

    for path in out.rglob("*.lib"):  # lld-link writes import libraries next to each DLL
        path.unlink()
    for path in out.rglob("*.exp"):
        path.unlink()


# --------------------------------------------------------------------------------------------
# The cache.


@dataclass(frozen=True, slots=True)
class NativeFixtures:
    """The built fixtures under ``root``; every name in :data:`FIXTURES` is a file there."""

    root: Path
    key: str
    built: bool
    """True when this call built them, False when they came from the cache."""
    seconds: float

    def path(self, name: FixtureName) -> Path:
        if name not in FIXTURES:
            msg = f"no native fixture {name!r}"
            raise KeyError(msg)
        return self.root / name

    def read(self, name: FixtureName) -> bytes:
        return self.path(name).read_bytes()


def cache_root(explicit: Path | str | None = None) -> Path:
    """The argument, else ``$WHEELGUARD_FIXTURE_CACHE``, else ``~/.cache/wheelguard/fixtures``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE


def cache_key() -> str:
    """Hashes what decides the bytes: this recipe, the zig version, the lief version."""
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(Path(__file__).with_name("clibs.py").read_bytes())  # TVMFFI_SOURCE
    zig_executable()  # ToolchainUnavailable before anything else
    # The distribution's version, not `zig version`: a subprocess would cost the warm path.
    zig, lief = metadata.version("ziglang"), metadata.version("lief")
    h.update(f"{RECIPE_VERSION}|{zig}|{lief}".encode())
    return h.hexdigest()[:20]


def _digests(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in FIXTURES}


def _intact(final: Path) -> bool:
    manifest = final / "manifest.json"
    if not manifest.is_file():
        return False
    recorded = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    try:
        return bool(recorded == _digests(final))
    except FileNotFoundError:
        return False


def build(cache: Path | str | None = None) -> NativeFixtures:
    """Every fixture of :data:`FIXTURES`, from the cache or built into it.

    Raises :class:`ToolchainUnavailable` when zig is not installed and :class:`BuildFailed`
    when it is but the recipe fails: a caller skips on the first and fails on the second.
    """
    import time

    started = time.monotonic()
    key = cache_key()
    root = cache_root(cache)
    final = root / key
    if _intact(final):
        return NativeFixtures(final, key, built=False, seconds=time.monotonic() - started)
    if final.exists():  # edited or half-deleted: never hand out what was not built
        _make_writable(final)
        shutil.rmtree(final)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    work = staging / "work"
    out = staging / "out"
    work.mkdir(parents=True)
    _build_into(out, work)
    missing = [name for name in FIXTURES if not (out / name).is_file()]
    if missing:
        msg = f"the recipe did not write {missing}"
        raise BuildFailed(msg)
    extra = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
        and str(p.relative_to(out)) not in FIXTURES
    )  # fmt: skip
    if extra:
        msg = f"the recipe wrote files the catalogue does not name: {extra}"
        raise BuildFailed(msg)
    manifest = {"key": key, "sha256": _digests(out)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    for path in out.rglob("*"):
        if path.is_file():
            path.chmod(0o444)
    try:
        out.replace(final)
    except OSError:  # another process published this key first; theirs is as good
        _make_writable(out)
    shutil.rmtree(staging)
    return NativeFixtures(final, key, built=True, seconds=time.monotonic() - started)


def _make_writable(tree: Path) -> None:
    for path in tree.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


assert set(get_args(FixtureName)) == set(FIXTURES), "FixtureName and FIXTURES disagree"


if __name__ == "__main__":
    fixtures = build(sys.argv[1] if len(sys.argv) > 1 else None)
    verb = "built" if fixtures.built else "cached"
    print(f"{verb} in {fixtures.seconds:.2f}s: {fixtures.root}")
