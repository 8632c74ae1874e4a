"""Small C libraries compiled with the host's gcc, so ELF tests read what a real toolchain
writes (SONAME, RPATH vs RUNPATH, build-ids, symbol versions, DWARF) instead of hand-made bytes.

A :class:`Compiler` writes into one session directory and remembers what it built, so each
library is compiled once per test session however many fixtures use it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EM_386",
    "EM_AARCH64",
    "TVMFFI_SOURCE",
    "Compiler",
    "LibSpec",
    "minimal_elf",
    "retarget",
    "truncated",
]

EM_386 = 3
EM_AARCH64 = 183

TVMFFI_SOURCE = """
/* The shape of tvm-ffi's C ABI: a runtime compiled into a consumer library. */
int TVMFFIObjectIncRef(void *obj) { return obj != 0; }
int TVMFFIObjectDecRef(void *obj) { return obj == 0; }
int TVMFFIFunctionCall(void *f, void *args, int n, void *out) { return f == args ? n : 0; }
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class LibSpec:
    """One shared library to compile: the flags map one to one onto gcc/ld options."""

    source: str
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    new_dtags: bool = True
    """``--enable-new-dtags`` writes DT_RUNPATH, ``--disable-new-dtags`` DT_RPATH."""
    debug: bool = False
    build_id: str | None = None
    """Force ``--build-id=0x<hex>``: the way two different builds end up sharing one id."""
    link: tuple[str, ...] = ()
    """Names of libraries built earlier by the same :class:`Compiler` to link against."""
    libs: tuple[str, ...] = ()
    """System libraries (``-l<name>``)."""
    strip: str | None = None
    """``strip`` mode applied after linking: ``--strip-debug`` or ``--strip-all``."""


class Compiler:
    """gcc front end writing into ``workdir``; ``build`` is idempotent per name."""

    def __init__(self, workdir: Path, gcc: str | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        found = gcc or shutil.which("gcc")
        if found is None:
            msg = "gcc is not on PATH"
            raise FileNotFoundError(msg)
        self.gcc = found
        self._built: dict[str, Path] = {}

    def build(self, name: str, spec: LibSpec) -> Path:
        """Compile ``lib<name>.so`` (file name ``name`` as given) and return its path."""
        if name in self._built:
            return self._built[name]
        src = self.workdir / f"{name}.c"
        src.write_text(spec.source, encoding="utf-8")
        out = self.workdir / name
        cmd = [self.gcc, "-shared", "-fPIC", "-o", str(out), str(src)]
        cmd.append("-g" if spec.debug else "-g0")
        if spec.soname:
            cmd.append(f"-Wl,-soname,{spec.soname}")
        if spec.rpath:
            cmd.append("-Wl,--enable-new-dtags" if spec.new_dtags else "-Wl,--disable-new-dtags")
            cmd.append("-Wl,-rpath," + ":".join(spec.rpath))
        if spec.build_id:
            cmd.append(f"-Wl,--build-id=0x{spec.build_id}")
        for dep in spec.link:
            cmd.append(str(self._built[dep]))
        cmd.extend(f"-l{lib}" for lib in spec.libs)
        _run(cmd)
        if spec.strip:
            _run(["strip", spec.strip, str(out)])
        self._built[name] = out
        return out

    def read(self, name: str) -> bytes:
        return self._built[name].read_bytes()

    def build_all(self, specs: Sequence[tuple[str, LibSpec]]) -> dict[str, bytes]:
        """Compile in order (later specs may link earlier ones); return name -> bytes."""
        return {name: self.build(name, spec).read_bytes() for name, spec in specs}


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed:\n{proc.stderr}"
        raise RuntimeError(msg)


def retarget(data: bytes, machine: int) -> bytes:
    """The same ELF bytes claiming another e_machine: how a foreign-arch member looks to a
    reader that trusts the header (cross-compiled objects copied into the wrong wheel)."""
    endian = "<" if data[5] == 1 else ">"
    return data[:18] + struct.pack(f"{endian}H", machine) + data[20:]


def minimal_elf(machine: int = EM_386, *, bits: int = 32) -> bytes:
    """A header-only ELF (ET_DYN, no sections, no segments): the smallest file an ELF reader
    must accept, for architectures gcc on the host cannot target."""
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1, 1, 0]) + bytes(8)
    if bits == 32:
        rest = struct.pack("<HHIIIIIHHHHHH", 3, machine, 1, 0, 0, 0, 0, 52, 32, 0, 40, 0, 0)
    else:
        rest = struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)
    return ident + rest


def truncated(data: bytes, keep: int = 1000) -> bytes:
    """A library cut short, as an interrupted copy or a broken upload leaves it."""
    return data[:keep]
