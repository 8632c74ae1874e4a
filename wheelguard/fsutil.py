"""Writing files so that a reader never sees half of one: temp file beside it, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_binary_output", "atomic_write_text"]


@contextlib.contextmanager
def atomic_binary_output(target: Path) -> Iterator[IO[bytes]]:
    """Yield a file in ``target``'s directory; it replaces ``target`` only if the body succeeds.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_binary_output(target) as f:
        f.write(text.encode("utf-8"))
