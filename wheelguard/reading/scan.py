"""Scan a wheel archive once into the immutable :class:`~wheelguard.model.Wheel`.

Every member is inflated exactly once: while its bytes are in hand they are hashed (for the
RECORD check), their magic is read, and native ones are parsed. Nothing is written to disk.
A gate that runs on every CI build should cost little more than inflating the wheel once, so
members are read in parallel threads straight from the file (see :class:`RawReader`), and a
large library is never held whole: only the parts of it that its decoder reads are kept
(:mod:`wheelguard.formats.sparse`), so peak memory does not follow the largest member.
docs/benchmarks.md has the numbers.

Why this module is long: the one pass over the members does several jobs at once (hashing,
parsing, Python facts, the sparse images' second reads, RECORD digests in other algorithms),
and splitting the pass would read the members twice.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelguard.errors import InvalidWheel
from wheelguard.formats import HEAD, Image, image_for, is_native, parse_native
from wheelguard.formats.sparse import MissingBytes, MissingPages, PageHasher, SparseImage
from wheelguard.model import ArchivePath, Binary, Member, PythonFacts, RecordEntry, Wheel
from wheelguard.reading.archive import (
    Checkpoint,
    Extent,
    Limits,
    RawReader,
    WheelArchive,
    urlsafe_digest,
)
from wheelguard.reading.distinfo import (
    dist_info_files,
    find_dist_info,
    read_metadata,
    read_record,
    read_wheel_file,
)
from wheelguard.reading.pysource import ModuleFacts, merge_facts, read_module

if TYPE_CHECKING:  # concurrent.futures costs a small wheel's audit more than it reads
    from concurrent.futures import Executor, Future, ThreadPoolExecutor

__all__ = ["MemberFilter", "ProgressFn", "scan_extents", "scan_wheel"]

ProgressFn = Callable[[int], None]
"""Called with a byte count each time that many more member bytes have been read."""
MemberFilter = Callable[[ArchivePath], bool]
"""Which members to read, by path; the others are listed from the central directory only."""



def scan_wheel(
    path: str | Path,
    *,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
    only: MemberFilter | None = None,
) -> Wheel:
    """Open, validate and read a wheel. Raises :class:`InvalidWheel` for anything unsafe.

    With ``only``, members it refuses are not inflated: they appear in :attr:`Wheel.members`
    with their sizes and an empty digest and magic, and nothing of them is parsed. For a
    dependency's wheel read to learn which libraries it ships and what they export (the
    linkage analysis, ``wheelguard advise``), never for the wheel under audit: its RECORD
    check needs every digest.
    """
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
        with _MemberScan(archive, progress, executor, only) as scan:
            metadata_fields, requires = read_metadata(archive, path, dist_info)
            wheel_fields = read_wheel_file(archive, path, dist_info)
            record = read_record(archive, path, dist_info)
            files = dist_info_files(archive, dist_info)
            members, binaries, companions, unreadable, modules = scan.result()
        record_digests = _record_digests(archive, record, members)
    extensions = [b.path for b in binaries
                  if any(s.startswith(("PyInit_", "_PyInit_")) for s in b.exported)]
    sources = [m.path for m in members if m.path.endswith(".py")]
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
        file_size=Path(path).stat().st_size,
        debug_companions=companions,
        python=merge_facts(modules, sources, extensions) if modules else PythonFacts(),
        record_digests=record_digests,
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

_Scanned = tuple[Member, Binary | None, str | None, ModuleFacts | None]
"""A member, and for a native one its parse (or why it could not be parsed), for a Python
module what it says about loading native parts."""


class _Result(NamedTuple):
    members: tuple[Member, ...]
    binaries: tuple[Binary, ...]
    companions: tuple[Binary, ...]
    unreadable: tuple[tuple[ArchivePath, str], ...]
    modules: tuple[ModuleFacts, ...]


class _MemberScan:
    """Every member read once, on worker threads (or a caller's executor) when that pays.

    Started on construction so that the caller can parse metadata meanwhile; :meth:`result`
    waits. Leaving the ``with`` block cancels what has not started and joins the rest.
    """

    def __init__(
        self,
        archive: WheelArchive,
        progress: ProgressFn | None,
        executor: Executor | None,
        only: MemberFilter | None = None,
    ) -> None:
        self._names = archive.names()
        extents = archive.extents()
        self._listed: dict[ArchivePath, _Scanned] = {}
        if only is not None:
            self._listed = {e.path: (_listed(e), None, None, None) for e in extents
                            if not only(e.path)}
            extents = tuple(e for e in extents if e.path not in self._listed)
        self._items = _plan(extents)
        self._progress = progress
        self._reader = RawReader(archive.path)
        self._futures: dict[Future[list[_Scanned]], tuple[Extent, ...]] = {}
        self._own: ThreadPoolExecutor | None = None
        self._report: ProgressFn | None = None
        pool = executor
        if pool is None and (workers := _workers(sum(e.file_size for e in extents))) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._own = pool = ThreadPoolExecutor(workers, thread_name_prefix="wheelguard-scan")
        if pool is None:
            return
        from concurrent.futures import ProcessPoolExecutor

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

    def result(self) -> _Result:
        scanned: dict[ArchivePath, _Scanned] = dict(self._listed)
        if not self._futures:
            for item in self._items:
                for s in scan_extents(
                    self._reader.path, item, reader=self._reader, progress=self._progress
                ):
                    scanned[s[0].path] = s
        else:
            from concurrent.futures import as_completed

            for future in as_completed(self._futures):
                for s in future.result():
                    scanned[s[0].path] = s
                if self._progress is not None and self._report is None:
                    self._progress(sum(e.compress_size for e in self._futures[future]))
        members: list[Member] = []
        binaries: list[Binary] = []
        companions: list[Binary] = []
        unreadable: list[tuple[ArchivePath, str]] = []
        modules: list[ModuleFacts] = []
        for name in self._names:
            member, binary, reason, facts = scanned[name]
            members.append(member)
            if binary is not None:
                # A .dSYM DWARF file is debug data: no loader maps it, so no library check
                # may count it (it shares its library's UUID and symbols).
                (companions if binary.is_debug_companion else binaries).append(binary)
            if reason is not None:
                unreadable.append((name, reason))
            if facts is not None:
                modules.append(facts)
        binaries.sort(key=lambda b: b.path)
        companions.sort(key=lambda b: b.path)
        return _Result(tuple(members), tuple(binaries), tuple(companions), tuple(unreadable),
                       tuple(modules))


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
    image: SparseImage | None = None
    held: list[bytes] | None = []
    """Chunks kept while the magic is unknown."""
    checkpoints: list[Checkpoint] = []
    pos = reported = 0
    for chunk in reader.iter_chunks(ext, checkpoints):
        hasher.update(chunk)
        if image is not None:
            image.write(pos, chunk)
        elif held is not None:
            held.append(chunk)
            if len(head) < HEAD:
                head = (head + chunk)[:HEAD]
                if len(head) == HEAD or pos + len(chunk) >= ext.file_size:
                    image = image_for(head, ext.file_size)
                    if image is not None:
                        at = 0
                        for piece in held:
                            image.write(at, piece)
                            at += len(piece)
                    held = None
        pos += len(chunk)
        if progress is not None:
            done = ext.compress_size * pos // max(ext.file_size, 1)
            progress(done - reported)
            reported = done
    digest = hasher.digest()
    if image is None:
        return _scanned(ext, head, digest, b"".join(held) if held else None)
    with image:
        binary, reason = _parse_image(reader, ext, checkpoints, image)
    return _member(ext, head, digest), binary, reason, None


_ROUNDS = 8
"""Reads of missing bytes before a member is held whole (a decoder that keeps asking for
bytes in new places: a layout nothing real has)."""


def _parse_image(
    reader: RawReader, ext: Extent, checkpoints: list[Checkpoint], image: SparseImage
) -> tuple[Binary | None, str | None]:
    """Parse a streamed member from its sparse image, reading again what the image lacks."""
    for _ in range(4 * _ROUNDS):
        _complete(reader, ext, checkpoints, image)
        try:
            return _native(ext.path, image)
        except MissingBytes as e:
            image.need(e.start, e.stop)
        except MissingPages as e:
            image.pages[(e.base, e.algorithm, e.page)] = _page_digests(
                reader, ext, checkpoints, PageHasher(e.base, e.size, e.algorithm, e.page))
    image.need(0, image.size)
    _complete(reader, ext, checkpoints, image)
    try:
        return _native(ext.path, image)
    except (MissingBytes, MissingPages) as e:  # cannot happen with every byte kept
        return None, str(e)


def _complete(
    reader: RawReader, ext: Extent, checkpoints: list[Checkpoint], image: SparseImage
) -> None:
    """Read what the image's decoder needs and the stream's pass did not keep. A format may
    learn more of what it needs from what it gets (ELF: its section headers), so ask again."""
    for _ in range(_ROUNDS):
        missing = image.missing()
        if not missing:
            return
        _refill(reader, ext, checkpoints, image, missing)
    image.need(0, image.size)
    _refill(reader, ext, checkpoints, image, image.missing())


def _refill(
    reader: RawReader,
    ext: Extent,
    checkpoints: list[Checkpoint],
    image: SparseImage,
    ranges: list[tuple[int, int]],
) -> None:
    """Inflate ``ranges`` of the member again, each from the nearest checkpoint before it."""
    pending = sorted(ranges)
    while pending:
        first = pending[0]
        stream = reader.resume(ext, checkpoints, first[0])
        try:
            for at, chunk in stream:
                end = at + len(chunk)
                view = memoryview(chunk)
                for a, b in pending:
                    if a >= end:
                        break
                    lo, hi = max(a, at), min(b, end)
                    if lo < hi:
                        image.fill(lo, view[lo - at : hi - at])
                pending = [(max(a, end), b) for a, b in pending if b > end]
                if not pending or any(end < c.out <= pending[0][0] for c in checkpoints):
                    break  # done, or a later checkpoint is nearer what is left
        finally:
            stream.close()
        if pending and pending[0] == first:
            raise InvalidWheel(reader.path, f"member {ext.path!r} is corrupt (it ends early)")


def _page_digests(
    reader: RawReader, ext: Extent, checkpoints: list[Checkpoint], hasher: PageHasher
) -> list[bytes]:
    """Stream a range of the member again to take page digests the first pass did not."""
    stream = reader.resume(ext, checkpoints, hasher.base)
    try:
        for at, chunk in stream:
            hasher.feed(at, memoryview(chunk))
            if at + len(chunk) >= hasher.stop:
                break
    finally:
        stream.close()
    return hasher.digests


def _listed(ext: Extent) -> Member:
    """A member known from the central directory only (not read: no digest, no magic)."""
    return Member(path=ext.path, size=ext.file_size, compressed_size=ext.compress_size,
                  sha256="", magic=b"")


def _member(ext: Extent, head: bytes, digest: bytes) -> Member:
    return Member(
        path=ext.path,
        size=ext.file_size,
        compressed_size=ext.compress_size,
        sha256=urlsafe_digest(digest),
        magic=bytes(head[:HEAD]),
    )


def _scanned(ext: Extent, head: bytes, digest: bytes, data: Image | None) -> _Scanned:
    member = _member(ext, head, digest)
    if isinstance(data, bytes) and ext.path.endswith(".py"):
        return member, None, None, read_module(ext.path, data)
    if data is None or not is_native(member.magic):
        return member, None, None, None
    binary, reason = _native(ext.path, data)
    return member, binary, reason, None


def _native(path: ArchivePath, data: Image) -> tuple[Binary | None, str | None]:
    """A native member's parse, or why it could not be parsed (a sparse image's missing
    bytes are not a reason: they propagate, to be read)."""
    try:
        return parse_native(path, data), None
    except (MissingBytes, MissingPages):
        raise
    except ValueError as e:
        # formats.elf.PartialElf (not imported: that would load pyelftools for every wheel):
        # the loader's facts read, the sections did not; both are reported.
        partial = getattr(e, "binary", None)
        if isinstance(partial, Binary):
            return partial, str(e)
        return None, str(e)


_STRONG = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512",
                     "blake2b", "blake2s"})
"""hashlib algorithms at least as strong as sha256: what RECORD may name (PEP 376 forbids
md5 and sha1; installers accept any stronger algorithm hashlib guarantees)."""


def _record_digests(
    archive: WheelArchive, record: tuple[RecordEntry, ...], members: tuple[Member, ...]
) -> dict[str, str]:
    """Digests in RECORD's own algorithm for the (rare) members it hashes with something other
    than sha256: those members are read a second time, the rest never are."""
    present = {m.path for m in members}
    out: dict[str, str] = {}
    for entry in record:
        algo = (entry.hash or "").partition("=")[0]
        if algo == "sha256" or algo not in _STRONG or entry.path not in present:
            continue
        hasher = hashlib.new(algo)
        for chunk in archive.iter_chunks(entry.path):
            hasher.update(chunk)
        out[entry.path] = f"{algo}={urlsafe_digest(hasher.digest())}"
    return out


def iter_native_names(wheel: Wheel) -> Iterable[ArchivePath]:
    return (m.path for m in wheel.members if is_native(m.magic))
