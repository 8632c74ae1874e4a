"""A large Mach-O member held sparsely: per architecture its header and load commands, then the
tables they point at, as the stream passes (:mod:`~wheelguard.formats.sparse`).

:func:`wheelguard.formats.macho.table_ranges` says what the decoder reads of each slice as the
bytes arrive (header, load commands, the symbols it names and their names, the export trie,
the code signature); every page is hashed as it streams (SHA-256 of 4 KiB pages, or 16 KiB ones
where the signature is too small for 4 KiB pages), so that the code signature is checked
without keeping the code. torch's 402 MB ``libtorch_cpu.dylib`` is read holding about 4 MB.
"""

from __future__ import annotations

from wheelguard.formats import macho
from wheelguard.formats.sparse import PageHasher, Ranges, SparseImage

__all__ = ["MachOImage"]

_MACHO_HEAD = 64 << 10
"""Kept from the start of each architecture before its header says how long its load
commands are."""


class MachOImage(SparseImage):
    """A Mach-O file (thin or universal): per architecture its header and load commands, then
    the tables they point at (symbols, strings, export trie, code signature); every page is
    hashed as it streams so that the code signature can be checked without the code."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._slices: list[tuple[int, int]] | None = None
        self._planned: set[int] = set()
        self._hashers: dict[int, PageHasher] = {}
        self._streamed = 0
        self.want(0, _MACHO_HEAD)

    def _observe(self, available: int) -> None:
        if self._slices is None:
            if not self.has(0, min(self.size, 8)):
                return
            try:
                table = macho.fat_table_size(self.buffer)
                if table and not self.has(0, table):
                    self.want(0, table)
                    return
                self._slices = macho.slice_ranges(self.buffer)
            except ValueError:
                self._slices = []  # the decoder will say what is wrong; keep what was asked
                return
            for base, size in self._slices:
                self.want(base, base + min(size, _MACHO_HEAD))
                self._hashers[base] = PageHasher(base, size)
        for base, size in self._slices:
            if base in self._planned or base >= available:
                continue
            try:
                ranges, done, page = macho.table_ranges(self.buffer, base, size, self.has)
            except ValueError:
                self._planned.add(base)  # the decoder will say what is wrong
                continue
            if done:
                self._planned.add(base)
            self.want_all(ranges)
            hasher = self._hashers.get(base)
            if hasher is not None and hasher.page != page and base >= self._streamed:
                self._hashers[base] = PageHasher(base, size, "sha256", page)

    def _stream(self, pos: int, chunk: memoryview) -> None:
        for hasher in self._hashers.values():
            hasher.feed(pos, chunk)
        self._streamed = pos + len(chunk)
        if self._streamed >= self.size:
            for h in self._hashers.values():
                self.pages[h.key] = h.digests

    def needed(self) -> Ranges:
        return list(self.wanted)
