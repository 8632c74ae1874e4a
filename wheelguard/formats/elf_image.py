"""A large ELF member held sparsely: what the ELF adapter reads, at its file offsets.

The scanner streams members over a megabyte; holding a 500 MB library whole to read its
dynamic section would make peak memory follow the largest member (torch's CUDA wheel peaked at
about 700 MB that way). This image keeps, as the stream passes, the start of the file (headers
and, in the usual layout, the dynamic symbol, string and version tables), the program headers'
``PT_DYNAMIC``, ``PT_NOTE`` and ``PT_INTERP``, the string table ``DT_STRTAB`` names, and the end
of the file from just before the section headers (section names, and the tables tools such
as patchelf append). At the end the section headers say exactly what the adapter reads
(:meth:`ElfImage.needed`); what was not kept is read again from the member's stream by the
scanner, from the nearest checkpoint. Machine code, read-only data, GPU fat binaries,
relocations, ``.symtab``/``.strtab`` and DWARF are never held.

What the adapter reads (keep this list in step with :mod:`wheelguard.formats.elf`): the ELF
header, the program headers and the segments named above, the section headers and section
names, and every section except code and data (``PROGBITS``, ``NOBITS``, the init/fini
arrays), relocations, ``.symtab`` and string tables no read section links to; of a compressed
section its compression header. Unknown section types are kept whole.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

from wheelguard.formats.sparse import Ranges, SparseImage, add, subtract

__all__ = ["ElfImage"]

_HEAD_KEEP = 8 << 20
"""Kept from the start of the file: headers, and the dynamic tables where linkers put them."""
_TAIL_KEEP = 1 << 20
"""Kept before the section header table: the section names, where linkers put them."""

_PT_LOAD = 1
_PT_DYNAMIC = 2
_PT_INTERP = 3
_PT_NOTE = 4
_PN_XNUM = 0xFFFF
_SHN_XINDEX = 0xFFFF
_DT_NULL = 0
_DT_STRTAB = 5
_DT_STRSZ = 10
_DT_VERNEED = 0x6FFFFFFE
_VERNEED_KEEP = 64 << 10
"""Kept from ``DT_VERNEED`` on (the table's size is not in the dynamic section; real ones
are a few hundred bytes)."""

_SHT_PROGBITS = 1
_SHT_SYMTAB = 2
_SHT_STRTAB = 3
_SHT_RELA = 4
_SHT_NOBITS = 8
_SHT_REL = 9
_SHF_COMPRESSED = 0x800
_NOT_READ = frozenset({
    _SHT_PROGBITS, _SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS, _SHT_REL,
    14, 15, 16,  # INIT_ARRAY, FINI_ARRAY, PREINIT_ARRAY
    18,  # SYMTAB_SHNDX
    19,  # RELR
})
"""Section types the adapter never reads the contents of (pyelftools makes lazy objects)."""


class ElfImage(SparseImage):
    """A large ELF member laid out at its file offsets, holding what the adapter reads."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.header: _ElfHeader | None = None
        self._whole = False
        self._segments_planned = False
        self._dynamic: tuple[int, int] | None = None
        self._strtab_planned = False
        self.want(0, _HEAD_KEEP)

    def _observe(self, available: int) -> None:
        del available
        if self._whole:
            return
        if self.header is None:
            if not self.has(0, min(self.size, 64)):
                return
            self.header = _ElfHeader.parse(self.buffer, self.size)
            if self.header is None or self.header.phnum == _PN_XNUM:
                self._whole = True  # not a layout this image understands: keep it all
                self.want(0, self.size)
                return
            h = self.header
            self.want(h.phoff, h.phoff + h.phnum * h.phentsize)
            if h.shoff:
                self.want(h.shoff - _TAIL_KEEP, self.size)
        h = self.header
        table = (h.phoff, h.phoff + h.phnum * h.phentsize)
        if not self._segments_planned and self._available(*table):
            self._segments_planned = True
            for i in range(h.phnum):
                p_type, _flags, offset, _vaddr, filesz = h.segment(self.buffer, i)
                if p_type in (_PT_DYNAMIC, _PT_NOTE, _PT_INTERP):
                    self.want(offset, offset + filesz)
                if p_type == _PT_DYNAMIC:
                    self._dynamic = (offset, min(offset + filesz, self.size))
        if self._dynamic and not self._strtab_planned and self._available(*self._dynamic):
            self._strtab_planned = True
            for table in self._dynamic_tables():
                self.want(*table)

    def _available(self, start: int, stop: int) -> bool:
        return stop <= self.size and self.has(start, stop)

    def needed(self) -> Ranges:
        """What the adapter reads, as far as the kept bytes tell. The scanner asks again after
        reading what this lacks: the section headers tell the rest once they are kept."""
        h = self.header
        if h is None or self._whole:
            return [(0, self.size)]
        out: Ranges = []
        add(out, 0, min(self.size, 64))
        phdrs = (h.phoff, h.phoff + h.phnum * h.phentsize)
        add(out, *phdrs)
        if not self._available(*phdrs):
            return out
        for i in range(h.phnum):
            p_type, _flags, offset, _vaddr, filesz = h.segment(self.buffer, i)
            if p_type in (_PT_DYNAMIC, _PT_NOTE, _PT_INTERP):
                add(out, offset, min(offset + filesz, self.size))
        if self._dynamic is not None:
            if not self._available(*self._dynamic):
                return out
            for table in self._dynamic_tables():
                add(out, *table)
        if h.shnum == 0 or h.shstrndx == _SHN_XINDEX:
            # No section headers, or extended numbering: the adapter's section walk goes
            # wherever the file says; hold it all rather than guess.
            return [(0, self.size)] if h.shoff else out
        sht = (h.shoff, h.shoff + h.shnum * h.shentsize)
        if sht[1] > self.size:
            return [(0, self.size)]
        add(out, *sht)
        if not self.has(*sht):
            return out
        sections = [h.section(self.buffer, i) for i in range(h.shnum)]
        read: set[int] = {h.shstrndx} if h.shstrndx < h.shnum else set()
        for i, (sh_type, *_rest) in enumerate(sections):
            if i and sh_type not in _NOT_READ and sh_type != _SHT_STRTAB:
                read.add(i)
        for i in list(read):
            link = sections[i][4]
            if i != h.shstrndx and 0 < link < h.shnum and sections[link][0] not in _NOT_READ:
                read.add(link)
        chdr = 24 if h.is64 else 12
        for i, (sh_type, flags, offset, size, _link) in enumerate(sections):
            if sh_type == _SHT_NOBITS or size == 0:
                continue
            if i in read:
                add(out, offset, min(offset + size, self.size))
            elif flags & _SHF_COMPRESSED:
                add(out, offset, min(offset + chdr, offset + size, self.size))
        return out

    def _dynamic_tables(self) -> Ranges:
        """File ranges of the tables the loader's view reads by address: the string table
        (``DT_STRTAB``, ``DT_STRSZ`` bytes) and the start of ``DT_VERNEED``."""
        h = self.header
        if h is None or self._dynamic is None:
            return []
        start, stop = self._dynamic
        fmt = h.end + ("qQ" if h.is64 else "iI")
        step = struct.calcsize(fmt)
        values: dict[int, int] = {}
        for at in range(start, stop - step + 1, step):
            tag, value = struct.unpack_from(fmt, self.buffer, at)
            if tag == _DT_NULL:
                break
            values.setdefault(int(tag), int(value))
        out: Ranges = []
        for addr, size in ((values.get(_DT_STRTAB), values.get(_DT_STRSZ)),
                           (values.get(_DT_VERNEED), _VERNEED_KEEP)):
            if addr is None or size is None:
                continue
            for i in range(h.phnum):
                p_type, _flags, offset, vaddr, filesz = h.segment(self.buffer, i)
                if p_type == _PT_LOAD and vaddr <= addr < vaddr + filesz:
                    first = offset + addr - vaddr
                    out.append((first, min(first + size, offset + filesz, self.size)))
                    break
        return out

    # Kept for callers of the earlier image, which dropped executable segments only.
    @property
    def dropped(self) -> Ranges:
        """What the image did not keep."""
        return subtract(0, self.size, self.kept)


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
    shstrndx: int

    @staticmethod
    def parse(buf: mmap.mmap, available: int) -> _ElfHeader | None:
        if available < 64 or buf[4] not in (1, 2) or buf[5] not in (1, 2):
            return None
        end = "<" if buf[5] == 1 else ">"
        is64 = buf[4] == 2
        if is64:
            phoff, shoff = struct.unpack_from(end + "QQ", buf, 32)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                end + "5H", buf, 54)
        else:
            phoff, shoff = struct.unpack_from(end + "II", buf, 28)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                end + "5H", buf, 42)
        if phentsize < (56 if is64 else 32) or (shnum and shentsize < (64 if is64 else 40)):
            return None
        if phoff + phnum * phentsize > available:
            return None
        return _ElfHeader(end, is64, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx)

    def segment(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int, int]:
        """(p_type, p_flags, p_offset, p_vaddr, p_filesz) of program header ``i``."""
        at = self.phoff + i * self.phentsize
        if self.is64:
            fields = struct.unpack_from(self.end + "IIQQQQ", buf, at)
            p_type, flags, offset, vaddr, _pa, filesz = fields
        else:
            p_type, offset, vaddr, _pa, filesz, _mem, flags = struct.unpack_from(
                self.end + "7I", buf, at
            )
        return int(p_type), int(flags), int(offset), int(vaddr), int(filesz)

    def section(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int, int]:
        """(sh_type, sh_flags, sh_offset, sh_size, sh_link) of section header ``i``."""
        fmt = self.end + ("IIQQQQI" if self.is64 else "7I")
        _name, sh_type, flags, _addr, offset, size, link = struct.unpack_from(
            fmt, buf, self.shoff + i * self.shentsize
        )
        return int(sh_type), int(flags), int(offset), int(size), int(link)
