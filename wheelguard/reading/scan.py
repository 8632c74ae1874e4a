"""Scan a wheel archive once into the immutable :class:`~wheelguard.model.Wheel`.

Every member is inflated exactly once: while its bytes are in hand they are hashed (for the
RECORD check), their magic is read, and native ones are parsed. Nothing is written to disk.
A gate that runs on every CI build should cost little more than inflating the wheel once, so
members are read in parallel threads straight from the file (see :class:`RawReader`), and a
large library is never held whole: only the parts of it that the ELF adapter reads are kept.
docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelguard.errors import InvalidWheel
from wheelguard.formats import HEAD, Image, elf, is_native, macho, parse_native
from wheelguard.formats.elf import PartialElf
from wheelguard.formats.elf_image import ElfImage
from wheelguard.model import ArchivePath, Binary, Member, Wheel
from wheelguard.reading.archive import Extent, Limits, RawReader, WheelArchive, urlsafe_digest
from wheelguard.reading.distinfo import (
    dist_info_files,
    find_dist_info,
    read_metadata,
    read_record,
    read_wheel_file,
)

__all__ = ["ProgressFn", "scan_extents", "scan_wheel"]

ProgressFn = Callable[[int], None]
"""Called with a byte count each time that many more member bytes have been read."""



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
    if not Path(path).exists():
        # Before the name: "no such file" is the useful answer for a mistyped path.
        raise InvalidWheel(path, "no such file")
    try:
        name, version, build_tag, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as e:
        raise InvalidWheel(path, f"not a wheel file name ({e})") from None
    with WheelArchive(path, limits) as archive:
        dist_info = find_dist_info(archive, path)
        # The members start streaming in worker threads while this thread parses metadata.
        with _MemberScan(archive, progress, executor) as scan:
            metadata_fields, requires = read_metadata(archive, path, dist_info)
            wheel_fields = read_wheel_file(archive, path, dist_info)
            record = read_record(archive, path, dist_info)
            files = dist_info_files(archive, dist_info)
            members, binaries, unreadable = scan.result()
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
        dist_info_files=files,
    )


# --- Members ---------------------------------------------------------------------------------
#
# Cost model (tilelang 0.1.15: 3,661 members, 158 MB inflated, two libraries of 72 and 29 MB):
# inflating is most of it, SHA-256 (for RECORD) next, then Python's per-member overhead and
# the ELF parse. So: small members are read many per system call and inflated in one call;
# large ones stream in 1 MB chunks; work items go to threads, because zlib, CRC-32 and
# SHA-256 release the GIL on large buffers and two cores then inflate two members at once.

_SMALL = 1 << 20
"""Members up to this size are inflated in one call; larger ones stream."""
_SPAN = 4 << 20
"""Most bytes of the file one batched read of small members covers."""
_PARALLEL_MIN = 8 << 20
"""Below this many inflated bytes a second thread costs more than it saves."""
_MAX_WORKERS = 4
"""More threads than this only add memory: each may hold one large member's image."""

_Scanned = tuple[Member, Binary | None, str | None]
"""A member, and for a native one its parse (or why it could not be parsed)."""


class _MemberScan:
    """Every member read once, on worker threads (or a caller's executor) when that pays.

    Started on construction so that the caller can parse metadata meanwhile; :meth:`result`
    waits. Leaving the ``with`` block cancels what has not started and joins the rest.
    """

    def __init__(
        self, archive: WheelArchive, progress: ProgressFn | None, executor: Executor | None
    ) -> None:
        self._names = archive.names()
        extents = archive.extents()
        self._items = _plan(extents)
        self._progress = progress
        self._reader = RawReader(archive.path)
        self._futures: dict[Future[list[_Scanned]], tuple[Extent, ...]] = {}
        self._own: ThreadPoolExecutor | None = None
        self._report: ProgressFn | None = None
        pool = executor
        if pool is None and (workers := _workers(sum(e.file_size for e in extents))) > 1:
            self._own = pool = ThreadPoolExecutor(workers, thread_name_prefix="wheelguard-scan")
        if pool is None:
            return
        threads = not isinstance(pool, ProcessPoolExecutor)
        if threads and progress is not None:
            self._report = _locked(progress)
        for item in self._items:
            if threads:
                future = pool.submit(
                    scan_extents, self._reader.path, item,
                    reader=self._reader, progress=self._report,
                )
            else:  # a worker process opens the file itself; what it returns is plain data
                future = pool.submit(scan_extents, self._reader.path, item)
            self._futures[future] = item

    def __enter__(self) -> _MemberScan:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self._futures:
            future.cancel()
        if self._own is not None:
            self._own.shutdown(wait=True, cancel_futures=True)
        else:  # a caller's pool: wait for our running items, they read from our descriptor
            for future in self._futures:
                if not future.cancelled():
                    future.exception()
        self._reader.close()

    def result(
        self,
    ) -> tuple[tuple[Member, ...], tuple[Binary, ...], tuple[tuple[ArchivePath, str], ...]]:
        scanned: dict[ArchivePath, _Scanned] = {}
        if not self._futures:
            for item in self._items:
                for s in scan_extents(
                    self._reader.path, item, reader=self._reader, progress=self._progress
                ):
                    scanned[s[0].path] = s
        for future in as_completed(self._futures):
            for s in future.result():
                scanned[s[0].path] = s
            if self._progress is not None and self._report is None:
                self._progress(sum(e.compress_size for e in self._futures[future]))
        members: list[Member] = []
        binaries: list[Binary] = []
        unreadable: list[tuple[ArchivePath, str]] = []
        for name in self._names:
            member, binary, reason = scanned[name]
            members.append(member)
            if binary is not None:
                binaries.append(binary)
            if reason is not None:
                unreadable.append((name, reason))
        binaries.sort(key=lambda b: b.path)
        return tuple(members), tuple(binaries), tuple(unreadable)


def _workers(inflated: int) -> int:
    if inflated < _PARALLEL_MIN:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS))


def _plan(extents: tuple[Extent, ...]) -> list[tuple[Extent, ...]]:
    """Work items, largest first: one per large member, runs of adjacent small ones."""
    items: list[tuple[Extent, ...]] = []
    run: list[Extent] = []
    for ext in extents:
        if ext.file_size > _SMALL:
            items.append((ext,))
        elif run and ext.end - run[0].offset <= _SPAN and ext.offset == run[-1].end:
            run.append(ext)
            continue
        if run:
            items.append(tuple(run))
            run = []
        if ext.file_size <= _SMALL:
            run.append(ext)
    if run:
        items.append(tuple(run))
    # Longest first, so the last item to finish is a short one (greedy LPT scheduling).
    items.sort(key=lambda item: -sum(e.file_size + 2048 for e in item))
    return items


def _locked(progress: ProgressFn) -> ProgressFn:
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)

    return report


def scan_extents(
    path: str,
    extents: tuple[Extent, ...],
    *,
    reader: RawReader | None = None,
    progress: ProgressFn | None = None,
) -> list[_Scanned]:
    """Read, hash and parse some members; module-level so that a process pool can run it."""
    if reader is None:
        with RawReader(path) as own:
            return scan_extents(path, extents, reader=own, progress=progress)
    if len(extents) == 1 and extents[0].file_size > _SMALL:
        return [_scan_large(reader, extents[0], progress)]
    base, buf = reader.span(extents)
    out = []
    for ext in extents:
        data = reader.read(ext, buf, base)
        out.append(_scanned(ext, data, hashlib.sha256(data).digest(), data))
        if progress is not None:
            progress(ext.compress_size)
    return out


def _scan_large(reader: RawReader, ext: Extent, progress: ProgressFn | None) -> _Scanned:
    """Stream one large member: hash every chunk, keep of a native only what its parse reads."""
    hasher = hashlib.sha256()
    head = b""
    image: ElfImage | None = None
    held: list[bytes] | None = []
    """Chunks kept while the magic is unknown, then only for Mach-O (lief wants all bytes)."""
    pos = reported = 0
    for chunk in reader.iter_chunks(ext):
        hasher.update(chunk)
        if image is not None:
            image.write(pos, chunk)
        elif held is not None:
            held.append(chunk)
            if len(head) < HEAD:
                head = (head + chunk)[:HEAD]
                if len(head) == HEAD or pos + len(chunk) >= ext.file_size:
                    if elf.is_elf(head):
                        image = ElfImage(ext.file_size)
                        at = 0
                        for piece in held:
                            image.write(at, piece)
                            at += len(piece)
                        held = None
                    elif not macho.is_macho(head):
                        held = None
        pos += len(chunk)
        if progress is not None:
            done = ext.compress_size * pos // max(ext.file_size, 1)
            progress(done - reported)
            reported = done
    digest = hasher.digest()
    if image is not None:
        with image:
            if image.complete():
                return _scanned(ext, head, digest, image.buffer)
        # An unusual layout put something the parse reads in a dropped range: read it whole.
        return _scanned(ext, head, digest, reader.read(ext))
    return _scanned(ext, head, digest, b"".join(held) if held else None)


def _scanned(ext: Extent, head: bytes, digest: bytes, data: Image | None) -> _Scanned:
    member = Member(
        path=ext.path,
        size=ext.file_size,
        compressed_size=ext.compress_size,
        sha256=urlsafe_digest(digest),
        magic=bytes(head[:HEAD]),
    )
    if data is None or not is_native(member.magic):
        return member, None, None
    try:
        return member, parse_native(ext.path, data), None
    except PartialElf as e:  # loader facts readable, sections not: both are reported
        return member, e.binary, str(e)
    except ValueError as e:
        return member, None, str(e)


def iter_native_names(wheel: Wheel) -> Iterable[ArchivePath]:
    return (m.path for m in wheel.members if is_native(m.magic))
