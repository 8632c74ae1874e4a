"""Cross-wheel linkage: the wheel against real wheels of the distributions it needs.

:mod:`~wheelguard.linkage.fetch` finds and obtains provider wheels (all the I/O);
:mod:`~wheelguard.linkage.emulate` emulates the loader over the combined install and
:mod:`~wheelguard.linkage.facts` derives the facts the WG7xx checks word (both pure).
"""

__all__ = ["DEFAULT_MAX_WHEEL_SIZE"]

DEFAULT_MAX_WHEEL_SIZE = 1 << 30
"""Provider wheels larger than this are left unread unless asked (torch-sized downloads)."""
