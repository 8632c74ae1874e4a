"""Writing a wheel archive: untouched members copied raw, changed ones deflated afresh.

:mod:`zipfile` can only write a member by compressing it again; a repair that re-deflates
every member of a 500 MB wheel spends minutes and changes bytes it had no reason to change.
:class:`ZipWriter` writes the zip structures itself (APPNOTE 6.3.10): a raw copy takes the
compressed stream straight from the input archive (located through its local header) with the
CRC and sizes of the input's central directory, and a new member is deflated here. Every
header is built from values alone, never copied, so the output is the same for the same input
whatever tool wrote the input (extra fields, data descriptors and comments are not carried
over). Zip64 records are written where sizes, offsets or the member count need them.
"""

from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from wheelguard.errors import UsageError
from wheelguard.reading.archive import local_payload_offset

__all__ = ["DateTime", "ZipWriter", "dos_date_time", "source_date_epoch"]

DateTime = tuple[int, int, int, int, int, int]

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<4sIQI")
_LOCAL_SIG = b"PK\x03\x04"
_MAX32 = 0xFFFFFFFF
_MAX16 = 0xFFFF
_CHUNK = 1 << 20
_UNIX = 3
_UTF8 = 0x0800
_KEEP_FLAGS = 0x0006
"""Deflate option bits (compression level hints) survive a raw copy; nothing else does."""
_VERSION_FOR_METHOD = {zipfile.ZIP_STORED: 10, zipfile.ZIP_DEFLATED: 20,
                       zipfile.ZIP_BZIP2: 46, zipfile.ZIP_LZMA: 63}
_MIN_DATE: DateTime = (1980, 1, 1, 0, 0, 0)
_MAX_DATE: DateTime = (2107, 12, 31, 23, 59, 58)


def source_date_epoch(env: Mapping[str, str] | None = None) -> DateTime | None:
    """``SOURCE_DATE_EPOCH`` as a zip date (UTC, clipped to what a zip can store), or None.

    The reproducible-builds specification wants a malformed value to stop the build rather
    than be ignored (the output would then not be the reproducible one): anything but decimal
    digits is a :class:`UsageError`. A valid value past what a zip can store (2107) clips.
    """
    value = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise UsageError(f"SOURCE_DATE_EPOCH={shown!r}: want whole seconds since 1970-01-01 "
                         "UTC, as `date +%s` prints them")
    stamp = int(value[:30])  # more digits than this are past any date anyway
    try:
        t = time.gmtime(stamp)
    except (OverflowError, OSError, ValueError):
        return _MAX_DATE
    date: DateTime = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    return min(max(date, _MIN_DATE), _MAX_DATE)


def dos_date_time(date: DateTime) -> tuple[int, int]:
    y, mo, d, h, mi, s = min(max(date, _MIN_DATE), _MAX_DATE)
    return ((y - 1980) << 9) | (mo << 5) | d, (h << 11) | (mi << 5) | (s // 2)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: bytes
    flags: int
    method: int
    date_time: DateTime
    crc: int
    compress_size: int
    file_size: int
    external_attr: int
    offset: int


class ZipWriter:
    """Append members to ``out`` (positioned at its start), then :meth:`close` to finish.

    ``zip64_limit`` is the size at which zip64 fields are used; tests lower it to exercise
    the zip64 path without writing 4 GiB.
    """

    def __init__(self, out: IO[bytes], *, zip64_limit: int = _MAX32) -> None:
        self._out = out
        self._pos = 0
        self._entries: list[_Entry] = []
        self._names: set[bytes] = set()
        self._limit = zip64_limit
        self._closed = False

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)

    def _start(self, name: str) -> bytes:
        if self._closed:
            msg = "archive already closed"
            raise ValueError(msg)
        encoded = name.encode("utf-8")
        if encoded in self._names:
            msg = f"duplicate member {name!r}"
            raise ValueError(msg)
        self._names.add(encoded)
        return encoded

    def _local_header(self, entry: _Entry) -> None:
        zip64 = entry.file_size >= self._limit or entry.compress_size >= self._limit
        extra = struct.pack("<HHQQ", 1, 16, entry.file_size, entry.compress_size) if zip64 \
            else b""
        date, clock = dos_date_time(entry.date_time)
        self._write(_LOCAL.pack(
            _LOCAL_SIG, self._version(entry, zip64), entry.flags, entry.method, clock, date,
            entry.crc, _MAX32 if zip64 else entry.compress_size,
            _MAX32 if zip64 else entry.file_size, len(entry.name), len(extra),
        ))
        self._write(entry.name)
        self._write(extra)

    @staticmethod
    def _version(entry: _Entry, zip64: bool) -> int:
        version = _VERSION_FOR_METHOD.get(entry.method, 20)
        return max(version, 45) if zip64 else version

    def add_bytes(self, name: str, data: bytes, *, date_time: DateTime,
                  external_attr: int = 0o100644 << 16) -> None:
        """A new member, deflated here."""
        encoded = self._start(name)
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        entry = _Entry(
            name=encoded,
            flags=_UTF8 if not name.isascii() else 0,
            method=zipfile.ZIP_DEFLATED,
            date_time=date_time,
            crc=zlib.crc32(data),
            compress_size=len(packed),
            file_size=len(data),
            external_attr=external_attr,
            offset=self._pos,
        )
        self._local_header(entry)
        self._write(packed)
        self._entries.append(entry)

    def copy_raw(self, source: IO[bytes], info: zipfile.ZipInfo, *,
                 date_time: DateTime | None = None) -> None:
        """Copy member ``info`` of the archive open as ``source`` without inflating it.

        The compressed bytes start after the member's *local* header, whose name and extra
        lengths may differ from the central directory's; they are read from it.
        """
        encoded = self._start(info.filename)

        def read_at(offset: int, size: int) -> bytes:
            source.seek(offset)
            return source.read(size)

        try:
            start = local_payload_offset(read_at, info.header_offset, info.orig_filename)
        except ValueError as e:
            msg = f"{info.filename}: {e} at offset {info.header_offset}"
            raise ValueError(msg) from None
        source.seek(start)
        entry = _Entry(
            name=encoded,
            flags=(info.flag_bits & _KEEP_FLAGS) | (_UTF8 if not info.filename.isascii() else 0),
            method=info.compress_type,
            date_time=date_time or info.date_time,
            crc=info.CRC,
            compress_size=info.compress_size,
            file_size=info.file_size,
            external_attr=info.external_attr,
            offset=self._pos,
        )
        self._local_header(entry)
        left = info.compress_size
        while left:
            chunk = source.read(min(left, _CHUNK))
            if not chunk:
                msg = f"{info.filename}: archive ends inside the member"
                raise ValueError(msg)
            self._write(chunk)
            left -= len(chunk)
        self._entries.append(entry)

    def close(self) -> None:
        """Write the central directory and the end records."""
        if self._closed:
            return
        self._closed = True
        start = self._pos
        for e in self._entries:
            big_sizes = e.file_size >= self._limit or e.compress_size >= self._limit
            big_offset = e.offset >= self._limit
            extra = b""
            if big_sizes or big_offset:
                fields = (struct.pack("<QQ", e.file_size, e.compress_size) if big_sizes
                          else b"") + (struct.pack("<Q", e.offset) if big_offset else b"")
                extra = struct.pack("<HH", 1, len(fields)) + fields
            version = self._version(e, big_sizes or big_offset)
            date, clock = dos_date_time(e.date_time)
            self._write(_CENTRAL.pack(
                b"PK\x01\x02", (_UNIX << 8) | version, version, e.flags, e.method, clock, date,
                e.crc, _MAX32 if big_sizes else e.compress_size,
                _MAX32 if big_sizes else e.file_size, len(e.name), len(extra), 0, 0, 0,
                e.external_attr, _MAX32 if big_offset else e.offset,
            ))
            self._write(e.name)
            self._write(extra)
        size = self._pos - start
        count = len(self._entries)
        if count >= _MAX16 or start >= self._limit or size >= self._limit:
            eocd64 = self._pos
            self._write(_EOCD64.pack(b"PK\x06\x06", _EOCD64.size - 12, (_UNIX << 8) | 45, 45,
                                     0, 0, count, count, size, start))
            self._write(_LOCATOR64.pack(b"PK\x06\x07", 0, eocd64, 1))
            self._write(_EOCD.pack(b"PK\x05\x06", 0, 0, _MAX16, _MAX16, _MAX32, _MAX32, 0))
        else:
            self._write(_EOCD.pack(b"PK\x05\x06", 0, 0, count, count, size, start, 0))
        self._out.flush()
