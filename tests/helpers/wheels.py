"""Pack wheels from ``{archive path: bytes}`` with a RECORD that is right unless asked otherwise.

The RECORD digest is computed here with hashlib, not with wheelguard's own helper, so that a
test of wheelguard's RECORD check does not grade the code with its own answer key. Archives are
reproducible (fixed timestamps, sorted members, ``.dist-info`` last and RECORD last in it).

The lower-level functions (``zip_bytes``, ``patch_central``) craft archives no honest packer
writes: duplicate names, symlink and encrypted members, lying sizes and CRCs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import stat
import struct
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_TAG",
    "RecordTweaks",
    "ZipEntry",
    "build_wheel",
    "central_entries",
    "member_data_span",
    "patch_central",
    "patch_member",
    "record_digest",
    "wheel_files",
    "zip_bytes",
]

DEFAULT_TAG = "cp312-abi3-manylinux_2_17_x86_64"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def record_digest(data: bytes) -> str:
    """``sha256=<urlsafe base64, no padding>`` (PEP 376/427)."""
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordTweaks:
    """Ways to make RECORD disagree with the archive, one per WG501 problem."""

    wrong_hash: frozenset[str] = frozenset()
    """Members listed with the digest of other bytes."""
    wrong_size: frozenset[str] = frozenset()
    """Members listed with their size plus one."""
    omit: frozenset[str] = frozenset()
    """Members left out of RECORD."""
    extra: tuple[str, ...] = ()
    """Paths listed in RECORD that the archive does not hold."""
    self_hash: bool = False
    """RECORD lists a hash and size for itself (it must leave both empty)."""
    raw: bytes | None = None
    """Use these bytes as RECORD verbatim (for rows a csv writer would not produce)."""
    extra_raw: bytes = b""
    """Bytes appended to the generated RECORD (a row in another encoding)."""


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One member for :func:`zip_bytes`; ``mode`` is the Unix st_mode stored in the entry."""

    name: str
    data: bytes
    mode: int = stat.S_IFREG | 0o644
    compress: int = zipfile.ZIP_DEFLATED


def zip_bytes(entries: Iterable[ZipEntry]) -> bytes:
    """A zip holding exactly these entries in this order, duplicates and odd names included."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # zipfile warns on duplicate names; writing them is the point here.
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(buf, "w") as zf:
            for e in entries:
                info = zipfile.ZipInfo(e.name, date_time=_EPOCH)
                info.compress_type = e.compress
                info.create_system = 3
                info.external_attr = (e.mode & 0xFFFF) << 16
                zf.writestr(info, e.data)
    return buf.getvalue()


def wheel_files(
    files: Mapping[str, bytes],
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = DEFAULT_TAG,
    requires_dist: Sequence[str] = (),
    record: RecordTweaks | None = None,
) -> list[ZipEntry]:
    """The members of a wheel, in archive order, with generated METADATA, WHEEL and RECORD.

    ``files`` may override the generated dist-info files (give ``{dist_info}/METADATA``).
    """
    record = record or RecordTweaks()
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    generated = {
        f"{dist}/METADATA": _metadata(name, version, requires_dist),
        f"{dist}/WHEEL": _wheel_file(tag),
    }
    members = {**generated, **files}
    payload = sorted(p for p in members if not p.startswith(f"{dist}/"))
    meta = sorted(p for p in members if p.startswith(f"{dist}/") and p != f"{dist}/RECORD")
    ordered = [*payload, *meta]
    record_path = f"{dist}/RECORD"
    rows: list[tuple[str, str, str]] = []
    for path in ordered:
        if path in record.omit:
            continue
        data = members[path]
        digest = record_digest(data + b"tampered" if path in record.wrong_hash else data)
        size = len(data) + (1 if path in record.wrong_size else 0)
        rows.append((path, digest, str(size)))
    rows.extend((path, record_digest(path.encode()), "1") for path in record.extra)
    rows.append((record_path, "sha256=AAAA", "4") if record.self_hash else (record_path, "", ""))
    if record.raw is not None:
        record_bytes = record.raw
    else:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        record_bytes = out.getvalue().encode("utf-8") + record.extra_raw
    entries = [ZipEntry(p, members[p], mode=_mode(p)) for p in ordered]
    entries.append(ZipEntry(record_path, files.get(record_path, record_bytes)))
    return entries


def build_wheel(
    dest: Path,
    files: Mapping[str, bytes],
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = DEFAULT_TAG,
    requires_dist: Sequence[str] = (),
    record: RecordTweaks | None = None,
    filename: str | None = None,
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` (or ``filename``) into ``dest`` and return it."""
    entries = wheel_files(
        files, name=name, version=version, tag=tag, requires_dist=requires_dist, record=record
    )
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / (filename or f"{name.replace('-', '_')}-{version}-{tag}.whl")
    path.write_bytes(zip_bytes(entries))
    return path


def _metadata(name: str, version: str, requires_dist: Sequence[str]) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires_dist]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _wheel_file(tag: str) -> bytes:
    py, abi, plat = tag.split("-")
    tags = [f"{p}-{a}-{pl}"
            for p in py.split(".") for a in abi.split(".") for pl in plat.split(".")]
    purelib = "true" if plat == "any" else "false"
    lines = ["Wheel-Version: 1.0", "Generator: wheelguard-tests", f"Root-Is-Purelib: {purelib}"]
    lines += [f"Tag: {t}" for t in tags]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _mode(path: str) -> int:
    executable = path.endswith(".so") or ".so." in path
    return stat.S_IFREG | (0o755 if executable else 0o644)


# ---- central-directory surgery -------------------------------------------------------------

_CENTRAL = b"PK\x01\x02"
_CENTRAL_FMT = struct.Struct("<4s6H3L5H2L")


@dataclass(frozen=True, slots=True)
class CentralEntry:
    offset: int
    """Where the entry starts in the archive bytes."""
    name: str
    fields: tuple[int | bytes, ...] = field(repr=False)


def central_entries(data: bytes) -> list[CentralEntry]:
    """Every central-directory record, found by walking from the end-of-directory record."""
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, start = struct.unpack_from("<HLL", data, eocd + 10)
    out: list[CentralEntry] = []
    pos = start
    for _ in range(count):
        fields = _CENTRAL_FMT.unpack_from(data, pos)
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        name = data[pos + 46 : pos + 46 + name_len].decode("utf-8")
        out.append(CentralEntry(pos, name, fields))
        pos += 46 + name_len + extra_len + comment_len
    return out


# Byte offsets inside a central-directory record (APPNOTE 4.3.12).
_FIELD_OFFSETS = {"flags": (8, "H"), "method": (10, "H"), "crc": (16, "L"),
                  "compress_size": (20, "L"),
                  "file_size": (24, "L"), "local_offset": (42, "L")}


def patch_central(data: bytes, name: str, **values: int) -> bytes:
    """Overwrite fields (``flags``, ``crc``, ``file_size`` ...) of member ``name``'s
    central-directory record; the local header is left as written."""
    entry = next(e for e in central_entries(data) if e.name == name)
    buf = bytearray(data)
    for key, value in values.items():
        off, fmt = _FIELD_OFFSETS[key]
        struct.pack_into("<" + fmt, buf, entry.offset + off, value)
    return bytes(buf)


_LOCAL_OFFSETS = {"flags": (6, "H"), "method": (8, "H"), "crc": (14, "L"),
                  "compress_size": (18, "L"), "file_size": (22, "L")}


def patch_member(data: bytes, name: str, **values: int) -> bytes:
    """Like :func:`patch_central`, and the local header too: the two still agree, so the lie
    is found only by reading the member (a CRC or size check), not by comparing headers."""
    entry = next(e for e in central_entries(data) if e.name == name)
    buf = bytearray(patch_central(data, name, **values))
    local = int(entry.fields[16])
    for key, value in values.items():
        off, fmt = _LOCAL_OFFSETS[key]
        struct.pack_into("<" + fmt, buf, local + off, value)
    return bytes(buf)


def member_data_span(data: bytes, name: str) -> tuple[int, int]:
    """(start, end) of member ``name``'s stored (compressed) bytes in the archive."""
    entry = next(e for e in central_entries(data) if e.name == name)
    local = int(entry.fields[16])
    compress_size = int(entry.fields[8])
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_len + extra_len
    return start, start + compress_size
