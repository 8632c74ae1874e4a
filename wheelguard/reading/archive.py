"""Reading wheel archives without extracting them, and refusing hostile ones early.

A wheel is a zip; every safety question (path traversal, symlinks, encryption, bombs) is
answered from the central directory before a single member is inflated, so a hostile file costs
nothing but its directory to reject.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import importlib
import lzma
import os
import posixpath
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from zipfile import ZipInfo

from wheelguard.errors import InvalidWheel
from wheelguard.model import ArchivePath
from wheelguard.reading.layout import LayoutError, check_layout, raw_name, read_end

__all__ = [
    "INFLATER",
    "Extent",
    "Limits",
    "RawReader",
    "WheelArchive",
    "local_payload_offset",
    "open_regular",
    "record_hash",
]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that separate a large real wheel from a zip bomb.

    The largest real wheels (torch, tensorflow) hold single members of a few GB and compress
    native code about 2-5x; a ratio of several hundred only comes from crafted input or from
    huge runs of zeros no library needs.
    """

    max_member_size: int = 4 << 30
    """The largest member of the corpus is 749 MB (libcublasLt.so.12)."""
    max_total_size: int = 8 << 30
    """The largest inflated total of the corpus is 1.91 GB (flashinfer-cubin); torch 1.14 GB."""
    max_ratio: float = 200.0
    ratio_floor: int = 8 << 20
    """Members smaller than this are not held to ``max_ratio`` (tiny text compresses well;
    real members under it reach 234)."""
    max_archive_ratio: float = 40.0
    """Inflated bytes of all members over the file's size. Published wheels stay under 7
    (flashinfer-python 7.0, torch 2.1, flashinfer-cubin 4.2: docs/reliability.md); members
    just under ``ratio_floor`` each could otherwise add up to a bomb."""
    archive_ratio_floor: int = 256 << 20
    """Archives inflating to less than this are not held to ``max_archive_ratio``."""
    max_members: int = 100_000
    """flashinfer-cubin, the largest member count of the corpus, has 16,017."""
    max_central_size: int = 64 << 20
    """Bytes of central directory read into memory at open (torch's is 2 MB)."""
    max_name_bytes: int = 1024
    """A member name longer than this is refused (the corpus's longest is 302 bytes; Linux
    refuses paths over 4,096 and one component over 255)."""


def record_hash(data: bytes) -> str:
    """``sha256=<urlsafe b64 without padding>``, the one form RECORD uses for a digest."""
    return "sha256=" + urlsafe_digest(hashlib.sha256(data).digest())


def urlsafe_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def open_regular(path: str) -> int:
    """A read-only descriptor of ``path``, which must be a regular file.

    Opened non-blocking and checked on the descriptor itself: a FIFO named like a wheel would
    otherwise block the open (and a gate in CI with it) until something writes to it, and a
    device such as ``/dev/zero`` would be read without end. Checking the descriptor rather than
    the path leaves no window for the path to be swapped in between.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InvalidWheel(path, "no such file") from None
    except PermissionError:
        raise InvalidWheel(path, "permission denied") from None
    except OSError as e:
        raise InvalidWheel(path, f"cannot open ({e.strerror or e})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise InvalidWheel(path, f"is {kind}, not a wheel file")
    if flags & getattr(os, "O_NONBLOCK", 0):
        os.set_blocking(fd, True)
    return fd


class WheelArchive:
    """An open wheel: validated central directory, members read on demand.

    Use as a context manager; it owns the open file and nothing outlives it.
    """

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = str(path)
        self.limits = limits or Limits()
        fd = open_regular(self.path)
        self._reader = RawReader(self.path, fd=fd)
        try:
            self._zip = self._open_zip(fd)
        except BaseException:
            self._reader.close()
            raise
        try:
            self._infos = self._validate()
        except BaseException:
            self.close()
            raise
        self._extents = {e.path: e for e in self.extents()}

    def _open_zip(self, fd: int) -> zipfile.ZipFile:
        """zipfile over the same open file, after the end record has been checked: its size
        bounds how much central directory zipfile reads into memory."""
        size = os.fstat(fd).st_size
        try:
            end = read_end(self._reader.pread, size)
        except LayoutError as e:
            raise InvalidWheel(self.path, f"not a zip archive: {e}") from None
        if end.entries > self.limits.max_members:
            raise InvalidWheel(self.path, f"{end.entries} members exceed the limit "
                               f"({self.limits.max_members})")
        if end.cd_size > self.limits.max_central_size:
            raise InvalidWheel(self.path, f"a central directory of {end.cd_size} bytes exceeds "
                               f"the limit ({self.limits.max_central_size})")
        self._end = end
        # closefd=False: the RawReader owns the descriptor.
        self._stream = stream = os.fdopen(fd, "rb", closefd=False)
        try:
            return zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as e:
            stream.close()
            raise InvalidWheel(self.path, f"not a zip archive ({e})") from None
        except NotImplementedError as e:
            stream.close()
            raise InvalidWheel(self.path, f"uses a zip feature zipfile cannot read ({e})") \
                from None

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
            self._stream.close()
        self._reader.close()

    @property
    def zipfile(self) -> zipfile.ZipFile:
        """The underlying zip, for raw member copies on repair."""
        return self._zip

    def _validate(self) -> dict[ArchivePath, ZipInfo]:
        infos: dict[ArchivePath, ZipInfo] = {}
        entries = self._zip.infolist()
        limits = self.limits
        if len(entries) > limits.max_members:
            raise InvalidWheel(self.path, f"{len(entries)} members exceed the limit")
        total = 0
        directories: list[ArchivePath] = []
        for info in entries:
            name = info.filename
            # Checked before the directory skip: an installer creates directories too, so a
            # "../x/" entry escapes the install root as surely as a file does.
            path = _checked_path(self.path, info, limits)
            _check_mode(self.path, info)
            if info.flag_bits & 0x1:
                raise InvalidWheel(self.path, f"member {name!r} is encrypted")
            if info.compress_type not in _METHODS:
                raise InvalidWheel(
                    self.path, f"member {name!r} uses compression method {info.compress_type}, "
                    "which wheels do not use (stored, deflate, bzip2 and lzma are read)")
            if info.is_dir():
                if info.file_size:
                    raise InvalidWheel(self.path, f"directory entry {name!r} holds "
                                       f"{info.file_size} bytes of data")
                directories.append(path)
                continue  # directory entries carry no payload; some tools write them
            if path in infos:
                raise InvalidWheel(self.path, f"duplicate member name {name!r}")
            if info.file_size > limits.max_member_size:
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes, over the "
                    f"{limits.max_member_size}-byte limit (zip bomb guard)",
                )
            if (
                info.file_size > limits.ratio_floor
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} inflates {info.compress_size} to {info.file_size} bytes "
                    f"(ratio over {limits.max_ratio:.0f}: zip bomb guard)",
                )
            total += info.file_size
            infos[path] = info
        for d in directories:
            if d in infos:
                raise InvalidWheel(self.path, f"directory entry {d + '/'!r} names the file "
                                   f"{d!r} too")
        if total > limits.max_total_size:
            raise InvalidWheel(
                self.path, f"members total {total} bytes, over the limit (zip bomb guard)"
            )
        size = os.fstat(self._reader.fileno()).st_size
        if total > limits.archive_ratio_floor and total > limits.max_archive_ratio * size:
            raise InvalidWheel(
                self.path, f"members inflate to {total} bytes from a {size}-byte file (ratio "
                f"over {limits.max_archive_ratio:.0f}: zip bomb guard)")
        try:
            # Every local header against its central entry, and the members tiling the file:
            # overlapping members (one stream inflated many times) end here, before inflating.
            check_layout(self._reader.pread, self._end, entries, int(self._zip.start_dir))
        except LayoutError as e:
            raise InvalidWheel(self.path, str(e)) from None
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
                flags=info.flag_bits,
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

    def read(self, path: str) -> bytes:
        """The whole member, inflated within its declared size (checked at open)."""
        return self._reader.read(self._extent(path))

    def iter_chunks(self, path: str) -> Iterator[bytes]:
        """Stream a member; for hashing large members without holding them."""
        return self._reader.iter_chunks(self._extent(path))

    def _extent(self, path: str) -> Extent:
        try:
            return self._extents[ArchivePath(path)]
        except KeyError:
            raise InvalidWheel(self.path, f"no member {path!r}") from None


_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                      zipfile.ZIP_LZMA})
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                  "\u2066\u2067\u2068\u2069")
"""Bidirectional controls: they make a name display as another ("trojan source")."""
_TYPES = {stat.S_IFLNK: "a symlink", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}
_SYSTEMS = {0: "MS-DOS", 3: "Unix", 10: "Windows NTFS", 19: "OS X"}


def _check_mode(wheel: str, info: ZipInfo) -> None:
    """Refuse members whose mode makes them anything but a file or a directory.

    The mode's file type is read whatever system wrote the entry: pip and zipfile-based
    unpackers look at ``external_attr >> 16`` without asking, and a repair that copies the
    entry into a Unix archive would turn a symlink mode from an MS-DOS entry into a real one.
    """
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if not kind or kind == stat.S_IFREG or (kind == stat.S_IFDIR and info.is_dir()):
        return
    what = _TYPES.get(kind, "a directory" if kind == stat.S_IFDIR else f"file type {kind:#o}")
    system = _SYSTEMS.get(info.create_system, f"system {info.create_system}")
    raise InvalidWheel(wheel, f"member {info.filename!r} is {what} (mode {mode:#o}, written "
                       f"by {system})")


def _checked_path(wheel: str, info: ZipInfo, limits: Limits) -> ArchivePath:
    """Refuse names an installer would place outside its target, odd encodings of them, and
    names that cannot be recorded in RECORD or shown as they are."""
    name = info.filename
    # zipfile cuts a name at its first NUL; the original keeps it.
    if not name or "\x00" in info.orig_filename:
        raise InvalidWheel(wheel, f"member name {info.orig_filename!r} is empty or holds NUL")
    if not (info.flag_bits & 0x800) and not raw_name(info).isascii():
        raise InvalidWheel(wheel, f"member name {name!r} is not ASCII and not marked UTF-8 "
                           "(zip's legacy cp437 names decode differently in every tool)")
    # isprintable() is False for every character looked for (and for some allowed ones, such
    # as a no-break space): the per-character look runs only then.
    bad = None if name.isprintable() else next(
        (c for c in name if c in _BIDI or unicodedata.category(c) in _CONTROL), None)
    if bad is not None:
        raise InvalidWheel(wheel, f"member name {name!r} holds the control character "
                           f"U+{ord(bad):04X} (RECORD and terminals cannot show it as it is)")
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
    encoded = len(name.encode("utf-8"))
    if encoded > limits.max_name_bytes:
        raise InvalidWheel(wheel, f"member name {name[:60]!r}... is {encoded} bytes long, over "
                           f"the {limits.max_name_bytes}-byte limit")
    longest = max(parts, key=lambda p: len(p.encode("utf-8"))) if encoded > _NAME_MAX else ""
    if len(longest.encode("utf-8")) > _NAME_MAX:
        raise InvalidWheel(wheel, f"member name {name[:60]!r}... has a component of "
                           f"{len(longest.encode('utf-8'))} bytes (filesystems allow "
                           f"{_NAME_MAX})")
    return ArchivePath(normal)


_CONTROL = frozenset({"Cc", "Zl", "Zp"})
_NAME_MAX = 255


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
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error, _Z.error, ValueError, OverflowError, OSError, EOFError, lzma.LZMAError,
)


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
    flags: int = 0


class RawReader:
    """Positional reads of one wheel file; share it between threads, or open one per process.

    ``fd`` hands over a descriptor already opened (and checked) by :func:`open_regular`.
    """

    def __init__(self, path: str, *, fd: int | None = None) -> None:
        self.path = path
        self._fd = open_regular(path) if fd is None else fd

    def __enter__(self) -> RawReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def fileno(self) -> int:
        return self._fd

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            msg = f"read of {size} bytes at offset {offset}"
            raise InvalidWheel(self.path, f"not a zip archive ({msg})")
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
            return b"".join(self.iter_chunks(ext))  # bzip2, lzma: rare, streamed and bounded
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

    def iter_chunks(self, ext: Extent) -> Iterator[bytes]:
        """Stream a member in chunks of at most :data:`STREAM_OUT` bytes, checked at the end.

        Every method inflates at most :data:`STREAM_OUT` bytes per call and stops one byte past
        the declared size: a bzip2 stream of a few hundred bytes can expand to gigabytes in one
        call of an unbounded decompressor (zipfile's), so none is used.
        """
        pos = self.payload_offset(ext)
        end = pos + ext.compress_size
        size = crc = 0
        try:
            inflater, pos = self._inflater(ext, pos, end)
            while pos < end or inflater.pending:
                raw = b""
                if pos < end and not inflater.pending:
                    step = STREAM_OUT if ext.method == _STORED else _STREAM_IN
                    raw = self.pread(pos, min(step, end - pos))
                    if not raw:
                        raise self._corrupt(ext, "truncated data")
                    pos += len(raw)
                for out in inflater.feed(raw):
                    size += len(out)
                    if size > ext.file_size:
                        raise self._corrupt(ext, "inflates past its declared size")
                    crc = _Z.crc32(out, crc)
                    yield out
            for out in inflater.finish():
                size += len(out)
                if size > ext.file_size:
                    raise self._corrupt(ext, "inflates past its declared size")
                crc = _Z.crc32(out, crc)
                yield out
        except _INFLATE_ERRORS as e:
            raise self._corrupt(ext, str(e) or type(e).__name__) from None
        if not inflater.ended(size == ext.file_size):
            raise self._corrupt(ext, "compressed stream does not end where declared")
        self._check(ext, size, crc)

    def _inflater(self, ext: Extent, pos: int, end: int) -> tuple[_Inflater, int]:
        """The decompressor of the member's method, and where its input starts."""
        if ext.method == _STORED:
            return _Inflater(None), pos
        if ext.method == _DEFLATED:
            return _Inflater(_Z.decompressobj(-15)), pos
        if ext.method == zipfile.ZIP_BZIP2:
            return _Inflater(bz2.BZ2Decompressor()), pos
        # zip's LZMA framing: version (2 bytes), properties size (2), LZMA1 properties.
        head = self.pread(pos, min(4, end - pos))
        if len(head) < 4:
            raise self._corrupt(ext, "truncated LZMA header")
        (props_size,) = struct.unpack_from("<H", head, 2)
        props = self.pread(pos + 4, props_size)
        if props_size != 5 or len(props) != 5 or props[0] >= 9 * 5 * 5:
            raise self._corrupt(ext, "bad LZMA properties")
        lc, rest = props[0] % 9, props[0] // 9
        lp, pb = rest % 5, rest // 5
        (dict_size,) = struct.unpack_from("<I", props, 1)
        filters = [{"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb,
                    "dict_size": dict_size}]
        decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
        # Flag bit 1: the stream carries an end marker; without one it ends with its size.
        return _Inflater(decoder, needs_end=bool(ext.flags & 0x2)), pos + 4 + props_size

    def _check(self, ext: Extent, size: int, crc: int) -> None:
        if size != ext.file_size:
            raise self._corrupt(ext, f"inflates to {size} bytes, not the declared {ext.file_size}")
        if crc & 0xFFFFFFFF != ext.crc:
            raise self._corrupt(ext, "CRC-32 mismatch")

    def _corrupt(self, ext: Extent, why: str) -> InvalidWheel:
        return InvalidWheel(self.path, f"member {ext.path!r} is corrupt ({why})")


class _Inflater:
    """One interface over no compression, zlib's and bz2/lzma's decompressors, each asked
    for at most :data:`STREAM_OUT` bytes per call."""

    def __init__(self, decoder: Any, *, needs_end: bool = True) -> None:
        self._d = decoder
        self._zlib = decoder is not None and hasattr(decoder, "unconsumed_tail")
        self._needs_end = needs_end
        self.pending = False
        """Output is waiting inside the decoder: call :meth:`feed` with no input."""

    def feed(self, raw: bytes) -> Iterator[bytes]:
        d = self._d
        if d is None:
            if raw:
                yield raw
            return
        if self._zlib:
            while raw:
                out: bytes = d.decompress(raw, STREAM_OUT)
                raw = d.unconsumed_tail
                if out:
                    yield out
                elif d.eof:
                    break
            return
        if d.eof:
            if raw:
                raise EOFError("data after the end of the compressed stream")
            self.pending = False
            return
        out = d.decompress(raw, STREAM_OUT)
        self.pending = not d.eof and not d.needs_input
        if out:
            yield out

    def finish(self) -> Iterator[bytes]:
        if self._zlib:
            tail: bytes = self._d.flush()
            if tail:
                yield tail

    def ended(self, complete: bool) -> bool:
        """Whether the stream ended where it should: at its end marker, or (an LZMA stream
        without one) with the declared size reached."""
        if self._d is None:
            return True
        return bool(self._d.eof) or (not self._needs_end and complete)
