"""The repaired wheel's model, built from the first scan and what the repair wrote.

``wheelguard repair`` reports the findings left in its output. Scanning the output again cost
about a third of a repair (every member inflated, hashed and parsed once more), although almost
all of it is raw copies of members the first scan read: the same compressed bytes, so the same
digest and the same parse. So the output's :class:`~wheelguard.model.Wheel` is derived instead,
and only what the repair wrote is read back: the output's central directory is validated as
any wheel's is; every copied entry must carry its source's CRC-32 and sizes; every member the
repair wrote (patched libraries, METADATA, the repair log, RECORD) is inflated from the output,
must be the bytes meant to be written, and is hashed and parsed like a scanned member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from packaging.utils import parse_wheel_filename

from wheelguard.errors import InvalidWheel, RepairError
from wheelguard.formats import HEAD, is_native, parse_native
from wheelguard.model import ArchivePath, Binary, Member, PythonFacts, Wheel
from wheelguard.reading.archive import Limits, RawReader, WheelArchive, urlsafe_digest
from wheelguard.reading.distinfo import (
    DIST_INFO_FILES,
    read_metadata,
    read_record,
    read_wheel_file,
)
from wheelguard.reading.pysource import merge_facts, read_module

__all__ = ["repaired_wheel"]


def repaired_wheel(
    source: Wheel, source_archive: WheelArchive, target: Path, written: Mapping[str, bytes],
    *, limits: Limits | None = None,
) -> Wheel:
    """The model of ``target``, which the repair wrote from ``source``: members not in
    ``written`` (new bytes by name, RECORD included) were copied raw from ``source_archive``.
    :class:`RepairError` if the output is not what was meant to be written."""
    out_path = str(target)
    try:
        return _derive(source, source_archive, target, written, limits)
    except InvalidWheel as e:
        raise RepairError(f"{out_path}: the written wheel does not read back ({e.reason})"
                          ) from None


def _derive(
    source: Wheel, source_archive: WheelArchive, target: Path, written: Mapping[str, bytes],
    limits: Limits | None,
) -> Wheel:
    out_path = str(target)
    members: list[Member] = []
    fresh: dict[ArchivePath, tuple[Binary | None, str | None]] = {}
    with WheelArchive(target, limits) as out, RawReader(out_path) as reader:
        extents = {e.path: e for e in out.extents()}
        for name in out.names():
            info = out.info(name)
            if name not in written:
                member = source.member(name)
                was = source_archive.info(name) if source_archive.has(name) else None
                if member is None or was is None or (
                        info.CRC, info.compress_size, info.file_size) != (
                        was.CRC, was.compress_size, was.file_size):
                    raise RepairError(f"{out_path}: {name} is not the member it copies")
                members.append(member)
                continue
            data = reader.read(extents[name])
            if data != written[name]:
                raise RepairError(f"{out_path}: {name} does not hold the bytes written")
            member = Member(path=name, size=len(data), compressed_size=info.compress_size,
                            sha256=urlsafe_digest(hashlib.sha256(data).digest()),
                            magic=bytes(data[:HEAD]))
            members.append(member)
            if is_native(member.magic):
                try:
                    fresh[name] = (parse_native(name, data), None)
                except ValueError as e:
                    fresh[name] = (None, str(e))
        missing = set(written) - set(extents)
        if missing:
            raise RepairError(f"{out_path}: {sorted(missing)[0]} was not written")
        dist_info = source.dist_info
        record = read_record(out, out_path, dist_info)
        metadata_fields, requires = (
            read_metadata(out, out_path, dist_info) if f"{dist_info}/METADATA" in written
            else (source.metadata_fields, source.requires_dist))
        wheel_fields = (read_wheel_file(out, out_path, dist_info)
                        if f"{dist_info}/WHEEL" in written else source.wheel_fields)
        kept = {m.path for m in members}
        files = {name: written.get(f"{dist_info}/{name}", source.dist_info_files.get(name, b""))
                 for name in DIST_INFO_FILES if f"{dist_info}/{name}" in kept}
        binaries, companions, unreadable = _natives(source, members, kept, fresh)
        python = _python(source, members, binaries, kept=kept, fresh=fresh, written=written,
                         read=lambda path: reader.read(extents[path]))
    project, version, build_tag, tags = parse_wheel_filename(target.name)  # a retag renames it
    return replace(
        source,
        path=out_path,
        filename=target.name,
        name=project,
        version=version,
        build_tag=build_tag,
        tags=tags,
        members=tuple(members),
        binaries=binaries,
        debug_companions=companions,
        unreadable_binaries=unreadable,
        record=record,
        metadata_fields=dict(metadata_fields),
        requires_dist=requires,
        wheel_fields=dict(wheel_fields),
        file_size=target.stat().st_size,
        dist_info_files=files,
        python=python,
        # The RECORD a repair writes hashes every member with sha256, the digest members
        # carry: no member needs a digest in another algorithm (scan._record_digests).
        record_digests={},
    )


_Fresh = dict[ArchivePath, tuple[Binary | None, str | None]]


def _natives(
    source: Wheel, members: list[Member], kept: set[ArchivePath], fresh: _Fresh
) -> tuple[tuple[Binary, ...], tuple[Binary, ...], tuple[tuple[ArchivePath, str], ...]]:
    """Binaries, debug companions and unreadable members: the source's that were copied,
    and the parses of those written anew."""

    def carried(binaries: tuple[Binary, ...]) -> list[Binary]:
        return [b for b in binaries if b.path in kept and b.path not in fresh]

    binaries = carried(source.binaries)
    companions = carried(source.debug_companions)
    for binary, _reason in fresh.values():
        if binary is not None:
            (companions if binary.is_debug_companion else binaries).append(binary)
    unreadable = [(p, why) for p, why in source.unreadable_binaries
                  if p in kept and p not in fresh]
    unreadable += [(p, why) for p, (_b, why) in fresh.items() if why is not None]
    order = {m.path: i for i, m in enumerate(members)}
    return (tuple(sorted(binaries, key=lambda b: b.path)),
            tuple(sorted(companions, key=lambda b: b.path)),
            tuple(sorted(unreadable, key=lambda u: order[u[0]])))


def _extension(binary: Binary) -> bool:
    return any(s.startswith(("PyInit_", "_PyInit_")) for s in binary.exported)


def _python(
    source: Wheel,
    members: list[Member],
    binaries: tuple[Binary, ...],
    *,
    kept: set[ArchivePath],
    fresh: _Fresh,
    written: Mapping[str, bytes],
    read: Callable[[ArchivePath], bytes],
) -> PythonFacts:
    """What the Python sources say (:mod:`wheelguard.reading.pysource`): the source's facts
    when no module and no extension module was written or dropped, else read again from the
    output's modules, as the scan reads them."""
    dropped = {m.path for m in source.members} - kept
    touched = {*written, *dropped}
    if not any(p.endswith(".py") for p in touched) and not any(
            _extension(b) for b in source.binaries if b.path in touched) and not any(
            b is not None and _extension(b) for b, _why in fresh.values()):
        return source.python
    modules = []
    for m in members:
        if m.path.endswith(".py") and m.size <= _SMALL_MODULE:
            data = written.get(m.path)
            facts = read_module(m.path, data if data is not None else read(m.path))
            if facts is not None:
                modules.append(facts)
    sources = [m.path for m in members if m.path.endswith(".py")]
    extensions = [b.path for b in binaries if _extension(b)]
    return merge_facts(modules, sources, extensions) if modules else PythonFacts()


_SMALL_MODULE = 1 << 20
"""The scan reads the facts of modules it inflates in one call (reading.scan._SMALL)."""
