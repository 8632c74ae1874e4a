"""Byte sizes as people write them (``100MB``, ``1.5GiB``) and as reports show them."""

from __future__ import annotations

import re

__all__ = ["format_bytes", "parse_size"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``500M``, ``1.5GB``, ``2GiB`` or a plain byte count; powers of 1024 throughout."""
    m = _SIZE.match(text)
    if m is None:
        msg = f"not a size: {text!r} (try 500MB or 2GiB)"
        raise ValueError(msg)
    scale = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[m[2].lower()]
    return int(float(m[1]) * (1024**scale))


def format_bytes(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} B"
