"""Which tree a member belongs to: a vendored project, else a package subdirectory.

Release engineers act per tree (a 592 MB ``3rdparty/`` is one decision, not ten thousand
files), so the artifact check, the size budget and the reports all group members the same
way, here.
"""

from __future__ import annotations

from collections import Counter

from wheelguard.model import Wheel

__all__ = ["VENDOR_DIRS", "largest_trees", "tree_of"]

VENDOR_DIRS = frozenset(
    {"3rdparty", "third_party", "thirdparty", "third-party", "vendor", "vendored", "external",
     "extern", "submodules", "deps"}
)


def tree_of(path: str) -> tuple[str, bool]:
    """The tree a member belongs to, and whether that tree is vendored."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() in VENDOR_DIRS:
            depth = i + 2 if i + 2 < len(parts) else i + 1
            return "/".join(parts[:depth]), True
    if len(parts) <= 2:
        return parts[0], False
    return "/".join(parts[:2]), False


def largest_trees(wheel: Wheel, n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` trees with the most installed bytes, largest first."""
    sizes: Counter[str] = Counter()
    for m in wheel.members:
        sizes[tree_of(m.path)[0]] += m.size
    return sizes.most_common(n)
