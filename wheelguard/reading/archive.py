"""Reading wheel archives without extracting them, and refusing hostile ones early.

A wheel is a zip; every safety question (path traversal, symlinks, encryption, bombs) is
answered from the central directory before a single member is inflated, so a hostile file costs
nothing but its directory to reject.

The raw member reads (positional reads, bounded inflating, checkpoints to resume a member's
stream) live in :mod:`wheelguard.reading.raw`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from zipfile import ZipInfo

from wheelguard.errors import InvalidWheel
from wheelguard.model import ArchivePath
from wheelguard.reading.layout import LayoutError, check_layout, raw_name, read_end
from wheelguard.reading.raw import (
    CHECKPOINT_EVERY,
    INFLATER,
    STREAM_OUT,
    Checkpoint,
    Extent,
    RawReader,
    local_payload_offset,
    open_regular,
)

__all__ = [
    "CHECKPOINT_EVERY",
    "INFLATER",
    "LIMIT_KEYS",
    "STREAM_OUT",
    "Checkpoint",
    "Extent",
    "Limits",
    "RawReader",
    "WheelArchive",
    "limits_from",
    "local_payload_offset",
    "open_regular",
    "record_hash",
    "urlsafe_digest",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that separate a large real wheel from a zip bomb.

    The largest real wheels (torch, tensorflow) hold single members of a few GB and compress
    native code about 2-5x; a ratio of several hundred only comes from crafted input or from
    huge runs of zeros no library needs.
    """

    max_member_size: int = 4 << 30
    """The largest member of the corpus is 749 MB (libcublasLt.so.12)."""
    max_total_size: int = 8 << 30
    """The largest inflated total of the corpus is 1.91 GB (flashinfer-cubin); torch 1.14 GB."""
    max_ratio: float = 200.0
    ratio_floor: int = 8 << 20
    """Members smaller than this are not held to ``max_ratio`` (tiny text compresses well;
    real members under it reach 234)."""
    max_archive_ratio: float = 40.0
    """Inflated bytes of all members over the file's size. Published wheels stay under 7
    (flashinfer-python 7.0, torch 2.1, flashinfer-cubin 4.2: docs/reliability.md); members
    just under ``ratio_floor`` each could otherwise add up to a bomb."""
    archive_ratio_floor: int = 256 << 20
    """Archives inflating to less than this are not held to ``max_archive_ratio``."""
    max_members: int = 100_000
    """flashinfer-cubin, the largest member count of the corpus, has 16,017."""
    max_central_size: int = 64 << 20
    """Bytes of central directory read into memory at open (torch's is 2 MB)."""
    max_name_bytes: int = 1024
    """A member name longer than this is refused (the corpus's longest is 302 bytes; Linux
    refuses paths over 4,096 and one component over 255)."""


LIMIT_KEYS: dict[str, str] = {
    "max-member-size": "size",
    "max-total-size": "size",
    "max-ratio": "ratio",
    "ratio-floor": "size",
    "max-archive-ratio": "ratio",
    "archive-ratio-floor": "size",
    "max-members": "count",
    "max-central-size": "size",
    "max-name-bytes": "count",
}
"""The :class:`Limits` a user may set (``[tool.wheelguard.archive-limits]``, ``--archive-limit``),
in the table's spelling, with the kind of value each takes."""


def limits_from(values: Mapping[str, object]) -> Limits:
    """:class:`Limits` with ``values`` (table spelling) over the defaults. ValueError names the
    key and what is wrong: an unknown key, or a value that is not a positive size, count or
    ratio. Sizes take units ("16GB", "512MiB") or bytes."""
    from wheelguard.util.units import parse_size

    changes: dict[str, int | float] = {}
    for key, value in values.items():
        kind = LIMIT_KEYS.get(key)
        if kind is None:
            raise ValueError(f"unknown archive limit {key!r} (known: {', '.join(LIMIT_KEYS)})")
        number: int | float
        try:
            if isinstance(value, bool):
                raise ValueError
            if kind == "ratio" and isinstance(value, int | float | str):
                number = float(value)
            elif kind == "size" and isinstance(value, str):
                number = parse_size(value)
            elif kind != "ratio" and isinstance(value, int | str):
                number = int(value)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"{key}: {value!r} is not a {kind}") from None
        if not number > 0:
            raise ValueError(f"{key}: must be positive, not {value!r}")
        changes[key.replace("-", "_")] = number
    return replace(Limits(), **changes)  # type: ignore[arg-type]


def _key(key: str) -> str:
    """Where a refusal by one of the limits says how to move it (a real wheel that outgrew a
    default must not need a code change)."""
    return f"; --archive-limit {key}=... or [tool.wheelguard.archive-limits] moves it"


def record_hash(data: bytes) -> str:
    """``sha256=<urlsafe b64 without padding>``, the one form RECORD uses for a digest."""
    return "sha256=" + urlsafe_digest(hashlib.sha256(data).digest())


def urlsafe_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class WheelArchive:
    """An open wheel: validated central directory, members read on demand.

    Use as a context manager; it owns the open file and nothing outlives it.
    """

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = str(path)
        self.limits = limits or Limits()
        fd = open_regular(self.path)
        self._reader = RawReader(self.path, fd=fd)
        try:
            self._zip = self._open_zip(fd)
        except BaseException:
            self._reader.close()
            raise
        try:
            self._infos = self._validate()
        except BaseException:
            self.close()
            raise
        self._extent_list = self._make_extents()
        self._extents = {e.path: e for e in self._extent_list}

    def _open_zip(self, fd: int) -> zipfile.ZipFile:
        """zipfile over the same open file, after the end record has been checked: its size
        bounds how much central directory zipfile reads into memory."""
        size = os.fstat(fd).st_size
        try:
            end = read_end(self._reader.pread, size)
        except LayoutError as e:
            raise InvalidWheel(self.path, f"not a zip archive: {e}") from None
        if end.entries > self.limits.max_members:
            raise InvalidWheel(self.path, f"{end.entries} members exceed the limit "
                               f"({self.limits.max_members}){_key('max-members')}")
        if end.cd_size > self.limits.max_central_size:
            raise InvalidWheel(self.path, f"a central directory of {end.cd_size} bytes exceeds "
                               f"the limit ({self.limits.max_central_size})"
                               f"{_key('max-central-size')}")
        self._end = end
        # closefd=False: the RawReader owns the descriptor.
        self._stream = stream = os.fdopen(fd, "rb", closefd=False)
        try:
            return zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as e:
            stream.close()
            raise InvalidWheel(self.path, f"not a zip archive ({e})") from None
        except NotImplementedError as e:
            stream.close()
            raise InvalidWheel(self.path, f"uses a zip feature zipfile cannot read ({e})") \
                from None

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
            self._stream.close()
        self._reader.close()

    @property
    def zipfile(self) -> zipfile.ZipFile:
        """The underlying zip, for raw member copies on repair."""
        return self._zip

    def _validate(self) -> dict[ArchivePath, ZipInfo]:
        infos: dict[ArchivePath, ZipInfo] = {}
        entries = self._zip.infolist()
        limits = self.limits
        if len(entries) > limits.max_members:
            raise InvalidWheel(self.path, f"{len(entries)} members exceed the limit "
                               f"({limits.max_members}){_key('max-members')}")
        total = 0
        directories: list[ArchivePath] = []
        for info in entries:
            name = info.filename
            # Checked before the directory skip: an installer creates directories too, so a
            # "../x/" entry escapes the install root as surely as a file does.
            path = _checked_path(self.path, info, limits)
            _check_mode(self.path, info)
            if info.flag_bits & 0x1:
                raise InvalidWheel(self.path, f"member {name!r} is encrypted")
            if info.compress_type not in _METHODS:
                raise InvalidWheel(
                    self.path, f"member {name!r} uses compression method {info.compress_type}, "
                    "which wheels do not use (stored, deflate, bzip2 and lzma are read)")
            if info.is_dir():
                if info.file_size:
                    raise InvalidWheel(self.path, f"directory entry {name!r} holds "
                                       f"{info.file_size} bytes of data")
                directories.append(path)
                continue  # directory entries carry no payload; some tools write them
            if path in infos:
                raise InvalidWheel(self.path, f"duplicate member name {name!r}")
            if info.file_size > limits.max_member_size:
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes, over the "
                    f"{limits.max_member_size}-byte limit (zip bomb guard)"
                    f"{_key('max-member-size')}",
                )
            if (
                info.file_size > limits.ratio_floor
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} inflates {info.compress_size} to {info.file_size} bytes "
                    f"(ratio over {limits.max_ratio:.0f}: zip bomb guard){_key('max-ratio')}",
                )
            total += info.file_size
            infos[path] = info
        for d in directories:
            if d in infos:
                raise InvalidWheel(self.path, f"directory entry {d + '/'!r} names the file "
                                   f"{d!r} too")
        if total > limits.max_total_size:
            raise InvalidWheel(
                self.path, f"members total {total} bytes, over the limit of "
                f"{limits.max_total_size} (zip bomb guard){_key('max-total-size')}")
        size = os.fstat(self._reader.fileno()).st_size
        if total > limits.archive_ratio_floor and total > limits.max_archive_ratio * size:
            raise InvalidWheel(
                self.path, f"members inflate to {total} bytes from a {size}-byte file (ratio "
                f"over {limits.max_archive_ratio:.0f}: zip bomb guard)"
                f"{_key('max-archive-ratio')}")
        try:
            # Every local header against its central entry, and the members tiling the file:
            # overlapping members (one stream inflated many times) end here, before inflating.
            check_layout(self._reader.pread, self._end, entries, int(self._zip.start_dir))
        except LayoutError as e:
            raise InvalidWheel(self.path, str(e)) from None
        return infos

    def names(self) -> tuple[ArchivePath, ...]:
        return tuple(self._infos)

    def extents(self) -> tuple[Extent, ...]:
        """Every member's place in the file, in file order (what :class:`RawReader` reads)."""
        return self._extent_list

    def _make_extents(self) -> tuple[Extent, ...]:
        infos = sorted(self._infos.items(), key=lambda kv: kv[1].header_offset)
        directory = int(getattr(self._zip, "start_dir", 0)) or Path(self.path).stat().st_size
        ends = [info.header_offset for _, info in infos[1:]] + [directory]
        return tuple(
            Extent(
                path=path,
                stored_name=info.orig_filename,
                offset=info.header_offset,
                end=max(end, info.header_offset),
                compress_size=info.compress_size,
                file_size=info.file_size,
                crc=info.CRC,
                method=info.compress_type,
                flags=info.flag_bits,
            )
            for (path, info), end in zip(infos, ends, strict=True)
        )

    def info(self, path: str) -> ZipInfo:
        try:
            return self._infos[ArchivePath(path)]
        except KeyError:
            raise InvalidWheel(self.path, f"no member {path!r}") from None

    def has(self, path: str) -> bool:
        return path in self._infos

    def read(self, path: str) -> bytes:
        """The whole member, inflated within its declared size (checked at open)."""
        return self._reader.read(self._extent(path))

    def iter_chunks(self, path: str) -> Iterator[bytes]:
        """Stream a member; for hashing large members without holding them."""
        return self._reader.iter_chunks(self._extent(path))

    def _extent(self, path: str) -> Extent:
        try:
            return self._extents[ArchivePath(path)]
        except KeyError:
            raise InvalidWheel(self.path, f"no member {path!r}") from None


_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                      zipfile.ZIP_LZMA})
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                  "\u2066\u2067\u2068\u2069")
"""Bidirectional controls: they make a name display as another ("trojan source")."""
_TYPES = {stat.S_IFLNK: "a symlink", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}
_SYSTEMS = {0: "MS-DOS", 3: "Unix", 10: "Windows NTFS", 19: "OS X"}


def _check_mode(wheel: str, info: ZipInfo) -> None:
    """Refuse members whose mode makes them anything but a file or a directory.

    The mode's file type is read whatever system wrote the entry: pip and zipfile-based
    unpackers look at ``external_attr >> 16`` without asking, and a repair that copies the
    entry into a Unix archive would turn a symlink mode from an MS-DOS entry into a real one.
    """
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if not kind or kind == stat.S_IFREG or (kind == stat.S_IFDIR and info.is_dir()):
        return
    what = _TYPES.get(kind, "a directory" if kind == stat.S_IFDIR else f"file type {kind:#o}")
    system = _SYSTEMS.get(info.create_system, f"system {info.create_system}")
    raise InvalidWheel(wheel, f"member {info.filename!r} is {what} (mode {mode:#o}, written "
                       f"by {system})")


def _checked_path(wheel: str, info: ZipInfo, limits: Limits) -> ArchivePath:
    """Refuse names an installer would place outside its target, odd encodings of them, and
    names that cannot be recorded in RECORD or shown as they are."""
    name = info.filename
    # zipfile cuts a name at its first NUL; the original keeps it.
    if not name or "\x00" in info.orig_filename:
        raise InvalidWheel(wheel, f"member name {info.orig_filename!r} is empty or holds NUL")
    if not (info.flag_bits & 0x800) and not raw_name(info).isascii():
        raise InvalidWheel(wheel, f"member name {name!r} is not ASCII and not marked UTF-8 "
                           "(zip's legacy cp437 names decode differently in every tool)")
    # isprintable() is False for every character looked for (and for some allowed ones, such
    # as a no-break space): the per-character look runs only then.
    bad = None if name.isprintable() else next(
        (c for c in name if c in _BIDI or unicodedata.category(c) in _CONTROL), None)
    if bad is not None:
        raise InvalidWheel(wheel, f"member name {name!r} holds the control character "
                           f"U+{ord(bad):04X} (RECORD and terminals cannot show it as it is)")
    if "\\" in name:
        raise InvalidWheel(wheel, f"member name {name!r} uses backslashes")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidWheel(wheel, f"member name {name!r} is an absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise InvalidWheel(wheel, f"member name {name!r} escapes the install root ('..')")
    normal = posixpath.normpath(name)
    if normal != name.rstrip("/"):
        raise InvalidWheel(wheel, f"member name {name!r} is not in normal form")
    encoded = len(name.encode("utf-8"))
    if encoded > limits.max_name_bytes:
        raise InvalidWheel(wheel, f"member name {name[:60]!r}... is {encoded} bytes long, over "
                           f"the {limits.max_name_bytes}-byte limit{_key('max-name-bytes')}")
    longest = max(parts, key=lambda p: len(p.encode("utf-8"))) if encoded > _NAME_MAX else ""
    if len(longest.encode("utf-8")) > _NAME_MAX:
        raise InvalidWheel(wheel, f"member name {name[:60]!r}... has a component of "
                           f"{len(longest.encode('utf-8'))} bytes (filesystems allow "
                           f"{_NAME_MAX})")
    return ArchivePath(normal)


_CONTROL = frozenset({"Cc", "Zl", "Zp"})
_NAME_MAX = 255
