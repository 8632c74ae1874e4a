"""Bounded work per parsed member: a parser that runs out of its budget is an error, not a hang.

The format adapters parse what a build (or an attacker) put in a wheel with third-party
parsers, and those follow the file's own offsets and counts: a version-needed entry whose
``vn_next`` points at itself with a count of four billion, a dynamic table without its
``DT_NULL``, a note that claims a gigabyte. pyelftools reads everything through the stream it
is given, so every loop it runs reads; :class:`BoundedStream` counts the reads and the bytes
and watches a deadline, and raises :class:`BudgetExceeded` (caught by the adapter, reported as
an unreadable binary, WG405) the moment one is spent. The budget scales with the member and
sits well above what the published libraries of the corpus need (docs/reliability.md).
"""

from __future__ import annotations

import mmap
import time
from dataclasses import dataclass

__all__ = ["BoundedStream", "Budget", "BudgetExceeded"]


class BudgetExceeded(Exception):
    """A parser spent its reads, bytes or time on one member."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """What parsing one member may cost."""

    reads: int = 200_000
    """Read calls, plus one per :attr:`bytes_per_read` bytes of the member. The most a
    published library needs is 135,000 (triton's 500 MB libtriton.so); most need 2,000."""
    bytes_per_read: int = 512
    bytes_factor: int = 8
    """Bytes read, as a multiple of the member's size (plus ``bytes_floor``); published
    libraries read at most twice their size."""
    bytes_floor: int = 64 << 20
    seconds: float = 20.0
    """Wall time, checked every :data:`_CLOCK_EVERY` reads."""


_CLOCK_EVERY = 1024


class BoundedStream:
    """The file methods pyelftools calls (read, seek, tell), over bytes or an mmap, metered.

    Reads copy at most what is left of the data, like a file at its end; nothing a header
    declares makes a read larger than the member.
    """

    def __init__(self, data: bytes | mmap.mmap, budget: Budget | None = None) -> None:
        self._data = data
        self._view = memoryview(data)
        self._size = len(data)
        self._pos = 0
        budget = budget or Budget()
        self._reads_left = budget.reads + self._size // budget.bytes_per_read
        self._bytes_left = budget.bytes_factor * self._size + budget.bytes_floor
        self._deadline = time.monotonic() + budget.seconds
        self._tick = _CLOCK_EVERY

    def read(self, size: int | None = -1) -> bytes:
        self._reads_left -= 1
        if self._reads_left < 0:
            msg = "parsing took too many reads (a loop in the file's tables?)"
            raise BudgetExceeded(msg)
        self._tick -= 1
        if self._tick <= 0:
            self._tick = _CLOCK_EVERY
            if time.monotonic() > self._deadline:
                msg = "parsing took too long"
                raise BudgetExceeded(msg)
        start = min(self._pos, self._size)
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        self._bytes_left -= end - start
        if self._bytes_left < 0:
            msg = "parsing read too many bytes (tables larger than the file?)"
            raise BudgetExceeded(msg)
        self._pos = end
        return bytes(self._view[start:end])

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self._size
        if offset < 0:
            msg = f"negative seek position {offset}"
            raise ValueError(msg)
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view.release()

    def __enter__(self) -> BoundedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
