"""Scan a wheel archive once into the immutable :class:`~wheelguard.model.Wheel`.

Every member is inflated exactly once: while its bytes are in hand they are hashed (for the
RECORD check), their magic is read, and native ones are parsed. Nothing is written to disk.
Large native members are parsed in a process pool when one is offered, because decoding a
100 MB library's tables is CPU work the second core can share.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from email.parser import BytesParser
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from . import elf, macho
from .archive import Limits, WheelArchive, urlsafe_digest
from .errors import InvalidWheel
from .model import ArchivePath, Binary, Member, RecordEntry, Wheel

__all__ = ["ProgressFn", "is_native", "scan_wheel"]

ProgressFn = Callable[[int], None]
"""Called with a byte count each time that many more member bytes have been read."""

_HEAD = 8
_POOL_THRESHOLD = 16 << 20


def is_native(head: bytes) -> bool:
    return elf.is_elf(head) or macho.is_macho(head)


def scan_wheel(
    path: str | Path,
    *,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
) -> Wheel:
    """Open, validate and read a wheel. Raises :class:`InvalidWheel` for anything unsafe."""
    path = str(path)
    filename = Path(path).name
    try:
        name, version, build_tag, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as e:
        raise InvalidWheel(path, f"not a wheel file name ({e})") from None
    with WheelArchive(path, limits) as archive:
        dist_info = _find_dist_info(archive, path)
        metadata_fields, requires = _read_metadata(archive, path, dist_info)
        wheel_fields = _read_wheel_file(archive, path, dist_info)
        record = _read_record(archive, path, dist_info)
        members, binaries, unreadable = _read_members(archive, progress, executor)
    return Wheel(
        path=path,
        filename=filename,
        name=name,
        version=version,
        build_tag=build_tag,
        tags=tags,
        dist_info=dist_info,
        metadata_fields=metadata_fields,
        requires_dist=requires,
        wheel_fields=wheel_fields,
        record=record,
        members=members,
        binaries=binaries,
        unreadable_binaries=unreadable,
    )


def _find_dist_info(archive: WheelArchive, path: str) -> str:
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


def _read_metadata(
    archive: WheelArchive, path: str, dist_info: str
) -> tuple[dict[str, object], tuple[Requirement, ...]]:
    raw, _unparsed = parse_email(archive.read(f"{dist_info}/METADATA"))
    requires: list[Requirement] = []
    for text in raw.get("requires_dist", []):
        try:
            requires.append(Requirement(text))
        except InvalidRequirement as e:
            msg = f"METADATA has an invalid Requires-Dist {text!r} ({e})"
            raise InvalidWheel(path, msg) from None
    return dict(raw), tuple(requires)


def _read_wheel_file(
    archive: WheelArchive, path: str, dist_info: str
) -> dict[str, tuple[str, ...]]:
    msg = BytesParser().parsebytes(archive.read(f"{dist_info}/WHEEL"))
    fields: dict[str, list[str]] = {}
    for key, value in msg.items():
        fields.setdefault(key, []).append(str(value).strip())
    if "Wheel-Version" not in fields:
        raise InvalidWheel(path, f"{dist_info}/WHEEL lacks Wheel-Version")
    return {k: tuple(v) for k, v in fields.items()}


def _read_record(archive: WheelArchive, path: str, dist_info: str) -> tuple[RecordEntry, ...]:
    text = archive.read(f"{dist_info}/RECORD").decode("utf-8", "replace")
    entries: list[RecordEntry] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
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


def _read_members(
    archive: WheelArchive, progress: ProgressFn | None, executor: Executor | None
) -> tuple[tuple[Member, ...], tuple[Binary, ...], tuple[tuple[ArchivePath, str], ...]]:
    members: list[Member] = []
    binaries: list[Binary] = []
    pending: list[tuple[ArchivePath, object]] = []
    unreadable: list[tuple[ArchivePath, str]] = []
    for name in archive.names():
        info = archive.info(name)
        data = archive.read(name)
        digest = urlsafe_digest(hashlib.sha256(data).digest())
        head = data[:_HEAD]
        members.append(
            Member(
                path=name,
                size=len(data),
                compressed_size=info.compress_size,
                sha256=digest,
                magic=head,
            )
        )
        if is_native(head):
            if executor is not None and len(data) >= _POOL_THRESHOLD:
                pending.append((name, executor.submit(parse_native, name, data)))
            else:
                _collect(name, functools.partial(parse_native, name, data), binaries, unreadable)
        if progress is not None:
            progress(info.compress_size)
    for name, future in pending:
        _collect(name, future.result, binaries, unreadable)  # type: ignore[attr-defined]
    binaries.sort(key=lambda b: b.path)
    return tuple(members), tuple(binaries), tuple(unreadable)


def _collect(
    name: ArchivePath,
    parse: Callable[[], Binary | None],
    binaries: list[Binary],
    unreadable: list[tuple[ArchivePath, str]],
) -> None:
    try:
        binary = parse()
    except ValueError as e:
        unreadable.append((name, str(e)))
        return
    if binary is not None:
        binaries.append(binary)


def parse_native(name: ArchivePath, data: bytes) -> Binary | None:
    """Dispatch on magic; a module-level function so a process pool can pickle it."""
    if elf.is_elf(data):
        return elf.parse_elf(name, data)
    if macho.is_macho(data):
        return macho.parse_macho(name, data)
    return None


def iter_native_names(wheel: Wheel) -> Iterable[ArchivePath]:
    return (m.path for m in wheel.members if is_native(m.magic))
