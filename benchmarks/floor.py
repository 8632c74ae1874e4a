"""The floors a wheel gate is measured against, timed in a child process of the benchmark.

``native``: inflate every native member (ELF or Mach-O magic) once: the time needed to read
the libraries a linkage check must parse. ``all``: inflate every member and take its SHA-256:
what any tool that checks RECORD hashes must at least spend. ``--threads N`` spreads the
members over N threads (largest first; zlib and SHA-256 release the GIL), the floor for a tool
that uses every core: one member still inflates on one thread, so the largest bounds it.

The compressed bytes are read with ``os.pread`` and inflated with one ``decompress`` call
each, no CRC and no zipfile bookkeeping; which members are native is found before the clock
starts. Interpreter start-up is outside the measurement, so the floors flatter nobody.

``wheelguard``: not a floor but its companion: ``audit_wheel()`` (scan and every check) timed
inside the process after wheelguard is imported, so that it compares with the floors on the
same terms; the CLI's figure minus this one is start-up and reporting.

Usage: python floor.py native|all|wheelguard WHEEL [--inflater zlib|zlib-ng] [--threads N]
(prints one JSON line)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import struct
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

_ELF = b"\x7fELF"
_MACHO = {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe",
          b"\xca\xfe\xba\xbe"}


def _inflater(name: str) -> ModuleType:
    return importlib.import_module("zlib_ng.zlib_ng" if name == "zlib-ng" else "zlib")


def _payloads(path: str, natives_only: bool) -> list[tuple[int, int, int, int]]:
    """(data offset, compressed size, inflated size, method) of the members to time."""
    out = []
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:  # noqa: PTH123
        for info in zf.infolist():
            if info.is_dir():
                continue
            if natives_only:
                with zf.open(info) as member:
                    head = member.read(4)
                if not (head == _ELF or head in _MACHO):
                    continue
            f.seek(info.header_offset)
            name_len, extra_len = struct.unpack("<HH", f.read(30)[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            out.append((start, info.compress_size, info.file_size, info.compress_type))
    return out


def measure_wheelguard(path: str) -> dict[str, float | int]:
    from wheelguard.audit import audit_wheel

    started = time.perf_counter()
    result = audit_wheel(path)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "members": len(result.wheel.members),
            "bytes": result.wheel.total_size}


def measure(mode: str, path: str, inflater: str, threads: int = 1) -> dict[str, float | int]:
    if mode == "wheelguard":
        return measure_wheelguard(path)
    z = _inflater(inflater)
    members = sorted(_payloads(path, natives_only=mode == "native"), key=lambda m: -m[1])
    fd = os.open(path, os.O_RDONLY)

    def one(member: tuple[int, int, int, int]) -> int:
        start, csize, size, method = member
        raw = os.pread(fd, csize, start)
        data = z.decompressobj(-15).decompress(raw, size + 1) if method == 8 else raw
        if mode == "all":
            hashlib.sha256(data).digest()
        return len(data)

    try:
        started = time.perf_counter()
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                total = sum(pool.map(one, members))
        else:
            total = sum(one(m) for m in members)
        seconds = time.perf_counter() - started
    finally:
        os.close(fd)
    return {"seconds": seconds, "members": len(members), "bytes": total}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("native", "all", "wheelguard"))
    parser.add_argument("wheel")
    parser.add_argument("--inflater", choices=("zlib", "zlib-ng"), default="zlib")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(measure(args.mode, args.wheel, args.inflater, args.threads)))


if __name__ == "__main__":
    main()
