"""What a library file is called once the grafting tools are done with it.

auditwheel, delocate and delvewheel copy system libraries into a wheel under hashed names so
that two wheels grafting one library never collide on disk. A grafted copy of a library that a
pip distribution provides is still that library: rules about ``libtvm_ffi.so`` apply to
``libtvm_ffi-1a2b3c4d.so`` too, and a second copy in one process is a second runtime whatever
its file is called. This module is the one place that knows the hashed spellings.
"""

from __future__ import annotations

import re

__all__ = ["library_leaf", "loader_name", "ungrafted"]

# auditwheel: "<stem>-<first 8 hex of sha256>.so[.<version>]" (lddtree copies keep the
# version suffix after the hash). delocate keeps names under .dylibs/, but wheels repaired with
# its hash option (and hand-rolled grafts) carry "<stem>-<8 hex>.dylib". delvewheel:
# "<stem>-<32 hex>.dll", case-insensitive like Windows itself.
_GRAFTED = re.compile(
    r"^(?P<stem>.+?)-(?:[0-9a-f]{8}(?P<ext>\.so(?:\.[0-9][0-9.]*)?|\.dylib)"
    r"|(?i:[0-9a-f]{32}|[0-9a-f]{8})(?P<dll>\.(?i:dll)))$"
)


def ungrafted(name: str) -> str | None:
    """The name a grafting tool started from (``libtvm_ffi.so`` for ``libtvm_ffi-1a2b3c4d.so``,
    ``tvm_ffi.dll`` for ``tvm_ffi-<32 hex>.dll``), or None when ``name`` is no grafted name.

    Only for recognising copies: a NEEDED of the hashed name is not satisfied by the
    provider's file, so loader emulation must not use it.
    """
    m = _GRAFTED.match(name)
    if m is None:
        return None
    return m["stem"] + (m["ext"] if m["ext"] is not None else m["dll"])


def loader_name(name: str) -> str:
    """``name`` with any grafting hash removed: the library a copy stands for. A Mach-O
    install name stands for its file name (``@rpath/libtvm_ffi.dylib`` for
    ``libtvm_ffi.dylib``), which is what provider tables and policies name."""
    leaf = library_leaf(name)
    return ungrafted(leaf) or leaf


def library_leaf(name: str) -> str:
    """The file name a library name ends in: itself for SONAMEs and DLL names, the last
    component of a Mach-O install name (``@rpath/libz3.dylib``, ``/usr/lib/libc++.1.dylib``)."""
    return name.rsplit("/", 1)[-1]
