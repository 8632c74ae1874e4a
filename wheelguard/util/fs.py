"""Writing files so that a reader never sees half of one: temp file beside it, then rename."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_binary_output", "atomic_write_text", "file_sha256"]


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


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks: how smoke results name the build they ran
    on and how the release checklist matches them, so both must use this one function."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
