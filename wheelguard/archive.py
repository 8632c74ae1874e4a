"""Reading wheel archives without extracting them, and refusing hostile ones early.

A wheel is a zip; every safety question (path traversal, symlinks, encryption, bombs) is
answered from the central directory before a single member is inflated, so a hostile file costs
nothing but its directory to reject.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from zipfile import ZipInfo

from .errors import InvalidWheel
from .model import ArchivePath

__all__ = [
    "Limits",
    "WheelArchive",
    "record_hash",
]

_CHUNK = 1 << 20
# What a damaged member raises while inflating: bad CRC, truncated stream, bad deflate data.
_CORRUPT = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that separate a large real wheel from a zip bomb.

    The largest real wheels (torch, tensorflow) hold single members of a few GB and compress
    native code about 2-5x; a ratio of several hundred only comes from crafted input or from
    huge runs of zeros no library needs.
    """

    max_member_size: int = 8 << 30
    max_total_size: int = 32 << 30
    max_ratio: float = 200.0
    ratio_floor: int = 8 << 20
    """Members smaller than this are not held to ``max_ratio`` (tiny text compresses well)."""
    max_members: int = 500_000


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
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise InvalidWheel(self.path, "no such file") from None
        except IsADirectoryError:
            raise InvalidWheel(self.path, "is a directory, not a wheel") from None
        except PermissionError:
            raise InvalidWheel(self.path, "permission denied") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise InvalidWheel(self.path, f"not a zip archive ({e})") from None
        try:
            self._infos = self._validate()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def zipfile(self) -> zipfile.ZipFile:
        """The underlying zip, for raw member copies on repair."""
        return self._zip

    def _validate(self) -> dict[ArchivePath, ZipInfo]:
        infos: dict[ArchivePath, ZipInfo] = {}
        entries = self._zip.infolist()
        if len(entries) > self.limits.max_members:
            raise InvalidWheel(self.path, f"{len(entries)} members exceed the limit")
        total = 0
        for info in entries:
            name = info.filename
            if info.is_dir():
                continue  # directory entries carry no payload; some tools write them
            path = _checked_path(self.path, name)
            if path in infos:
                raise InvalidWheel(self.path, f"duplicate member name {name!r}")
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise InvalidWheel(self.path, f"member {name!r} is a symlink")
            if info.flag_bits & 0x1:
                raise InvalidWheel(self.path, f"member {name!r} is encrypted")
            if info.file_size > self.limits.max_member_size:
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} declares {info.file_size} bytes, over the "
                    f"{self.limits.max_member_size}-byte limit (zip bomb guard)",
                )
            if (
                info.file_size > self.limits.ratio_floor
                and info.file_size > self.limits.max_ratio * max(info.compress_size, 1)
            ):
                raise InvalidWheel(
                    self.path,
                    f"member {name!r} inflates {info.compress_size} to {info.file_size} bytes "
                    f"(ratio over {self.limits.max_ratio:.0f}: zip bomb guard)",
                )
            total += info.file_size
            infos[path] = info
        if total > self.limits.max_total_size:
            raise InvalidWheel(
                self.path, f"members total {total} bytes, over the limit (zip bomb guard)"
            )
        return infos

    def names(self) -> tuple[ArchivePath, ...]:
        return tuple(self._infos)

    def info(self, path: str) -> ZipInfo:
        try:
            return self._infos[ArchivePath(path)]
        except KeyError:
            raise InvalidWheel(self.path, f"no member {path!r}") from None

    def has(self, path: str) -> bool:
        return path in self._infos

    def open(self, path: str) -> IO[bytes]:
        return self._zip.open(self.info(path))

    def read(self, path: str) -> bytes:
        """The whole member. Size is bounded by the limits checked at open."""
        try:
            with self.open(path) as f:
                return f.read()
        except _CORRUPT as e:
            raise InvalidWheel(self.path, f"member {path!r} is corrupt ({e})") from None

    def iter_chunks(self, path: str) -> Iterator[bytes]:
        """Stream a member; for hashing large members without holding them."""
        try:
            with self.open(path) as f:
                while chunk := f.read(_CHUNK):
                    yield chunk
        except _CORRUPT as e:
            raise InvalidWheel(self.path, f"member {path!r} is corrupt ({e})") from None


def _checked_path(wheel: str, name: str) -> ArchivePath:
    """Refuse names an installer would place outside its target, and odd encodings of them."""
    if not name or "\x00" in name:
        raise InvalidWheel(wheel, f"member name {name!r} is empty or holds NUL")
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
    return ArchivePath(normal)
