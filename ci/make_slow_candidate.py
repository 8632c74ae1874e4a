#!/usr/bin/env python3
"""Make a deliberately slowed tilelang wheel: the candidate the release gate must fail.

One Python file of the wheel is edited: ``JITKernel.__call__`` in ``tilelang/jit/kernel.py``
sleeps a fixed time before it launches the compiled kernel, the way a launch path that grew an
expensive check would. Everything else is copied unchanged, and the edited file's RECORD row
gets its new sha256 and size, so the result is a valid wheel (checked before it is kept: every
RECORD row is verified against the bytes written). The wheel keeps its file name and version:
write it into a directory of its own.

The delay shows in the smoke timings once it exceeds the kernel's own time: the timed calls are
queued behind a 20 ms GPU sleep, which hides any host-side delay shorter than the kernel, and
a longer one starves the GPU. The default, 2 ms, is several times a 4096^3 GEMM on an H100.

    python ci/make_slow_candidate.py WHEEL OUT_DIR [--delay-ms 2]

Standard library only: it runs on the GPU machine before wheelguard's dependencies are set up.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import sys
import zipfile
from pathlib import Path

__all__ = ["TARGET", "make_slow_candidate", "slow_down", "verify_record"]

TARGET = "tilelang/jit/kernel.py"
ANCHOR = "        return self.torch_function(*args, **kwds)\n"
MARK = "# slowed by wheelguard ci/make_slow_candidate.py"


class CandidateError(RuntimeError):
    """The wheel is not the tilelang this script knows how to slow down."""


def slow_down(source: str, delay_s: float) -> str:
    """``source`` of tilelang/jit/kernel.py with a sleep before the launch in ``__call__``."""
    if source.count(ANCHOR) != 1:
        raise CandidateError(f"{TARGET}: expected one {ANCHOR.strip()!r}, found "
                             f"{source.count(ANCHOR)}")
    head = source[: source.index(ANCHOR)]
    method = head[head.rindex("\n    def ") + 1:].split("(", 1)[0].strip()
    if method != "def __call__":
        raise CandidateError(f"{TARGET}: the launch is in {method!r}, not in __call__")
    sleep = f"        __import__('time').sleep({delay_s!r})  {MARK}\n"
    return source.replace(ANCHOR, sleep + ANCHOR)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _record_name(names: list[str]) -> str:
    found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
    if len(found) != 1:
        raise CandidateError(f"expected one .dist-info/RECORD, found {found}")
    return found[0]


def verify_record(wheel: Path) -> int:
    """Check every RECORD row against the archive; return how many files it covers."""
    with zipfile.ZipFile(wheel) as zf:
        record_name = _record_name(zf.namelist())
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode("utf-8"))))
        listed = {row[0] for row in rows if row}
        unlisted = {n for n in zf.namelist() if not n.endswith("/")} - listed  # not dirs
        if unlisted:
            raise CandidateError(f"{wheel.name}: not in RECORD: {sorted(unlisted)[:5]}")
        for path, digest, size in (row for row in rows if row and row[0] != record_name):
            data = zf.read(path)
            if digest != _record_hash(data) or int(size) != len(data):
                raise CandidateError(f"{wheel.name}: RECORD does not match {path}")
    return len(listed)


def make_slow_candidate(wheel: Path, out_dir: Path, *, delay_ms: float = 2.0) -> Path:
    """Write the slowed copy of ``wheel`` into ``out_dir`` (same file name) and return it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel.name
    if target.resolve() == wheel.resolve():
        raise CandidateError("OUT_DIR must not be the wheel's own directory")
    with zipfile.ZipFile(wheel) as zin:
        names = zin.namelist()
        if TARGET not in names:
            raise CandidateError(f"{wheel.name} has no {TARGET}: not a tilelang wheel")
        record_name = _record_name(names)
        edited = slow_down(zin.read(TARGET).decode("utf-8"), delay_ms / 1000.0).encode("utf-8")
        rows = list(csv.reader(io.StringIO(zin.read(record_name).decode("utf-8"))))
        for row in rows:
            if row and row[0] == TARGET:
                row[1:3] = [_record_hash(edited), str(len(edited))]
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows)
        partial = target.with_name(target.name + ".part")
        with zipfile.ZipFile(partial, "w") as zout:
            for info in zin.infolist():
                if info.filename == TARGET:
                    data = edited
                elif info.filename == record_name:
                    data = record.getvalue().encode("utf-8")
                else:
                    data = zin.read(info)
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    try:
        verify_record(partial)
    except BaseException:
        partial.unlink()
        raise
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--delay-ms", type=float, default=2.0,
                        help="sleep before each kernel launch (default 2)")
    args = parser.parse_args(argv)
    try:
        out = make_slow_candidate(args.wheel, args.out_dir, delay_ms=args.delay_ms)
    except (CandidateError, OSError, zipfile.BadZipFile) as e:
        print(f"make_slow_candidate: {e}", file=sys.stderr)
        return 1
    print(f"{out} ({verify_record(out)} files, RECORD verified, {args.delay_ms:g} ms per launch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
