"""Checks shared by the repair tests: is a repaired wheel a wheel every installer accepts.

The verdicts come from tools other than wheelguard: zipfile's CRC check, and pypa's
``installer``, which validates RECORD (every file listed, hash and size right) and installs.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

__all__ = ["assert_archive_order", "assert_installable"]


def assert_archive_order(wheel: Path) -> None:
    """Payload sorted, then ``.dist-info/`` with RECORD last: the reproducible order."""
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
    dist = [i for i, n in enumerate(names) if ".dist-info/" in n]
    assert dist == list(range(len(names) - len(dist), len(names))), ".dist-info must be last"
    assert names[-1].endswith(".dist-info/RECORD")
    payload = names[: len(names) - len(dist)]
    assert payload == sorted(payload)


def assert_installable(wheel: Path, root: Path) -> Path:
    """Validate RECORD with ``installer`` and install the wheel under ``root``; return it."""
    assert_archive_order(wheel)
    with WheelFile.open(wheel) as source:
        source.validate_record()
        scheme = {k: str(root / k) for k in ("purelib", "platlib", "headers", "scripts", "data")}
        destination = SchemeDictionaryDestination(
            scheme, interpreter="/usr/bin/python3", script_kind="posix"
        )
        install(source, destination, {})
    assert list(root.rglob("RECORD")), "installer wrote no RECORD"
    return root
