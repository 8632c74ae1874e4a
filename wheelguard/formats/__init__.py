"""Binary formats: adapters from bytes to :class:`~wheelguard.model.Binary`.

:mod:`~wheelguard.formats.elf` is the only importer of pyelftools;
:mod:`~wheelguard.formats.macho` and :mod:`~wheelguard.formats.pe` decode Mach-O and PE with
:mod:`struct` through :mod:`~wheelguard.formats._reader` (lief is imported only to edit Mach-O,
by :mod:`wheelguard.repair.macho`); :mod:`~wheelguard.formats.sparse` and the
``*_image`` modules hold a large member sparsely while it streams. This module
dispatches on magic bytes, and imports an adapter only when a member of its format is parsed
(pyelftools alone costs a wheel without ELF files a fifth of its start-up).
"""

from __future__ import annotations

import mmap

from wheelguard.formats.sparse import SparseImage
from wheelguard.model import ArchivePath, Binary

__all__ = ["HEAD", "Image", "UnreadableBinary", "image_for", "is_native", "parse_native"]

HEAD = 8
"""Bytes of a member's start that tell its format."""

Image = bytes | bytearray | mmap.mmap | SparseImage
"""A native member's bytes: whole, or a sparse image of a large one (an ELF adapter is handed
the image's mapping, the Mach-O and PE decoders the image itself, which checks their reads)."""

_ELF = b"\x7fELF"
_MACHO_THIN = frozenset({b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                         b"\xcf\xfa\xed\xfe"})
_MACHO_FAT = frozenset({b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"})


class UnreadableBinary(ValueError):
    """A member with native magic that its adapter could not read (any adapter, any reason)."""


def _format(head: bytes) -> str | None:
    """``elf``, ``macho``, ``pe`` or None, from magic alone (the adapters' own tests, without
    importing them: most members are not native)."""
    if head.startswith(_ELF):
        return "elf"
    if head[:4] in _MACHO_THIN or (head[:4] in _MACHO_FAT and len(head) >= 8):
        from wheelguard.formats import macho

        return "macho" if macho.is_macho(head) or _broken_fat(head) else None
    if head[:2] == b"MZ":
        return "pe"
    return None


def _broken_fat(head: bytes) -> bool:
    """A fat magic with an architecture count no universal file has, and no Java class file
    (which shares the magic; its next word is a class-file version, 45 and up) has either:
    read as Mach-O so that the adapter reports it unreadable instead of passing over it."""
    if head[:4] != b"\xca\xfe\xba\xbe" or len(head) < 8:
        return False
    count = int.from_bytes(head[4:8], "big")
    return count >= 20 and not 45 <= (count & 0xFFFF) < 100


def is_native(head: bytes) -> bool:
    return _format(head) is not None


def image_for(head: bytes, size: int) -> SparseImage | None:
    """The sparse image a large member of this format streams into; None if not native."""
    kind = _format(head)
    if kind == "elf":
        from wheelguard.formats.elf_image import ElfImage

        return ElfImage(size)
    if kind == "macho":
        from wheelguard.formats.macho_image import MachOImage

        return MachOImage(size)
    if kind == "pe":
        from wheelguard.formats.pe_image import PEImage

        return PEImage(size)
    return None


def parse_native(name: ArchivePath, data: Image) -> Binary | None:
    """Dispatch on magic; a module-level function so a process pool can pickle it. None for a
    member whose magic promised a format its header then denies (an MZ file without a PE
    image). Over a sparse image a decoder may raise
    :class:`~wheelguard.formats.sparse.MissingBytes` (a ValueError): read those bytes and call
    again.

    Whatever an adapter's parser raises on a crafted member is a :class:`ValueError` here
    (the member is unreadable, WG405), never an error that escapes the scan: the adapters
    follow the file's own offsets and counts."""
    head = bytes(data[:HEAD])
    kind = _format(head)
    try:
        if kind == "elf":
            from wheelguard.formats import elf

            if isinstance(data, SparseImage):
                data = data.buffer  # the adapter reads the mapping; ElfImage.needed proves it
            # The scanner never fills a bytearray for ELF (it holds those sparsely).
            return elf.parse_elf(name, bytes(data) if isinstance(data, bytearray) else data)
        if kind == "macho":
            from wheelguard.formats import macho

            return macho.parse_macho(name, data)
        if kind == "pe":
            from wheelguard.formats import pe

            return pe.parse_pe(name, data)
    except ValueError:
        raise
    except Exception as e:
        msg = f"{name}: unreadable ({type(e).__name__}: {e})"
        raise UnreadableBinary(msg) from None
    return None
