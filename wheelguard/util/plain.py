"""Frozen values back to plain JSON data: the one serialization helper for read-only mappings.

The model freezes data (``MappingProxyType``, tuples, frozensets) so that a value cannot change
after it is built; JSON wants dicts and lists. Producers (smoke results) and renderers (the
audit JSON) both need the conversion, so it lives below both of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """Read-only mappings and tuples (how the model freezes data) as JSON dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [plain(v) for v in value]
    return value
