"""Bounds-checked reads of a binary held in memory: the one place the Mach-O and PE decoders
read bytes through.

Both decoders take their offsets from the file itself, so every read is checked against the
window it belongs to (a slice of a universal Mach-O, a whole PE image) and a bad offset
becomes the decoder's own ``ValueError`` subclass, never an ``IndexError``, a silent short read
or a read from a neighbouring slice. Over a sparse image of a large member
(:mod:`~wheelguard.formats.sparse`) every read is also checked against the ranges the image
kept: a read of bytes it did not keep raises :class:`~wheelguard.formats.sparse.MissingBytes`
(the scanner reads them and parses again) instead of returning zeros.
"""

from __future__ import annotations

import mmap
import struct
from functools import lru_cache
from typing import Any

from wheelguard.formats.sparse import SparseImage

__all__ = ["Data", "Reader", "decode_name"]

Data = bytes | bytearray | mmap.mmap | SparseImage
"""A member as the scanner hands it over: whole, or a sparse image of a large one."""


@lru_cache(maxsize=64)
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


def decode_name(raw: bytes) -> str:
    """A name from a string table: UTF-8 where it is, escaped bytes where it is not (names are
    compared and printed, never written back)."""
    return raw.decode("utf-8", "backslashreplace")


class Reader:
    """``size`` bytes of ``data`` starting at ``base``, read with one byte order.

    ``error`` is the exception class raised for a read outside the window; the decoders pass
    their own so that a caller sees ``MachOParseError``/``PEParseError`` only.
    """

    __slots__ = ("base", "data", "error", "image", "order", "size")

    def __init__(
        self, data: Data, base: int, size: int, order: str, error: type[ValueError]
    ) -> None:
        if base < 0 or size < 0 or base + size > len(data):
            msg = f"window {base}+{size} outside the {len(data)}-byte file"
            raise error(msg)
        self.image = data if isinstance(data, SparseImage) else None
        """The sparse image reads are checked against, or None for a whole member."""
        self.data: bytes | bytearray | mmap.mmap = (
            data.buffer if isinstance(data, SparseImage) else data)
        self.base = base
        self.size = size
        self.order = order
        self.error = error

    def within(self, offset: int, length: int, what: str) -> None:
        """Bounds only: ``length`` bytes at ``offset`` lie inside the window (not read)."""
        if offset < 0 or length < 0 or offset + length > self.size:
            msg = f"{what} at {offset}+{length} runs past the end ({self.size} bytes)"
            raise self.error(msg)

    def check(self, offset: int, length: int, what: str) -> None:
        """Before a read: inside the window, and (over a sparse image) kept."""
        self.within(offset, length, what)
        if self.image is not None:
            self.image.require(self.base + offset, self.base + offset + length)

    def unpack(self, fmt: str, offset: int, what: str = "field") -> tuple[Any, ...]:
        st = _struct(self.order + fmt)
        self.check(offset, st.size, what)
        return st.unpack_from(self.data, self.base + offset)

    def u16(self, offset: int, what: str = "field") -> int:
        return int(self.unpack("H", offset, what)[0])

    def u32(self, offset: int, what: str = "field") -> int:
        return int(self.unpack("I", offset, what)[0])

    def raw(self, offset: int, length: int, what: str = "bytes") -> bytes:
        self.check(offset, length, what)
        start = self.base + offset
        return bytes(self.data[start : start + length])

    def cstring(self, offset: int, limit: int | None = None, what: str = "string") -> str:
        """The NUL-terminated string at ``offset``, which must end before ``limit`` (window
        relative; default the window's end)."""
        end = self.size if limit is None else min(limit, self.size)
        if offset < 0 or offset >= end:
            msg = f"{what} at {offset} outside its {end}-byte table"
            raise self.error(msg)
        start = self.base + offset
        stop = self.data.find(b"\0", start, self.base + end)
        if stop < 0:
            msg = f"{what} at {offset} is not terminated"
            raise self.error(msg)
        if self.image is not None:  # a NUL read from a gap would end the name early
            self.image.require(start, stop + 1)
        return decode_name(bytes(self.data[start:stop]))

    def iter_unpack(
        self, fmt: str, offset: int, count: int, what: str = "table"
    ) -> list[tuple[Any, ...]]:
        st = _struct(self.order + fmt)
        self.check(offset, st.size * count, what)
        start = self.base + offset
        return list(st.iter_unpack(self.data[start : start + st.size * count]))
