"""Scan a wheel archive once into the immutable :class:`~wheelguard.model.Wheel`.

Every member is inflated exactly once: while its bytes are in hand they are hashed (for the
RECORD check), their magic is read, and native ones are parsed. Nothing is written to disk.
A gate that runs on every CI build should cost little more than inflating the wheel once, so
members are read in parallel threads straight from the file (see :class:`RawReader`), and a
large library is never held whole: only the parts of it that the ELF adapter reads are kept.
docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelguard.errors import InvalidWheel
from wheelguard.formats import elf, macho
from wheelguard.model import ArchivePath, Binary, Member, RecordEntry, Wheel
from wheelguard.reading.archive import Extent, Limits, RawReader, WheelArchive, urlsafe_digest

__all__ = ["Image", "ProgressFn", "is_native", "parse_native", "scan_extents", "scan_wheel"]

ProgressFn = Callable[[int], None]
"""Called with a byte count each time that many more member bytes have been read."""

Image = bytes | mmap.mmap
"""A native member's bytes: whole, or a sparse image of a large ELF (see :class:`_ElfImage`)."""

_HEAD = 8


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
    if not Path(path).exists():
        # Before the name: "no such file" is the useful answer for a mistyped path.
        raise InvalidWheel(path, "no such file")
    try:
        name, version, build_tag, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as e:
        raise InvalidWheel(path, f"not a wheel file name ({e})") from None
    with WheelArchive(path, limits) as archive:
        dist_info = _find_dist_info(archive, path)
        # The members start streaming in worker threads while this thread parses metadata.
        with _MemberScan(archive, progress, executor) as scan:
            metadata_fields, requires = _read_metadata(archive, path, dist_info)
            wheel_fields = _read_wheel_file(archive, path, dist_info)
            record = _read_record(archive, path, dist_info)
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
            # packaging's message draws a caret under the error on extra lines; keep one.
            msg = f"METADATA has an invalid Requires-Dist {text!r} ({str(e).splitlines()[0]})"
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
    image: _ElfImage | None = None
    held: list[bytes] | None = []
    """Chunks kept while the magic is unknown, then only for Mach-O (lief wants all bytes)."""
    pos = reported = 0
    for chunk in reader.iter_chunks(ext):
        hasher.update(chunk)
        if image is not None:
            image.write(pos, chunk)
        elif held is not None:
            held.append(chunk)
            if len(head) < _HEAD:
                head = (head + chunk)[:_HEAD]
                if len(head) == _HEAD or pos + len(chunk) >= ext.file_size:
                    if elf.is_elf(head):
                        image = _ElfImage(ext.file_size)
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
        magic=bytes(head[:_HEAD]),
    )
    if data is None or not is_native(member.magic):
        return member, None, None
    try:
        return member, parse_native(ext.path, data), None
    except ValueError as e:
        return member, None, str(e)


class _ElfImage:
    """A large ELF member laid out at its file offsets, less its executable segments.

    The adapter reads headers, the dynamic section, symbol and version tables, notes and section
    names; none of them lies in an executable ``PT_LOAD`` (machine code, most of a library).
    The image is a private anonymous mapping: pages never written stay unallocated, so a 72 MB
    library costs about the 20 MB that is kept. What is dropped is decided from the program
    headers in the first chunk and checked against the section headers at the end; a layout
    that fails the check (code and tables mixed) is read again whole by the caller.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        self.dropped: list[tuple[int, int]] | None = None
        self.header: _ElfHeader | None = None

    def __enter__(self) -> _ElfImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.buffer.close()

    def write(self, pos: int, chunk: bytes) -> None:
        end = pos + len(chunk)
        if self.dropped is None:
            self.buffer[pos:end] = chunk
            self.header = _ElfHeader.parse(self.buffer, end)
            self.dropped = self.header.droppable(self.buffer, end) if self.header else []
            return
        view = memoryview(chunk)
        for start, stop in _subtract(pos, end, self.dropped):
            self.buffer[start:stop] = view[start - pos : stop - pos]

    def complete(self) -> bool:
        """True when no section the adapter may read intersects a dropped range."""
        if not self.dropped:
            return True
        header = self.header
        table_end = header.shoff + header.shnum * header.shentsize if header else 0
        if header is None or header.shnum == 0 or table_end > self.size:
            return False
        for i in range(header.shnum):
            sh_type, sh_flags, offset, size = header.section(self.buffer, i)
            if sh_type == _SHT_NOBITS or size == 0:
                continue
            readable = sh_type not in _CODE_SECTIONS or sh_flags & _SHF_COMPRESSED
            whole = [(offset, offset + size)]
            if readable and _subtract(offset, offset + size, self.dropped) != whole:
                return False
        return True


_PT_LOAD = 1
_PF_X = 1
_SHT_NOBITS = 8
_SHF_COMPRESSED = 0x800
_CODE_SECTIONS = frozenset({1, 14, 15, 16})
"""PROGBITS, INIT_ARRAY, FINI_ARRAY, PREINIT_ARRAY: section types the adapter never reads."""
_MIN_DROP = 1 << 20
"""Ranges smaller than this are kept: not worth a split write."""


@dataclass(frozen=True, slots=True)
class _ElfHeader:
    """The few ELF header fields that place the program and section header tables."""

    end: str
    is64: bool
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int

    @staticmethod
    def parse(buf: mmap.mmap, available: int) -> _ElfHeader | None:
        if available < 64 or buf[4] not in (1, 2) or buf[5] not in (1, 2):
            return None
        end = "<" if buf[5] == 1 else ">"
        is64 = buf[4] == 2
        if is64:
            phoff, shoff = struct.unpack_from(end + "QQ", buf, 32)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "4H", buf, 54)
        else:
            phoff, shoff = struct.unpack_from(end + "II", buf, 28)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "4H", buf, 42)
        if phentsize < (56 if is64 else 32) or (shnum and shentsize < (64 if is64 else 40)):
            return None
        return _ElfHeader(end, is64, phoff, phentsize, phnum, shoff, shentsize, shnum)

    def segment(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int]:
        """(p_type, p_flags, p_offset, p_filesz) of program header ``i``."""
        at = self.phoff + i * self.phentsize
        if self.is64:
            fields = struct.unpack_from(self.end + "IIQQQQ", buf, at)
            p_type, flags, offset, _va, _pa, filesz = fields
        else:
            p_type, offset, _va, _pa, filesz, _mem, flags = struct.unpack_from(
                self.end + "7I", buf, at
            )
        return int(p_type), int(flags), int(offset), int(filesz)

    def section(self, buf: mmap.mmap, i: int) -> tuple[int, int, int, int]:
        """(sh_type, sh_flags, sh_offset, sh_size) of section header ``i``."""
        fmt = self.end + ("IIQQQQ" if self.is64 else "6I")
        _name, sh_type, flags, _addr, offset, size = struct.unpack_from(
            fmt, buf, self.shoff + i * self.shentsize
        )
        return int(sh_type), int(flags), int(offset), int(size)

    def droppable(self, buf: mmap.mmap, available: int) -> list[tuple[int, int]]:
        """File ranges of executable ``PT_LOAD`` segments, less anything else a header names."""
        if self.phnum == 0 or self.phoff + self.phnum * self.phentsize > available:
            return []
        code: list[tuple[int, int]] = []
        keep = [(0, self.phoff + self.phnum * self.phentsize)]
        if self.shoff:
            keep.append((self.shoff, self.shoff + self.shnum * self.shentsize))
        for i in range(self.phnum):
            p_type, flags, offset, filesz = self.segment(buf, i)
            if p_type == _PT_LOAD and flags & _PF_X and offset > 0:
                code.append((offset, offset + filesz))
            else:
                keep.append((offset, offset + filesz))
        dropped = [piece for a, b in code for piece in _subtract(a, b, keep)]
        return [(a, b) for a, b in dropped if b - a >= _MIN_DROP]


def _subtract(start: int, stop: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, stop)`` outside every range in ``ranges``."""
    pieces = [(start, stop)]
    for a, b in ranges:
        rest: list[tuple[int, int]] = []
        for s, e in pieces:
            if b <= s or a >= e:
                rest.append((s, e))
                continue
            if s < a:
                rest.append((s, a))
            if b < e:
                rest.append((b, e))
        pieces = rest
    return pieces


def parse_native(name: ArchivePath, data: Image) -> Binary | None:
    """Dispatch on magic; a module-level function so a process pool can pickle it."""
    head = bytes(data[:_HEAD])
    if elf.is_elf(head):
        return elf.parse_elf(name, data)
    if macho.is_macho(head) and isinstance(data, bytes):
        return macho.parse_macho(name, data)
    return None


def iter_native_names(wheel: Wheel) -> Iterable[ArchivePath]:
    return (m.path for m in wheel.members if is_native(m.magic))
