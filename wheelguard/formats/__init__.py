"""Binary formats: adapters from bytes to :class:`~wheelguard.model.Binary`.

:mod:`~wheelguard.formats.elf` is the only importer of pyelftools;
:mod:`~wheelguard.formats.macho` and :mod:`~wheelguard.formats.pe` decode Mach-O and PE with
:mod:`struct` through :mod:`~wheelguard.formats._reader` (lief is imported only to edit Mach-O,
by :mod:`wheelguard.repair.macho`); :mod:`~wheelguard.formats.elf_image` holds a large ELF
sparsely while it streams. This module dispatches on magic bytes.
"""

from __future__ import annotations

import mmap

from wheelguard.formats import elf, macho, pe
from wheelguard.model import ArchivePath, Binary

__all__ = ["HEAD", "Image", "is_native", "keeps_whole", "parse_native"]

HEAD = 8
"""Bytes of a member's start that tell its format."""

Image = bytes | bytearray | mmap.mmap
"""A native member's bytes: whole (a large Mach-O or PE member is filled into a bytearray as it
streams), or a sparse image of a large ELF."""


def is_native(head: bytes) -> bool:
    return elf.is_elf(head) or macho.is_macho(head) or pe.is_pe(head)


def keeps_whole(head: bytes) -> bool:
    """Whether the adapter for ``head`` reads the member whole (Mach-O and PE do: their
    tables sit anywhere in the file; ELF is held sparsely instead)."""
    return macho.is_macho(head) or pe.is_pe(head)


def parse_native(name: ArchivePath, data: Image) -> Binary | None:
    """Dispatch on magic; a module-level function so a process pool can pickle it. None for a
    member whose magic promised a format its header then denies (an MZ file without a PE
    image)."""
    head = bytes(data[:HEAD])
    if elf.is_elf(head):
        # The scanner never fills a bytearray for ELF (it holds those sparsely).
        return elf.parse_elf(name, bytes(data) if isinstance(data, bytearray) else data)
    if macho.is_macho(head):
        return macho.parse_macho(name, data)
    if pe.is_pe(head):
        return pe.parse_pe(name, data)
    return None
