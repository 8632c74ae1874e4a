"""A large PE member held sparsely: its headers, then the sections holding the tables the
decoder reads, as the stream passes (:mod:`~wheelguard.formats.sparse`)."""

from __future__ import annotations

from wheelguard.formats import pe
from wheelguard.formats.sparse import Ranges, SparseImage

__all__ = ["PEImage"]

_PE_HEAD = 64 << 10
"""Kept from the start before the headers say where the tables are."""


class PEImage(SparseImage):
    """A PE image: its headers, then the sections holding the import, delay-import and export
    tables (and the names they point at), which the headers place."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._planned = False
        self.want(0, _PE_HEAD)

    def _observe(self, available: int) -> None:
        if self._planned:
            return
        try:
            ranges, done = pe.table_ranges(self.buffer, self.has)
        except ValueError:
            self._planned = True  # the decoder will say what is wrong
            return
        self._planned = done
        for a, b in ranges:
            self.want(a, b)

    def needed(self) -> Ranges:
        return list(self.wanted)
