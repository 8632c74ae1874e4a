"""``$ORIGIN`` and its spellings: the one place that expands and writes them.

glibc expands ``$ORIGIN`` and ``${ORIGIN}`` (the directory of the object carrying the entry);
dyld's ``@loader_path`` means the same for Mach-O. Entries are paths relative to the install
root here (site-packages), so expansion is plain path arithmetic on the binary's install path.
"""

from __future__ import annotations

import posixpath
import re

from wheelguard.loader.paths import install_path

__all__ = [
    "LOADER_PATH",
    "ORIGIN",
    "expand_origin",
    "is_origin_relative",
    "origin_dir",
    "origin_entry",
    "spelled_for",
]

ORIGIN = "$ORIGIN"
"""The spelling wheelguard writes into ELF files."""
LOADER_PATH = "@loader_path"
"""The spelling wheelguard writes into Mach-O files (dyld knows no ``$ORIGIN``)."""

# A token at the start of the entry, followed by nothing or a path separator; "$ORIGINAL" is
# no token (the loader would expand "$ORIGIN" in it, but no real entry looks like that).
_TOKEN = re.compile(r"^(?:\$ORIGIN|\$\{ORIGIN\}|@loader_path)(?=/|$)")


def is_origin_relative(entry: str) -> bool:
    return _TOKEN.match(entry) is not None


def origin_dir(binary_path: str) -> str:
    """The install-root-relative directory ``$ORIGIN`` stands for in ``binary_path``; ``"."``
    for a top-level binary, so that ``$ORIGIN/lib`` cannot become the absolute ``/lib``."""
    return posixpath.dirname(install_path(binary_path)) or "."


def expand_origin(entry: str, binary_path: str) -> str | None:
    """``entry`` with its origin token replaced (not normalised), or None without a token."""
    if not is_origin_relative(entry):
        return None
    return _TOKEN.sub(lambda _m: origin_dir(binary_path), entry, count=1)


def origin_entry(binary_path: str, directory: str, *, token: str = ORIGIN) -> str:
    """The ``$ORIGIN``-relative entry (``@loader_path`` with ``token=LOADER_PATH``) that
    reaches install-root ``directory`` from a binary."""
    rel = posixpath.relpath(posixpath.normpath(directory), origin_dir(binary_path))
    return token if rel == "." else f"{token}/{rel}"


def spelled_for(entry: str, token: str) -> str:
    """``entry`` with its origin token written the way the target format spells it: a policy
    may say ``$ORIGIN/../lib`` for every platform and a Mach-O file gets ``@loader_path/../lib``.
    An entry already in the format's own spelling is kept verbatim (``${ORIGIN}`` stays)."""
    if not is_origin_relative(entry):
        return entry
    if (token == LOADER_PATH) == entry.startswith(LOADER_PATH):
        return entry
    return _TOKEN.sub(lambda _m: token, entry, count=1)
