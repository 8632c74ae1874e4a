"""A large native member held sparsely while it streams: only the byte ranges its decoder reads.

Peak memory must not follow the largest member: torch's ``libtorch_cuda.so`` is 500 MB, of
which the ELF adapter reads about 8 MB (headers, the dynamic section, symbol, string and
version tables, notes, section names). A :class:`SparseImage` is a private anonymous mapping of
the member's size in which only *wanted* ranges are written as the stream passes; pages never
written are never allocated. Each format decides what it wants from what it has seen so far
(:mod:`~wheelguard.formats.elf_image`, :mod:`~wheelguard.formats.macho_image` and
:mod:`~wheelguard.formats.pe_image`), and says at the end what its decoder *needs*. Whatever
is needed but was not kept is read again from the member's stream (the scanner resumes it from
the nearest checkpoint, :class:`wheelguard.reading.archive.Checkpoint`), never by holding the
member whole.

The Mach-O and PE decoders read through :class:`~wheelguard.formats._reader.Reader`, which
asks the image whether every range it reads was kept and raises :class:`MissingBytes` when
one was not: a sparse image never hands a decoder zeros in place of bytes it did not keep.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections.abc import Iterable
from typing import TypeVar

__all__ = [
    "MissingBytes",
    "MissingPages",
    "PageHasher",
    "Ranges",
    "SparseImage",
    "add",
    "intersect",
    "subtract",
    "subtract_all",
]

_Image = TypeVar("_Image", bound="SparseImage")
Ranges = list[tuple[int, int]]
"""Sorted, disjoint ``[start, stop)`` byte ranges."""


class MissingBytes(ValueError):
    """A decoder read bytes of a sparse image that were not kept. Not a parse error: the
    scanner reads those bytes from the member's stream and parses again. A ValueError so that
    code passing decoders' ValueErrors through lets it through; the decoders re-raise it as it
    is instead of wrapping it into their own parse errors."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__(f"bytes {start}-{stop} of a sparse image were not kept")
        self.start = start
        self.stop = stop

    def __reduce__(self) -> tuple[type[MissingBytes], tuple[int, int]]:
        return (type(self), (self.start, self.stop))


class MissingPages(ValueError):
    """A Mach-O code signature hashes pages with an algorithm or page size that the stream
    did not hash (it hashes SHA-256 of 4 KiB pages, what nearly every signature uses): the
    scanner streams the slice again to hash them, and parses again."""

    def __init__(self, base: int, size: int, algorithm: str, page: int) -> None:
        super().__init__(f"{algorithm} digests of {page}-byte pages at {base} were not taken")
        self.base = base
        self.size = size
        self.algorithm = algorithm
        self.page = page

    def __reduce__(self) -> tuple[type[MissingPages], tuple[int, int, str, int]]:
        return (type(self), (self.base, self.size, self.algorithm, self.page))


def add(ranges: Ranges, start: int, stop: int) -> bool:
    """Merge ``[start, stop)`` into ``ranges`` in place; True when that changed anything."""
    if stop <= start or any(a <= start and b >= stop for a, b in ranges):
        return False
    merged: Ranges = []
    for a, b in ranges:
        if b < start or a > stop:  # apart (touching ranges merge)
            merged.append((a, b))
        else:
            start, stop = min(a, start), max(b, stop)
    merged.append((start, stop))
    merged.sort()
    ranges[:] = merged
    return True


def subtract(start: int, stop: int, ranges: Iterable[tuple[int, int]]) -> Ranges:
    """The parts of ``[start, stop)`` outside every range in ``ranges``."""
    pieces = [(start, stop)] if stop > start else []
    for a, b in ranges:
        rest: Ranges = []
        for s, e in pieces:
            if b <= s or a >= e:
                rest.append((s, e))
                continue
            if s < a:
                rest.append((s, a))
            if b < e:
                rest.append((b, e))
        pieces = rest
        if not pieces:
            break
    return pieces


def subtract_all(ranges: Ranges, cover: Ranges) -> bool:
    """Whether any of the sorted ``ranges`` has a part outside the sorted ``cover``."""
    j = 0
    for a, b in ranges:
        while j < len(cover) and cover[j][1] <= a:
            j += 1
        if j == len(cover) or cover[j][0] > a or cover[j][1] < b:
            return True
    return False


def intersect(start: int, stop: int, ranges: Iterable[tuple[int, int]]) -> Ranges:
    """The parts of ``[start, stop)`` inside ``ranges``."""
    return [(max(a, start), min(b, stop)) for a, b in ranges if a < stop and b > start]


class SparseImage:
    """A member laid out at its offsets, only its wanted ranges written.

    Subclasses plan: :meth:`_observe` runs after each write and may :meth:`want` more of the
    stream still to come (ranges already passed are read again at the end if needed);
    :meth:`needed` says, once everything has passed, what the decoder reads. The default wants
    and needs everything.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE)
        self.kept: Ranges = []
        self.wanted: Ranges = []
        self.pages: dict[tuple[int, str, int], list[bytes]] = {}
        """Digests of whole pages, per (slice offset, algorithm, page size): Mach-O page
        hashes are checked against these when the pages themselves were not kept."""
        self._extra: Ranges = []
        self._changed = False

    def __enter__(self: _Image) -> _Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.buffer.close()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        return bytes(self.buffer[key])

    @property
    def kept_bytes(self) -> int:
        return sum(b - a for a, b in self.kept)

    def want(self, start: int, stop: int) -> None:
        if add(self.wanted, max(0, start), min(self.size, stop)):
            self._changed = True

    def want_all(self, ranges: Iterable[tuple[int, int]]) -> None:
        """:meth:`want` for many ranges at once (thousands of symbol names)."""
        new = sorted((max(0, a), min(self.size, b)) for a, b in ranges if b > a)
        if not new or not subtract_all(new, self.wanted):
            return
        merged: Ranges = []
        for a, b in sorted([*self.wanted, *new]):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.wanted = merged
        self._changed = True

    def write(self, pos: int, chunk: bytes | memoryview) -> None:
        """The stream's bytes ``[pos, pos + len(chunk))``; only wanted ones are kept."""
        end = pos + len(chunk)
        view = memoryview(chunk)
        done: Ranges = []
        for _ in range(16):  # each round may want more of this chunk; a few rounds settle it
            self._changed = False
            for a, b in subtract(pos, end, done):
                for s, e in intersect(a, b, self.wanted):
                    self.buffer[s:e] = view[s - pos : e - pos]
                    add(self.kept, s, e)
                    add(done, s, e)
            self._observe(end)
            if not self._changed:
                break
        self._stream(pos, view)

    def fill(self, start: int, data: bytes | memoryview) -> None:
        """Bytes read again from the stream after it passed."""
        stop = min(self.size, start + len(data))
        self.buffer[start:stop] = data[: stop - start]
        add(self.kept, start, stop)

    def has(self, start: int, stop: int) -> bool:
        return not subtract(start, stop, self.kept)

    def require(self, start: int, stop: int) -> None:
        """Raise :class:`MissingBytes` unless ``[start, stop)`` was kept."""
        stop = min(stop, self.size)
        gaps = subtract(start, stop, self.kept)
        if gaps:
            raise MissingBytes(gaps[0][0], gaps[-1][1])

    def need(self, start: int, stop: int) -> None:
        """Add to what :meth:`missing` reports (a decoder asked for it)."""
        add(self._extra, max(0, start), min(self.size, stop))

    def needed(self) -> Ranges:
        return [(0, self.size)]

    def missing(self) -> Ranges:
        """Needed ranges that were not kept."""
        out: Ranges = []
        for a, b in [*self.needed(), *self._extra]:
            for piece in subtract(a, b, self.kept):
                add(out, *piece)
        return out

    def complete(self) -> bool:
        return not self.missing()

    def _observe(self, available: int) -> None:
        """Plan after a write; ``available`` is how far the stream has come."""
        del available
        if not self.wanted:
            self.want(0, self.size)

    def _stream(self, pos: int, chunk: memoryview) -> None:
        """Every byte of the stream passes here, kept or not (page hashing)."""

    def _u(self, fmt: str, at: int) -> tuple[int, ...]:
        """Unpack from kept bytes (the caller checked :meth:`has`)."""
        return struct.unpack_from(fmt, self.buffer, at)


# --- Page digests --------------------------------------------------------------------------

_PAGE = 4096
_PAGE_ALGORITHM = "sha256"


class PageHasher:
    """Digests of each whole page of ``[base, base + size)`` of a stream, as it passes: what a
    Mach-O code signature is checked against when the pages themselves were not kept."""

    def __init__(self, base: int, size: int, algorithm: str = _PAGE_ALGORITHM,
                 page: int = _PAGE) -> None:
        self.base = base
        self.stop = base + size
        self.algorithm = algorithm
        self.page = page
        self.digests: list[bytes] = []
        self._partial = hashlib.new(algorithm)
        self._filled = 0

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.base, self.algorithm, self.page)

    def feed(self, pos: int, chunk: memoryview) -> None:
        a, b = max(pos, self.base), min(pos + len(chunk), self.stop)
        if a >= b:
            return
        view = chunk[a - pos : b - pos]
        page, at, n = self.page, 0, len(view)
        if self._filled:
            take = min(page - self._filled, n)
            self._partial.update(view[:take])
            self._filled += take
            at = take
            if self._filled == page:
                self.digests.append(self._partial.digest())
                self._filled = 0
        append = self.digests.append
        if self.algorithm == "sha256":
            new = hashlib.sha256
            while at + page <= n:
                append(new(view[at : at + page]).digest())
                at += page
        else:
            while at + page <= n:
                append(hashlib.new(self.algorithm, view[at : at + page]).digest())
                at += page
        if at < n:
            self._partial = hashlib.new(self.algorithm, view[at:])
            self._filled = n - at
