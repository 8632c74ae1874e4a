"""Parsed data shipped as JSON beside its source, used only while the source is unchanged.

Two tables every audit reads cost a small wheel's audit a fifth of its run to load: the
provider table (``data/providers.toml``: tomllib parses its 42 KB in about 15 ms, where
:mod:`json` reads the same data in 0.2 ms) and auditwheel's platform policies (importing
``auditwheel.policy`` and building its policy objects takes about 40 ms). Each has a snapshot
in ``data/`` (written by ``python ci/gen_snapshots.py``) that names the SHA-256 of the bytes
it was made from; a snapshot whose sources changed is not used, and the table is read from
its source as before. The snapshot is a cache of the one source of the fact, never a second
source: ``tests/unit/test_snapshots.py`` checks that each equals what its source gives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

__all__ = ["digest", "load_snapshot", "source_bytes"]


def digest(sources: Iterable[bytes]) -> str:
    """The digest a snapshot records of the bytes it was made from."""
    h = hashlib.sha256()
    for data in sources:
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def load_snapshot(name: str, sources: Iterable[bytes]) -> dict[str, Any] | None:
    """``data/<name>`` when it was made from ``sources`` as they are now; else None."""
    try:
        text = resources.files("wheelguard").joinpath(f"data/{name}").read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("sources") != digest(sources):
        return None
    value = data.get("data")
    return value if isinstance(value, dict) else None


def source_bytes(package: str, *names: str) -> list[bytes] | None:
    """The bytes of data files of an installed package, without importing the package's
    modules (only its location); None when it or one of the files is missing."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    from pathlib import Path

    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        return [(root / name).read_bytes() for name in names]
    except OSError:
        return None
