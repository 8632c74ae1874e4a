"""Where a wheel member lands once installed, relative to the install root."""

from __future__ import annotations

import re

__all__ = ["install_path"]

_DATA = re.compile(r"^[^/]+\.data/(purelib|platlib)/")


def install_path(member: str) -> str:
    """Where a member lands relative to site-packages (``.data/platlib`` folds into it)."""
    return _DATA.sub("", member)
