"""Reading a wheel file's bytes: positional reads, local headers, bounded inflating.

:mod:`wheelguard.reading.archive` decides what a wheel may be (names, modes, budgets, layout)
from its central directory; this module reads bytes, checking what zipfile checks on the way
(local header signature and name, declared size, CRC-32) and bounding what any compressed
stream may expand to. Only regular files are opened (:func:`open_regular`).
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from wheelguard.errors import InvalidWheel
from wheelguard.model import ArchivePath

__all__ = [
    "CHECKPOINT_EVERY",
    "INFLATER",
    "STREAM_OUT",
    "Checkpoint",
    "Extent",
    "RawReader",
    "local_payload_offset",
    "open_regular",
]


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

    def iter_chunks(
        self, ext: Extent, checkpoints: list[Checkpoint] | None = None
    ) -> Iterator[bytes]:
        """Stream a member in chunks of at most :data:`STREAM_OUT` bytes, checked at the end.

        Every method inflates at most :data:`STREAM_OUT` bytes per call and stops one byte past
        the declared size: a bzip2 stream of a few hundred bytes can expand to gigabytes in one
        call of an unbounded decompressor (zipfile's), so none is used. With ``checkpoints``,
        places to resume a stored or deflated stream from (:meth:`resume`) are appended to it
        about every :data:`CHECKPOINT_EVERY` inflated bytes.
        """
        pos = self.payload_offset(ext)
        end = pos + ext.compress_size
        size = crc = 0
        resumable = checkpoints is not None and ext.method in (_STORED, _DEFLATED)
        if resumable and checkpoints is not None:
            checkpoints.append(Checkpoint(0, pos, end))
        try:
            inflater, pos = self._inflater(ext, pos, end)
            while pos < end or inflater.pending:
                if (resumable and checkpoints is not None and ext.method == _DEFLATED
                        and size - checkpoints[-1].out >= CHECKPOINT_EVERY
                        and (state := inflater.snapshot()) is not None):
                    checkpoints.append(Checkpoint(size, pos, end, state))
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

    def resume(self, ext: Extent, checkpoints: list[Checkpoint], start: int) -> Generator[
            tuple[int, bytes], None, None]:
        """``(offset, chunk)`` pairs of the member's inflated bytes from the last checkpoint
        at or before ``start`` onwards. Unchecked: the pass that made the checkpoints checked
        the whole stream (sizes, CRC-32); stop iterating when you have what you need."""
        if ext.method not in (_STORED, _DEFLATED) or not checkpoints:
            at = 0
            for piece in self.iter_chunks(ext):
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

    def snapshot(self) -> Any:
        """A copy of a zlib decoder's state where it holds no unconsumed input (the copy is
        its state alone, a few tens of KB, and resuming reads the file from the current
        position); None otherwise."""
        if not self._zlib or self._d.unconsumed_tail or self._d.eof:
            return None
        return self._d.copy()

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
