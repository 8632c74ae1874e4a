"""Synthetic compiler-stack wheels of a chosen size, for showing how cost grows with size.

A wheel of a TVM-based compiler is a handful of large shared libraries (most of the bytes),
many small ones, and thousands of small text files (headers a JIT compiles against). The
synthetic wheel has that shape, built from real ELF libraries:

- each library is compiled by gcc from a file whose top-level ``asm`` pulls a generated blob
  into ``.text`` (80 %) and ``.rodata`` (20 %) with ``.incbin`` and defines one exported
  function symbol per 2,304 bytes (tilelang's three large libraries: 47,000 dynamic symbols in
  105 MB, one per 2.2 KB), so the loader-visible structure (segments, ``.dynsym``,
  ``.dynstr``, build-id, SONAME) is what a real linker writes and symbol costs scale too;
- every blob is distinct (seeded per library), so no two members share content;
- the blobs are "code-like": a skewed stream of 6-byte opcodes from a 1,024-entry table plus
  one random byte, which deflates about 2.6x (tilelang's libraries: 2.7-2.9x) and inflates
  at the speed zlib inflates real machine code (about 240 MB/s here, as for tilelang's
  libtvm_compiler.so);
- text files are pseudo C++ headers from a fixed vocabulary (they deflate about 4x).

Members are compressed at zlib level 6 (what setuptools, wheel and scikit-build-core write),
libraries in parallel processes; the archive is written directly so that the compressed bytes
need not pass through :mod:`zipfile` again. Wheels are cached by size and recipe version.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RECIPE", "SynthSpec", "build_synthetic_wheel", "spec_for"]

RECIPE = 3
"""Bump when the generated content changes: the cache key includes it."""

DIST = "synthstack"
VERSION = "1.0"
TAG = "cp312-abi3-manylinux_2_17_x86_64"
LIB_RATIO = 2.62
"""Deflate ratio of the code-like blobs (measured), used to size libraries for a target."""
TEXT_RATIO = 4.2
_WEIGHTS = (16, 12, 10, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1)
"""Relative sizes of the large libraries: a few dominate, as in real stacks."""
_SMALL_NATIVES = 8
"""Extension modules and stubs of 100-300 KB, like tilelang's."""
_BYTES_PER_SYMBOL = 2304
_EPOCH_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01 in MS-DOS date format


@dataclass(frozen=True, slots=True)
class SynthSpec:
    target_mb: int
    libraries: tuple[int, ...]
    """Inflated size of each library in bytes."""
    text_files: int
    text_bytes: int


def spec_for(target_mb: int) -> SynthSpec:
    """A wheel whose file is about ``target_mb`` MB: 90 % libraries, 10 % text."""
    native = int(target_mb * 0.9 * 1e6 * LIB_RATIO)
    big = [native * w // sum(_WEIGHTS) for w in _WEIGHTS]
    small = [100_000 + 25_000 * i for i in range(_SMALL_NATIVES)]
    text_bytes = int(target_mb * 0.1 * 1e6 * TEXT_RATIO)
    return SynthSpec(target_mb, tuple(big + small), max(2000, target_mb * 16), text_bytes)


def build_synthetic_wheel(target_mb: int, cache: Path, *, log: bool = True) -> Path:
    spec = spec_for(target_mb)
    # The file name must parse as a wheel's, so the size and recipe name the directory.
    out = cache / f"synth-{target_mb}mb-r{RECIPE}" / f"{DIST}-{VERSION}-{TAG}.whl"
    if out.is_file():
        return out
    gcc = shutil.which("gcc")
    if gcc is None:
        msg = "gcc is needed to build the synthetic wheel"
        raise RuntimeError(msg)
    out.parent.mkdir(parents=True, exist_ok=True)
    if log:
        print(f"  building synthetic {target_mb} MB wheel ({len(spec.libraries)} libraries, "
              f"{spec.text_files} text files) into {out.parent} ...", flush=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        jobs = [(i, size, str(work), gcc) for i, size in enumerate(spec.libraries)]
        with ProcessPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
            libs = list(pool.map(_library_member, jobs))
        texts = list(_text_members(spec))
        partial = work / "wheel.zip"
        _write_wheel(partial, libs, texts)
        partial.replace(out)
    return out


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    mode: int
    size: int
    crc: int
    sha256: bytes
    compressed: Path | bytes


def _code_like(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 256, size=(1024, 6), dtype=np.uint8)
    k = n // 7 + 1
    idx = np.minimum(rng.zipf(1.3, size=k) - 1, 1023)
    imm = rng.integers(0, 256, size=(k, 1), dtype=np.uint8)
    return np.concatenate([table[idx], imm], axis=1).tobytes()[:n]


def _library_member(job: tuple[int, int, str, str]) -> _Member:
    index, size, work_dir, gcc = job
    work = Path(work_dir)
    text_size, ro_size = size * 4 // 5, size // 5
    text_pad, ro_pad = work / f"text{index}.bin", work / f"ro{index}.bin"
    text_pad.write_bytes(_code_like(text_size, 1000 + index))
    ro_pad.write_bytes(_code_like(ro_size, 5000 + index))
    symbols = max(8, size // _BYTES_PER_SYMBOL)
    lines = [
        '__asm__(".section .text\\n"',
        f'".globl wg{index}_code\\n.type wg{index}_code,@function\\nwg{index}_code:\\n"',
        f'".incbin \\"{text_pad}\\"\\nret\\n"',
        f'".section .rodata\\nwg{index}_ro:\\n.incbin \\"{ro_pad}\\"\\n.text\\n"',
    ]
    lines += [
        f'".globl wg{index}_s{j}\\n.type wg{index}_s{j},@function\\nwg{index}_s{j}: ret\\n"'
        for j in range(symbols)
    ]
    lines += [");", f"int wg{index}_lib(void) {{ return {index}; }}", ""]
    source = work / f"lib{index}.c"
    source.write_text("\n".join(lines), encoding="ascii")
    lib = work / f"libsynth{index}.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-g0", "-O0", f"-Wl,-soname,libsynth{index}.so",
         "-o", str(lib), str(source)],
        check=True, capture_output=True,
    )
    for path in (text_pad, ro_pad, source):
        path.unlink()
    data = lib.read_bytes()
    lib.unlink()
    compressed = work / f"libsynth{index}.deflate"
    compressed.write_bytes(_deflate(data))
    return _Member(f"{DIST}/lib/libsynth{index}.so", 0o755, len(data), zlib.crc32(data),
                   hashlib.sha256(data).digest(), compressed)


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


_WORDS = (
    "template", "typename", "struct", "class", "const", "static", "inline", "return", "void",
    "int", "float", "half", "bool", "namespace", "cute", "cutlass", "tensor", "layout", "shape",
    "stride", "tile", "mma", "copy", "atom", "thread", "block", "warp", "shared", "global",
    "register", "smem", "gmem", "rmem", "partition", "make_tensor", "make_layout", "size",
    "rank", "depth", "coord", "index", "offset", "transform", "predicate", "epilogue",
    "mainloop", "kernel", "params", "arguments", "operator", "element", "accumulator",
    "fragment", "iterator", "policy", "dispatch", "sm90", "sm80", "tma", "wgmma",
)


def _text_members(spec: SynthSpec) -> Iterator[_Member]:
    rng = np.random.default_rng(7)
    words = np.array(_WORDS)
    per_file = spec.text_bytes // spec.text_files
    for i in range(spec.text_files):
        n = max(64, int(rng.integers(per_file // 4, per_file * 7 // 4)))
        picks = words[rng.integers(0, len(words), size=n // 6)]
        body = f"// generated header {i}\n#pragma once\n" + " ".join(picks.tolist())
        data = body.replace(" return", ";\n  return").encode("ascii")[:n]
        name = f"{DIST}/include/d{i % 97:02d}/s{i // 97 % 31:02d}/h{i}.hpp"
        yield _Member(name, 0o644, len(data), zlib.crc32(data), hashlib.sha256(data).digest(),
                      _deflate(data))
    init = b'"""A synthetic compiler stack for wheelguard benchmarks."""\n'
    yield _Member(f"{DIST}/__init__.py", 0o644, len(init), zlib.crc32(init),
                  hashlib.sha256(init).digest(), _deflate(init))


def _dist_info(members: list[_Member]) -> list[_Member]:
    dist = f"{DIST}-{VERSION}.dist-info"
    metadata = (f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n"
                "Summary: synthetic wheel for wheelguard benchmarks\n").encode()
    wheel = (f"Wheel-Version: 1.0\nGenerator: wheelguard-bench\nRoot-Is-Purelib: false\n"
             f"Tag: {TAG}\n").encode()
    files = [(f"{dist}/METADATA", metadata), (f"{dist}/WHEEL", wheel)]
    extra = [_Member(n, 0o644, len(d), zlib.crc32(d), hashlib.sha256(d).digest(), _deflate(d))
             for n, d in files]
    rows = [
        f"{m.name},sha256={base64.urlsafe_b64encode(m.sha256).rstrip(b'=').decode()},{m.size}"
        for m in [*members, *extra]
    ]
    record = ("\n".join([*rows, f"{dist}/RECORD,,"]) + "\n").encode()
    extra.append(_Member(f"{dist}/RECORD", 0o644, len(record), zlib.crc32(record),
                         hashlib.sha256(record).digest(), _deflate(record)))
    return extra


def _write_wheel(path: Path, libs: list[_Member], texts: list[_Member]) -> None:
    """A plain zip (no zip64: every size and offset stays under 4 GiB), members in order."""
    payload = sorted([*libs, *texts], key=lambda m: m.name)
    members = [*payload, *_dist_info(payload)]
    central: list[bytes] = []
    with path.open("wb") as f:
        for m in members:
            raw = m.compressed if isinstance(m.compressed, bytes) else m.compressed.read_bytes()
            offset = f.tell()
            name = m.name.encode("ascii")
            if offset + len(raw) >= 1 << 32 or m.size >= 1 << 32:
                msg = "synthetic wheel would need zip64"
                raise ValueError(msg)
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, _EPOCH_DATE,
                                m.crc, len(raw), m.size, len(name), 0))
            f.write(name)
            f.write(raw)
            if isinstance(m.compressed, Path):
                m.compressed.unlink()
            central.append(
                struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x0314, 20, 0, 8, 0, _EPOCH_DATE,
                            m.crc, len(raw), m.size, len(name), 0, 0, 0, 0,
                            (0o100000 | m.mode) << 16, offset) + name
            )
        start = f.tell()
        f.write(b"".join(central))
        size = f.tell() - start
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                            size, start, 0))
