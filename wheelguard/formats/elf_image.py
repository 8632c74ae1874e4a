"""A large ELF member held sparsely: laid out at its file offsets, less its machine code.

The scanner streams members over a megabyte; holding a 500 MB library whole to read its
dynamic section would make peak memory follow the largest member. This image keeps what the
ELF adapter reads and drops executable ``PT_LOAD`` segments, proving afterwards from the
section headers that nothing needed was dropped.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

__all__ = ["ElfImage"]


class ElfImage:
    """A large ELF member laid out at its file offsets, less its executable segments.

    The adapter reads headers, the dynamic section, symbol and version tables, notes and section
    names; none of them lies in an executable ``PT_LOAD`` (machine code, most of a library).
    The image is a private anonymous mapping: pages never written stay unallocated, so a 72 MB
    library costs about the 20 MB that is kept. What is dropped is decided from the program
    headers in the first chunk and checked against the section headers at the end; a layout
    that fails the check (code and tables mixed) is read again whole by the caller.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        self.dropped: list[tuple[int, int]] | None = None
        self.header: _ElfHeader | None = None

    def __enter__(self) -> ElfImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.buffer.close()

    def write(self, pos: int, chunk: bytes) -> None:
        end = pos + len(chunk)
        if self.dropped is None:
            self.buffer[pos:end] = chunk
            self.header = _ElfHeader.parse(self.buffer, end)
            self.dropped = self.header.droppable(self.buffer, end) if self.header else []
            return
        view = memoryview(chunk)
        for start, stop in _subtract(pos, end, self.dropped):
            self.buffer[start:stop] = view[start - pos : stop - pos]

    def complete(self) -> bool:
        """True when no section the adapter may read intersects a dropped range."""
        if not self.dropped:
            return True
        header = self.header
        table_end = header.shoff + header.shnum * header.shentsize if header else 0
        if header is None or header.shnum == 0 or table_end > self.size:
            return False
        for i in range(header.shnum):
            sh_type, sh_flags, offset, size = header.section(self.buffer, i)
            if sh_type == _SHT_NOBITS or size == 0:
                continue
            readable = sh_type not in _CODE_SECTIONS or sh_flags & _SHF_COMPRESSED
            whole = [(offset, offset + size)]
            if readable and _subtract(offset, offset + size, self.dropped) != whole:
                return False
        return True


_PT_LOAD = 1
_PF_X = 1
_SHT_NOBITS = 8
_SHF_COMPRESSED = 0x800
_CODE_SECTIONS = frozenset({1, 14, 15, 16})
"""PROGBITS, INIT_ARRAY, FINI_ARRAY, PREINIT_ARRAY: section types the adapter never reads."""
_MIN_DROP = 1 << 20
"""Ranges smaller than this are kept: not worth a split write."""


@dataclass(frozen=True, slots=True)
class _ElfHeader:
    """The few ELF header fields that place the program and section header tables."""

    end: str
    is64: bool
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int

    @staticmethod
    def parse(buf: mmap.mmap, available: int) -> _ElfHeader | None:
        if available < 64 or buf[4] not in (1, 2) or buf[5] not in (1, 2):
            return None
        end = "<" if buf[5] == 1 else ">"
        is64 = buf[4] == 2
        if is64:
            phoff, shoff = struct.unpack_from(end + "QQ", buf, 32)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "4H", buf, 54)
        else:
            phoff, shoff = struct.unpack_from(end + "II", buf, 28)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "4H", buf, 42)
        if phentsize < (56 if is64 else 32) or (shnum and shentsize < (64 if is64 else 40)):
            return None
        return _ElfHeader(end, is64, phoff, phentsize, phnum, shoff, shentsize, shnum)

    def segment(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int]:
        """(p_type, p_flags, p_offset, p_filesz) of program header ``i``."""
        at = self.phoff + i * self.phentsize
        if self.is64:
            fields = struct.unpack_from(self.end + "IIQQQQ", buf, at)
            p_type, flags, offset, _va, _pa, filesz = fields
        else:
            p_type, offset, _va, _pa, filesz, _mem, flags = struct.unpack_from(
                self.end + "7I", buf, at
            )
        return int(p_type), int(flags), int(offset), int(filesz)

    def section(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int]:
        """(sh_type, sh_flags, sh_offset, sh_size) of section header ``i``."""
        fmt = self.end + ("IIQQQQ" if self.is64 else "6I")
        _name, sh_type, flags, _addr, offset, size = struct.unpack_from(
            fmt, buf, self.shoff + i * self.shentsize
        )
        return int(sh_type), int(flags), int(offset), int(size)

    def droppable(self, buf: mmap.mmap, available: int) -> list[tuple[int, int]]:
        """File ranges of executable ``PT_LOAD`` segments, less anything else a header names."""
        if self.phnum == 0 or self.phoff + self.phnum * self.phentsize > available:
            return []
        code: list[tuple[int, int]] = []
        keep = [(0, self.phoff + self.phnum * self.phentsize)]
        if self.shoff:
            keep.append((self.shoff, self.shoff + self.shnum * self.shentsize))
        for i in range(self.phnum):
            p_type, flags, offset, filesz = self.segment(buf, i)
            if p_type == _PT_LOAD and flags & _PF_X and offset > 0:
                code.append((offset, offset + filesz))
            else:
                keep.append((offset, offset + filesz))
        dropped = [piece for a, b in code for piece in _subtract(a, b, keep)]
        return [(a, b) for a, b in dropped if b - a >= _MIN_DROP]


def _subtract(start: int, stop: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, stop)`` outside every range in ``ranges``."""
    pieces = [(start, stop)]
    for a, b in ranges:
        rest: list[tuple[int, int]] = []
        for s, e in pieces:
            if b <= s or a >= e:
                rest.append((s, e))
                continue
            if s < a:
                rest.append((s, a))
            if b < e:
                rest.append((b, e))
        pieces = rest
    return pieces
