"""Reading wheel archives without extracting them, and refusing hostile ones early.

A wheel is a zip; every safety question (path traversal, symlinks, encryption, bombs) is
answered from the central directory before a single member is inflated, so a hostile file costs
nothing but its directory to reject.

Why this module is long: it holds both sides of reading an archive, the central directory's
validation and the raw member reads (positional reads, bounded inflating, checkpoints to resume
a member's stream), which share the member's extent and its corruption errors.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import posixpath
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from zipfile import ZipInfo

from wheelguard.errors import InvalidWheel
from wheelguard.model import ArchivePath

__all__ = [
    "CHECKPOINT_EVERY",
    "INFLATER",
    "Checkpoint",
    "Extent",
    "Limits",
    "RawReader",
    "WheelArchive",
    "local_payload_offset",
    "record_hash",
]

_CHUNK = 1 << 20
# What a damaged member raises while inflating: bad CRC, truncated stream, bad deflate data.
_CORRUPT = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that separate a large real wheel from a zip bomb.

    The largest real wheels (torch, tensorflow) hold single members of a few GB and compress
    native code about 2-5x; a ratio of several hundred only comes from crafted input or from
    huge runs of zeros no library needs.
    """

    max_member_size: int = 8 << 30
    max_total_size: int = 32 << 30
    max_ratio: float = 200.0
    ratio_floor: int = 8 << 20
    """Members smaller than this are not held to ``max_ratio`` (tiny text compresses well)."""
    max_members: int = 500_000


def record_hash(data: bytes) -> str:
    """``sha256=<urlsafe b64 without padding>``, the one form RECORD uses for a digest."""
    return "sha256=" + urlsafe_digest(hashlib.sha256(data).digest())


def urlsafe_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class WheelArchive:
    """An open wheel: validated central directory, members read on demand.

    Use as a context manager; it owns the open file and nothing outlives it.
    """

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = str(path)
        self.limits = limits or Limits()
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise InvalidWheel(self.path, "no such file") from None
        except IsADirectoryError:
            raise InvalidWheel(self.path, "is a directory, not a wheel") from None
        except PermissionError:
            raise InvalidWheel(self.path, "permission denied") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise InvalidWheel(self.path, f"not a zip archive ({e})") from None
        try:
            self._infos = self._validate()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def zipfile(self) -> zipfile.ZipFile:
        """The underlying zip, for raw member copies on repair."""
        return self._zip

    def _validate(self) -> dict[ArchivePath, ZipInfo]:
        infos: dict[ArchivePath, ZipInfo] = {}
        entries = self._zip.infolist()
        if len(entries) > self.limits.max_members:
            raise InvalidWheel(self.path, f"{len(entries)} members exceed the limit")
        total = 0
        for info in entries:
            name = info.filename
            # Checked before the directory skip: an installer creates directories too, so a
            # "../x/" entry escapes the install root as surely as a file does.
            path = _checked_path(self.path, name)
            if info.is_dir():
                continue  # directory entries carry no payload; some tools write them
            if path in infos:
                raise InvalidWheel(self.path, f"duplicate member name {name!r}")
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise InvalidWheel(self.path, f"member {name!r} is a symlink")
            if info.flag_bits & 0x1:
                raise InvalidWheel(self.path, f"member {name!r} is encrypted")
            if info.file_size > self.limits.max_member_size:
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes, over the "
                    f"{self.limits.max_member_size}-byte limit (zip bomb guard)",
                )
            if (
                info.file_size > self.limits.ratio_floor
                and info.file_size > self.limits.max_ratio * max(info.compress_size, 1)
            ):
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} inflates {info.compress_size} to {info.file_size} bytes "
                    f"(ratio over {self.limits.max_ratio:.0f}: zip bomb guard)",
                )
            total += info.file_size
            infos[path] = info
        if total > self.limits.max_total_size:
            raise InvalidWheel(
                self.path, f"members total {total} bytes, over the limit (zip bomb guard)"
            )
        return infos

    def names(self) -> tuple[ArchivePath, ...]:
        return tuple(self._infos)

    def extents(self) -> tuple[Extent, ...]:
        """Every member's place in the file, in file order (what :class:`RawReader` reads)."""
        infos = sorted(self._infos.items(), key=lambda kv: kv[1].header_offset)
        directory = int(getattr(self._zip, "start_dir", 0)) or Path(self.path).stat().st_size
        ends = [info.header_offset for _, info in infos[1:]] + [directory]
        return tuple(
            Extent(
                path=path,
                stored_name=info.orig_filename,
                offset=info.header_offset,
                end=max(end, info.header_offset),
                compress_size=info.compress_size,
                file_size=info.file_size,
                crc=info.CRC,
                method=info.compress_type,
            )
            for (path, info), end in zip(infos, ends, strict=True)
        )

    def info(self, path: str) -> ZipInfo:
        try:
            return self._infos[ArchivePath(path)]
        except KeyError:
            raise InvalidWheel(self.path, f"no member {path!r}") from None

    def has(self, path: str) -> bool:
        return path in self._infos

    def open(self, path: str) -> IO[bytes]:
        return self._zip.open(self.info(path))

    def read(self, path: str) -> bytes:
        """The whole member. Size is bounded by the limits checked at open."""
        try:
            with self.open(path) as f:
                return f.read()
        except _CORRUPT as e:
            raise InvalidWheel(self.path, f"member {path!r} is corrupt ({e})") from None

    def iter_chunks(self, path: str) -> Iterator[bytes]:
        """Stream a member; for hashing large members without holding them."""
        try:
            with self.open(path) as f:
                while chunk := f.read(_CHUNK):
                    yield chunk
        except _CORRUPT as e:
            raise InvalidWheel(self.path, f"member {path!r} is corrupt ({e})") from None


def _checked_path(wheel: str, name: str) -> ArchivePath:
    """Refuse names an installer would place outside its target, and odd encodings of them."""
    if not name or "\x00" in name:
        raise InvalidWheel(wheel, f"member name {name!r} is empty or holds NUL")
    if "\\" in name:
        raise InvalidWheel(wheel, f"member name {name!r} uses backslashes")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidWheel(wheel, f"member name {name!r} is an absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise InvalidWheel(wheel, f"member name {name!r} escapes the install root ('..')")
    normal = posixpath.normpath(name)
    if normal != name.rstrip("/"):
        raise InvalidWheel(wheel, f"member name {name!r} is not in normal form")
    return ArchivePath(normal)


# --- Raw member access: how the scanner reads members fast. ----------------------------------
#
# zipfile adds tens of microseconds of Python per member and serialises readers of one ZipFile
# on a lock; a wheel of 3,000 small files and two 70 MB libraries feels both. So the scanner
# reads members itself: positional reads (os.pread, no shared file position, so
# threads and worker processes each read at will), many small members per read, and the
# fastest raw-deflate implementation installed. Every check zipfile makes on the way (local
# header signature and name, declared size, CRC-32) is made here too.

_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIG = b"PK\x03\x04"
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_STREAM_IN = 256 << 10
"""Compressed bytes fed per inflate call when streaming: bounds the copy of unconsumed input."""
STREAM_OUT = 1 << 20
"""Inflated bytes per chunk when streaming a member."""
CHECKPOINT_EVERY = 8 << 20
"""Inflated bytes between two places a member's stream can be resumed (:class:`Checkpoint`):
the most a later read of a few bytes of a streamed member inflates again."""


def _load_inflater() -> tuple[str, ModuleType]:
    """zlib-ng's drop-in zlib module when installed, else the standard library's.

    Raw deflate output is identical; zlib-ng inflates about twice as fast as zlib 1.2 on
    x86-64 and, like the standard module, releases the GIL while it works, so threads still
    inflate in parallel (python-isal is faster still on one core but holds the GIL).
    ``WHEELGUARD_INFLATE=zlib`` forces the standard library (the benchmark compares both).
    """
    if os.environ.get("WHEELGUARD_INFLATE", "").strip().lower() != "zlib":
        try:
            return "zlib-ng", importlib.import_module("zlib_ng.zlib_ng")
        except ImportError:
            pass
    return "zlib", zlib


INFLATER, _Z = _load_inflater()
"""Name and module of the deflate implementation in use (reported by the benchmark)."""
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, _Z.error, ValueError, OverflowError)


def local_payload_offset(read_at: Callable[[int, int], bytes], offset: int, name: str) -> int:
    """Where a member's compressed bytes start, from its *local* header at ``offset``.

    The local header's name and extra lengths may differ from the central directory's, so
    the data offset can only come from here; the signature and the name are checked on the
    way (a central directory pointing at another member's header is a corrupt archive). The one
    reader of local headers, for scanning and for raw copies on repair. ValueError says what
    is wrong.
    """
    header = read_at(offset, _LOCAL.size)
    if len(header) < _LOCAL.size:
        msg = "truncated local header"
        raise ValueError(msg)
    sig, _v, flags, _m, _t, _d, _crc, _cs, _fs, name_len, extra_len = _LOCAL.unpack(header)
    if sig != _LOCAL_SIG:
        msg = "bad local header signature"
        raise ValueError(msg)
    raw_name = read_at(offset + _LOCAL.size, name_len)
    if len(raw_name) < name_len:
        msg = "truncated local header"
        raise ValueError(msg)
    local = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
    if local != name:
        msg = f"local header names {local!r}"
        raise ValueError(msg)
    return offset + _LOCAL.size + int(name_len) + int(extra_len)


@dataclass(frozen=True, slots=True)
class Extent:
    """Where one member's bytes lie in the file, from the validated central directory.

    Plain data, so a worker process can read the member from its own descriptor.
    """

    path: ArchivePath
    stored_name: str
    """The name as the central directory spells it; the local header must agree."""
    offset: int
    """Offset of the member's local header."""
    end: int
    """Where the next member (or the central directory) starts: the most a read may need."""
    compress_size: int
    file_size: int
    crc: int
    method: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A place where a member's stream can be resumed without inflating it from its start.

    A large member streams once (hashed, parsed from the parts its decoder reads); when the
    decoder then needs bytes that were not kept, they are inflated again from the nearest
    checkpoint before them instead of from the start, and nothing else of the member is held.
    """

    out: int
    """Inflated bytes before this point."""
    pos: int
    """File offset of the next compressed byte."""
    end: int
    """File offset where the member's compressed bytes end."""
    state: Any = None
    """A copy of the inflater here; None at the start of the stream and for stored members."""


class RawReader:
    """Positional reads of one wheel file; share it between threads, or open one per process."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise InvalidWheel(path, f"cannot open ({e.strerror})") from None
        self._zip: zipfile.ZipFile | None = None
        self._zip_lock = threading.Lock()

    def __enter__(self) -> RawReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        os.close(self._fd)
        if self._zip is not None:
            self._zip.close()

    def pread(self, offset: int, size: int) -> bytes:
        return os.pread(self._fd, size, offset)

    def span(self, extents: tuple[Extent, ...]) -> tuple[int, bytes]:
        """One read covering several consecutive members: (file offset, bytes)."""
        start = extents[0].offset
        return start, self.pread(start, extents[-1].end - start)

    def payload_offset(self, ext: Extent, buf: bytes | None = None, base: int = 0) -> int:
        """File offset of the member's data, after checking its local header."""

        def read_at(offset: int, size: int) -> bytes:
            rel = offset - base
            if buf is not None and rel >= 0 and rel + size <= len(buf):
                return buf[rel : rel + size]
            return self.pread(offset, size)

        try:
            return local_payload_offset(read_at, ext.offset, ext.stored_name)
        except ValueError as e:
            raise self._corrupt(ext, str(e)) from None

    def read(self, ext: Extent, buf: bytes | None = None, base: int = 0) -> bytes:
        """A whole member; ``buf`` (read from ``base``) may already hold its compressed bytes."""
        if ext.method not in (_STORED, _DEFLATED):
            return b"".join(self._zipfile_chunks(ext))
        start = self.payload_offset(ext, buf, base)
        rel = start - base
        raw: bytes | memoryview
        data: bytes
        if buf is not None and rel + ext.compress_size <= len(buf):
            raw = memoryview(buf)[rel : rel + ext.compress_size]
        else:
            raw = self.pread(start, ext.compress_size)
            if len(raw) < ext.compress_size:
                raise self._corrupt(ext, "truncated data")
        if ext.method == _STORED:
            data = bytes(raw)
        else:
            try:
                inflater = _Z.decompressobj(-15)
                # One byte of headroom: a stream that fits exactly reaches its end marker, and
                # one that would inflate past its declared size stops there (bomb guard).
                data = inflater.decompress(raw, ext.file_size + 1)
                ended = bool(inflater.eof)
            except _INFLATE_ERRORS as e:
                raise self._corrupt(ext, str(e)) from None
            if not ended:
                raise self._corrupt(ext, "deflate stream does not end where declared")
        self._check(ext, len(data), _Z.crc32(data))
        return data

    def iter_chunks(
        self, ext: Extent, checkpoints: list[Checkpoint] | None = None
    ) -> Iterator[bytes]:
        """Stream a member in chunks of at most :data:`STREAM_OUT` bytes, checked at the end.

        With ``checkpoints``, places to resume the stream from (:meth:`resume`) are appended
        to it about every :data:`CHECKPOINT_EVERY` inflated bytes.
        """
        if ext.method not in (_STORED, _DEFLATED):
            yield from self._zipfile_chunks(ext)
            return
        pos = self.payload_offset(ext)
        end = pos + ext.compress_size
        size = crc = 0
        inflater = _Z.decompressobj(-15) if ext.method == _DEFLATED else None
        if checkpoints is not None:
            checkpoints.append(Checkpoint(0, pos, end))
        while pos < end:
            if (checkpoints is not None and inflater is not None
                    and size - checkpoints[-1].out >= CHECKPOINT_EVERY
                    and not inflater.unconsumed_tail):
                # Only where the inflater holds no unconsumed input: the copy is its state
                # alone (a few tens of KB), and resuming reads the file from ``pos``.
                checkpoints.append(Checkpoint(size, pos, end, inflater.copy()))
            raw = self.pread(pos, min(_STREAM_IN if inflater else STREAM_OUT, end - pos))
            if not raw:
                raise self._corrupt(ext, "truncated data")
            pos += len(raw)
            if inflater is None:
                size += len(raw)
                crc = _Z.crc32(raw, crc)
                yield raw
                continue
            try:
                while raw:
                    out: bytes = inflater.decompress(raw, STREAM_OUT)
                    raw = inflater.unconsumed_tail
                    size += len(out)
                    if size > ext.file_size:
                        raise self._corrupt(ext, "inflates past its declared size")
                    crc = _Z.crc32(out, crc)
                    yield out
            except _INFLATE_ERRORS as e:
                raise self._corrupt(ext, str(e)) from None
        if inflater is not None:
            try:
                tail: bytes = inflater.flush()
            except _INFLATE_ERRORS as e:
                raise self._corrupt(ext, str(e)) from None
            if tail:
                size += len(tail)
                crc = _Z.crc32(tail, crc)
                yield tail
            if not inflater.eof:
                raise self._corrupt(ext, "deflate stream does not end where declared")
        self._check(ext, size, crc)

    def resume(self, ext: Extent, checkpoints: list[Checkpoint], start: int) -> Generator[
            tuple[int, bytes], None, None]:
        """``(offset, chunk)`` pairs of the member's inflated bytes from the last checkpoint
        at or before ``start`` onwards. Unchecked: the pass that made the checkpoints checked
        the whole stream (sizes, CRC-32); stop iterating when you have what you need."""
        if ext.method not in (_STORED, _DEFLATED):
            at = 0
            for piece in self._zipfile_chunks(ext):
                yield at, piece
                at += len(piece)
            return
        cp = max((c for c in checkpoints if c.out <= start), key=lambda c: c.out)
        out, pos, end = cp.out, cp.pos, cp.end
        if ext.method == _STORED:
            pos += start - out  # no state to restore: jump straight to the byte
            out = start
        inflater = None
        if ext.method == _DEFLATED:
            inflater = cp.state.copy() if cp.state is not None else _Z.decompressobj(-15)
        try:
            while pos < end:
                raw = self.pread(pos, min(_STREAM_IN if inflater else STREAM_OUT, end - pos))
                if not raw:
                    raise self._corrupt(ext, "truncated data")
                pos += len(raw)
                if inflater is None:
                    yield out, raw
                    out += len(raw)
                    continue
                while raw:
                    chunk: bytes = inflater.decompress(raw, STREAM_OUT)
                    raw = inflater.unconsumed_tail
                    yield out, chunk
                    out += len(chunk)
        except _INFLATE_ERRORS as e:
            raise self._corrupt(ext, str(e)) from None

    def _zipfile_chunks(self, ext: Extent) -> Iterator[bytes]:
        """Methods other than stored/deflate (bzip2, lzma): rare in wheels; zipfile reads them."""
        with self._zip_lock:
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            zf = self._zip
        try:
            with zf.open(ext.stored_name) as f:
                while chunk := f.read(STREAM_OUT):
                    yield chunk
        except _CORRUPT as e:
            raise self._corrupt(ext, str(e)) from None

    def _check(self, ext: Extent, size: int, crc: int) -> None:
        if size != ext.file_size:
            raise self._corrupt(ext, f"inflates to {size} bytes, not the declared {ext.file_size}")
        if crc & 0xFFFFFFFF != ext.crc:
            raise self._corrupt(ext, "CRC-32 mismatch")

    def _corrupt(self, ext: Extent, why: str) -> InvalidWheel:
        return InvalidWheel(self.path, f"member {ext.path!r} is corrupt ({why})")
