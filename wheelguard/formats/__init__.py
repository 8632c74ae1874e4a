"""Binary formats: adapters from bytes to :class:`~wheelguard.model.Binary`.

:mod:`~wheelguard.formats.elf` is the only importer of pyelftools,
:mod:`~wheelguard.formats.macho` the only importer of lief;
:mod:`~wheelguard.formats.elf_image` holds a large ELF sparsely while it streams. This module
dispatches on magic bytes.
"""

from __future__ import annotations

import mmap
import warnings

from wheelguard.formats import elf, macho
from wheelguard.formats.macho_check import check_macho, is_broken_fat
from wheelguard.model import ArchivePath, Binary

__all__ = ["HEAD", "Image", "UnreadableBinary", "is_native", "parse_native"]

# lief warns (RuntimeWarning) when a Mach-O names a CPU type it has no enum member for; the
# adapter reports such a slice as machine "unknown" (WG403), so the warning is only noise.
warnings.filterwarnings("ignore", message=r"\d+ is not a valid CPU_TYPE", category=RuntimeWarning)

HEAD = 8
"""Bytes of a member's start that tell its format."""

Image = bytes | mmap.mmap
"""A native member's bytes: whole, or a sparse image of a large ELF."""


def is_native(head: bytes) -> bool:
    return elf.is_elf(head) or macho.is_macho(head) or is_broken_fat(head)


class UnreadableBinary(ValueError):
    """A member with native magic that its adapter could not read (any adapter, any reason)."""


def parse_native(name: ArchivePath, data: Image) -> Binary | None:
    """Dispatch on magic; a module-level function so a process pool can pickle it.

    Whatever an adapter's parser raises on a crafted member is a :class:`ValueError` here
    (the member is unreadable, WG405), never an error that escapes the scan: the adapters wrap
    third-party parsers that follow the file's own offsets and counts.
    """
    head = bytes(data[:HEAD])
    try:
        if elf.is_elf(head):
            return elf.parse_elf(name, data)
        if (macho.is_macho(head) or is_broken_fat(head)) and isinstance(data, bytes):
            check_macho(data)  # what lief would skip over (or crash on) is refused first
            return macho.parse_macho(name, data)
    except ValueError:
        raise
    except Exception as e:
        msg = f"{name}: unreadable ({type(e).__name__}: {e})"
        raise UnreadableBinary(msg) from None
    return None
