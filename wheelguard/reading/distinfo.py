"""The ``.dist-info`` directory of a wheel: METADATA, WHEEL and RECORD, parsed once.

Read from an open :class:`~wheelguard.reading.archive.WheelArchive` without extracting
anything; what cannot be read at all is an :class:`InvalidWheel` (exit 2), because no check can
judge a wheel whose metadata is missing.
"""

from __future__ import annotations

import csv
import io
from email.parser import BytesParser

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement

from wheelguard.errors import InvalidWheel
from wheelguard.model import RecordEntry
from wheelguard.reading.archive import WheelArchive

__all__ = ["DIST_INFO_FILES", "dist_info_files", "find_dist_info", "read_metadata", "read_record",
           "read_wheel_file"]

DIST_INFO_FILES = ("METADATA", "WHEEL", "RECORD", "entry_points.txt")
"""The .dist-info files kept as bytes on the :class:`~wheelguard.model.Wheel` (each read once
more from the archive; small beside the members)."""


def find_dist_info(archive: WheelArchive, path: str) -> str:
    dirs = sorted(
        {
            n.split("/", 1)[0]
            for n in archive.names()
            if "/" in n and n.split("/", 1)[0].endswith(".dist-info")
        }
    )
    if not dirs:
        raise InvalidWheel(path, "no .dist-info directory")
    if len(dirs) > 1:
        raise InvalidWheel(path, f"several .dist-info directories: {', '.join(dirs)}")
    dist_info = dirs[0]
    for required in ("METADATA", "WHEEL", "RECORD"):
        if not archive.has(f"{dist_info}/{required}"):
            raise InvalidWheel(path, f"{dist_info}/{required} is missing")
    return dist_info


def read_metadata(
    archive: WheelArchive, path: str, dist_info: str
) -> tuple[dict[str, object], tuple[Requirement, ...]]:
    raw, _unparsed = parse_email(archive.read(f"{dist_info}/METADATA"))
    requires: list[Requirement] = []
    for text in raw.get("requires_dist", []):
        try:
            requires.append(Requirement(text))
        except InvalidRequirement as e:
            # packaging's message draws a caret under the error on extra lines; keep one.
            msg = f"METADATA has an invalid Requires-Dist {text!r} ({str(e).splitlines()[0]})"
            raise InvalidWheel(path, msg) from None
    return dict(raw), tuple(requires)


def read_wheel_file(
    archive: WheelArchive, path: str, dist_info: str
) -> dict[str, tuple[str, ...]]:
    msg = BytesParser().parsebytes(archive.read(f"{dist_info}/WHEEL"))
    fields: dict[str, list[str]] = {}
    for key, value in msg.items():
        fields.setdefault(key, []).append(str(value).strip())
    if "Wheel-Version" not in fields:
        raise InvalidWheel(path, f"{dist_info}/WHEEL lacks Wheel-Version")
    return {k: tuple(v) for k, v in fields.items()}


def read_record(archive: WheelArchive, path: str, dist_info: str) -> tuple[RecordEntry, ...]:
    text = archive.read(f"{dist_info}/RECORD").decode("utf-8", "replace")
    entries: list[RecordEntry] = []
    try:
        # newline="" lets csv see a bare "\r" as a line end instead of raising on it.
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:  # e.g. a field over csv's size limit
        raise InvalidWheel(path, f"{dist_info}/RECORD is not valid CSV ({e})") from None
    for lineno, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != 3:
            msg = f"{dist_info}/RECORD line {lineno} has {len(row)} fields, not 3"
            raise InvalidWheel(path, msg)
        file, hash_, size = row
        try:
            size_value = int(size) if size else None
        except ValueError:
            raise InvalidWheel(path, f"{dist_info}/RECORD line {lineno}: size {size!r}") from None
        entries.append(RecordEntry(path=file, hash=hash_ or None, size=size_value))
    return tuple(entries)


def dist_info_files(archive: WheelArchive, dist_info: str) -> dict[str, bytes]:
    """:data:`DIST_INFO_FILES` that the wheel has, as bytes."""
    return {name: archive.read(f"{dist_info}/{name}") for name in DIST_INFO_FILES
            if archive.has(f"{dist_info}/{name}")}
