"""Cross-wheel linkage: the wheel against real wheels of the distributions it needs.

:mod:`~wheelguard.linkage.fetch` finds and obtains provider wheels (all the I/O);
:mod:`~wheelguard.linkage.emulate` emulates the loader over the combined install and
:mod:`~wheelguard.linkage.facts` derives the facts the WG7xx checks word (both pure).
"""

import posixpath

from wheelguard.model import ArchivePath

__all__ = ["DEFAULT_MAX_WHEEL_SIZE", "library_member"]

DEFAULT_MAX_WHEEL_SIZE = 1 << 30
"""Provider wheels larger than this are left unread unless asked (torch-sized downloads)."""


def library_member(path: ArchivePath) -> bool:
    """The members of a provider wheel worth inflating: ELF shared objects by name
    (``libz3.so``, ``libz3.so.4.15``, ``core.abi3.so``). Headers, sources, Python files and
    executables are listed from the central directory only: nothing about a provider but its
    libraries enters the linkage analysis."""
    base = posixpath.basename(path)
    return base.endswith(".so") or ".so." in base
