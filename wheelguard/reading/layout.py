"""The zip's byte layout checked against itself before anything is inflated.

:mod:`zipfile` trusts the central directory: it tolerates bytes before the first member
(a self-extractor's stub), after the end record and between members, and never compares a
central entry with its local header until the member is opened. Each tolerance is a way to
hide something: two central entries sharing one compressed stream (the "overlapping" zip bomb,
where 4,000 entries of 8 MB each come out of one 442 KB file), a member the central directory
does not list, a local header that says other sizes than the central one (and so another
file to a streaming unzipper). A wheel written by any real tool is one member after another
from offset 0, the central directory right after the last one and the end record last; the
59 published wheels of the corpus are exactly that. So that is what is accepted:

* the end-of-central-directory record ends the file, its counts and offsets agree with the
  central directory zipfile read, and the zip64 records (when present) sit right before it;
* every local header agrees with its central entry (signature, name bytes, method, flags,
  CRC and sizes, or a data descriptor that does);
* the members tile the file from offset 0 to the central directory without gaps or overlaps.

The data offset of each member is a by-product; :class:`~wheelguard.reading.archive.Extent`
users still read it through :func:`~wheelguard.reading.archive.local_payload_offset`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zipfile import ZipInfo

__all__ = ["MAX_VERSION", "EndRecord", "LayoutError", "check_layout", "raw_name", "read_end"]

ReadAt = Callable[[int, int], bytes]

_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sIQI")
_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_EOCD64_SIG = b"PK\x06\x06"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_DESCRIPTOR_SIG = b"PK\x07\x08"
_MAX32 = 0xFFFFFFFF
_MAX_COMMENT = 0xFFFF
_ZIP64_EXTRA = 0x0001

_ENCRYPTED = 0x0001
_DESCRIPTOR = 0x0008
_PATCHED = 0x0020
_STRONG = 0x0040
_MASKED = 0x2000
_COMPARED_FLAGS = _ENCRYPTED | _DESCRIPTOR | _PATCHED | _STRONG | _MASKED
_REFUSED_FLAGS = {_PATCHED: "compressed patched data (flag bit 5)",
                  _STRONG: "strong encryption (flag bit 6)",
                  _MASKED: "a masked local header (flag bit 13)"}

MAX_VERSION = 63
"""The highest "version needed to extract" zipfile (and so pip and installer) can read: 6.3."""


class LayoutError(ValueError):
    """The archive's structure contradicts itself; the message names the member."""


def raw_name(info: ZipInfo) -> bytes:
    """The name's bytes as the central directory stores them (zipfile keeps them decoded)."""
    name = info.orig_filename
    if name.isascii():
        return name.encode("ascii")
    return name.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape")


@dataclass(frozen=True, slots=True)
class EndRecord:
    """What the end-of-central-directory records (zip64 included) say."""

    entries: int
    cd_size: int
    cd_offset: int
    end_of_cd: int
    """Where the central directory must end: the zip64 end record, else the end record."""


def read_end(read_at: ReadAt, size: int) -> EndRecord:
    """The end records, which must close the file (no data after them, no spanned archive)."""
    window = min(size, _EOCD.size + _MAX_COMMENT)
    tail = read_at(size - window, window)
    at = tail.rfind(_EOCD_SIG)
    while at >= 0 and at + _EOCD.size + _comment_len(tail, at) != len(tail):
        at = tail.rfind(_EOCD_SIG, 0, at)
    if at < 0:
        msg = ("no end-of-central-directory record closes the file (not a zip, or data "
               "after its end)")
        raise LayoutError(msg)
    eocd_pos = size - window + at
    (_sig, disk, cd_disk, disk_entries, entries, cd_size, cd_offset,
     _comment) = _EOCD.unpack_from(tail, at)
    end_of_cd = eocd_pos
    locator = read_at(eocd_pos - _LOCATOR.size, _LOCATOR.size) if eocd_pos >= _LOCATOR.size \
        else b""
    if len(locator) == _LOCATOR.size and locator[:4] == _LOCATOR_SIG:
        _lsig, eocd64_disk, eocd64_pos, disks = _LOCATOR.unpack(locator)
        record = read_at(eocd64_pos, _EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != _EOCD64_SIG:
            msg = "the zip64 end record is not where its locator points"
            raise LayoutError(msg)
        (_s, rec_size, _v1, _v2, disk, cd_disk, disk_entries, entries, cd_size,
         cd_offset) = _EOCD64.unpack(record)
        if eocd64_pos + 12 + rec_size != eocd_pos - _LOCATOR.size or eocd64_disk or disks != 1:
            msg = "the zip64 end record does not end where its locator begins"
            raise LayoutError(msg)
        end_of_cd = eocd64_pos
    if disk or cd_disk:
        msg = "a multi-disk (spanned) archive"
        raise LayoutError(msg)
    if disk_entries != entries:
        msg = f"the end record counts {disk_entries} and {entries} members"
        raise LayoutError(msg)
    return EndRecord(entries=int(entries), cd_size=int(cd_size), cd_offset=int(cd_offset),
                     end_of_cd=int(end_of_cd))


def check_layout(
    read_at: ReadAt, end: EndRecord, infos: Sequence[ZipInfo], start_dir: int
) -> None:
    """Raise :class:`LayoutError` unless the members tile ``[0, start_dir)`` exactly and the end
    records describe the central directory zipfile read (``infos`` from ``start_dir``)."""
    if end.entries != len(infos):
        msg = (f"the end record counts {end.entries} members, the central directory holds "
               f"{len(infos)}")
        raise LayoutError(msg)
    if end.cd_offset != start_dir:
        msg = (f"the end record puts the central directory at {end.cd_offset}, it is at "
               f"{start_dir} (data before the first member, or bytes cut from it)")
        raise LayoutError(msg)
    if end.cd_offset + end.cd_size != end.end_of_cd:
        msg = "the central directory does not end where the end record begins"
        raise LayoutError(msg)
    pos = 0
    for info in sorted(infos, key=lambda i: (i.header_offset, i.orig_filename)):
        name = info.orig_filename
        if info.header_offset != pos:
            if info.header_offset < pos:
                msg = (f"member {name!r} overlaps the member before it (its header at "
                       f"{info.header_offset} lies inside bytes used up to {pos})")
            elif pos == 0:
                msg = f"{info.header_offset} bytes of unknown data before the first member"
            else:
                msg = (f"{info.header_offset - pos} bytes of unknown data before member "
                       f"{name!r}")
            raise LayoutError(msg)
        pos = _member_end(read_at, info)
    if pos != start_dir:
        if pos > start_dir:
            msg = "the last member runs into the central directory"
        else:
            msg = f"{start_dir - pos} bytes of unknown data before the central directory"
        raise LayoutError(msg)


def _comment_len(tail: bytes, at: int) -> int:
    if at + _EOCD.size > len(tail):
        return 1 << 20  # never matches
    return int(_EOCD.unpack_from(tail, at)[7])


def _member_end(read_at: ReadAt, info: ZipInfo) -> int:
    """Where the member's bytes (header, data, descriptor) end, after checking the header."""
    name = info.orig_filename
    raw = raw_name(info)
    head = read_at(info.header_offset, _LOCAL.size + len(raw) + 64)
    if len(head) < _LOCAL.size:
        raise LayoutError(f"member {name!r}: truncated local header")
    (sig, version, flags, method, _time, _date, crc, csize, usize, name_len,
     extra_len) = _LOCAL.unpack_from(head)
    if sig != _LOCAL_SIG:
        raise LayoutError(f"member {name!r}: no local header where the central directory "
                          "points")
    if version > MAX_VERSION or info.extract_version > MAX_VERSION:
        need = max(version, info.extract_version)
        raise LayoutError(f"member {name!r} needs zip version {need // 10}.{need % 10} to "
                          f"extract (zipfile, pip and installer read up to 6.3)")
    for bit, what in _REFUSED_FLAGS.items():
        if (flags | info.flag_bits) & bit:
            raise LayoutError(f"member {name!r} uses {what}")
    if (flags ^ info.flag_bits) & _COMPARED_FLAGS:
        raise LayoutError(f"member {name!r}: local and central headers disagree on flags")
    if method != info.compress_type:
        raise LayoutError(f"member {name!r}: local header says compression method {method}, "
                          f"the central directory {info.compress_type}")
    if name_len != len(raw) or bytes(head[_LOCAL.size:_LOCAL.size + name_len]) != raw:
        raise LayoutError(f"member {name!r}: the local header names another file")
    start = int(info.header_offset) + _LOCAL.size + int(name_len)
    extra = head[start - info.header_offset:start - info.header_offset + extra_len]
    if len(extra) < extra_len:
        extra = read_at(start, extra_len)
        if len(extra) < extra_len:
            raise LayoutError(f"member {name!r}: truncated local header")
    csize, usize, zip64 = _local_sizes(extra, csize, usize)
    declared = (crc, csize, usize)
    central = (info.CRC, info.compress_size, info.file_size)
    if flags & _DESCRIPTOR:
        if declared not in (central, (0, 0, 0)):
            raise LayoutError(f"member {name!r}: local header sizes or CRC differ from the "
                              "central directory's")
    elif declared != central:
        raise LayoutError(f"member {name!r}: local header sizes or CRC differ from the central "
                          "directory's")
    data_end = start + int(extra_len) + int(info.compress_size)
    if not flags & _DESCRIPTOR:
        return data_end
    return data_end + _descriptor_len(read_at, data_end, info, zip64)


def _local_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int, bool]:
    """(compressed, uncompressed, zip64?) with a zip64 extra field applied as APPNOTE 4.5.3
    says: it holds the sizes the 32-bit fields mark with 0xFFFFFFFF, uncompressed first."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4:at + 4 + length]
        if tag == _ZIP64_EXTRA:
            values = [v for (v,) in struct.iter_unpack("<Q", body[:len(body) // 8 * 8])]
            if usize == _MAX32 and values:
                usize = values.pop(0)
            if csize == _MAX32 and values:
                csize = values.pop(0)
            return csize, usize, True
        at += 4 + length
    return csize, usize, False


def _descriptor_len(read_at: ReadAt, at: int, info: ZipInfo, zip64: bool) -> int:
    """The length of the data descriptor at ``at``, which must repeat the central values."""
    data = read_at(at, 24)
    sig = 4 if data[:4] == _DESCRIPTOR_SIG else 0
    for wide in ((True, False) if zip64 else (False, True)):
        fmt = "<IQQ" if wide else "<III"
        need = sig + struct.calcsize(fmt)
        if len(data) >= need and struct.unpack_from(fmt, data, sig) == (
            info.CRC, info.compress_size, info.file_size
        ):
            return need
    raise LayoutError(f"member {info.orig_filename!r}: its data descriptor disagrees with the "
                      "central directory")
