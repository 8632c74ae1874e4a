"""Write the hostile-wheel corpus: every case as files in its own directory, plus manifest.json.

    python tests/hostile/generate.py OUTDIR [--select GLOB ...]

Each case is one way a CI artifact can be hostile or invalid (issues 14 and 19): a crafted zip
structure, wheel metadata an installer refuses, a native binary built to break a parser, a
policy file built to break the policy loader, or an output path built to lose or clobber data.
The manifest names, per case, the wheelguard commands to run and what each must do:

* ``refuse``: exit 2 with one ``wheelguard: error:`` line naming the member or problem;
* ``error-finding``: exit 1 because of an error-level finding (a broken binary in a readable
  archive, a wheel an installer would refuse);
* ``ok``: exit 0.

Everything is built from bytes written here (zip records, ELF, Mach-O and PE headers), with the
standard library only, so a case is exactly as wrong as it says and the corpus is the same on
every machine. Bombs are *declared* or *expanded* large, never stored large: the whole corpus
is a few MB and takes a few seconds. ``harness.py`` runs it.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import csv
import fnmatch
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import struct
import sys
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CASES", "Case", "generate", "main"]

MANIFEST = "manifest.json"
SCHEMA = 1

# ==== zip records (APPNOTE 6.3.10) ==========================================================

_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_DOS_TIME = 0
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<4sIQI")
_VERSION_FOR = {0: 10, 8: 20, 12: 46, 14: 63}


@dataclass
class Entry:
    """One zip member, with every field a hostile archive may lie about overridable."""

    name: str | bytes
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    payload: bytes | None = None
    """The stored (compressed) bytes; default: ``data`` compressed with ``method``."""
    flags: int | None = None
    """Default: the UTF-8 bit for a non-ASCII ``str`` name, else 0."""
    create_system: int = 3
    mode: int = stat.S_IFREG | 0o644
    external_attr: int | None = None
    version_needed: int | None = None
    crc: int | None = None
    compress_size: int | None = None
    file_size: int | None = None
    extra: bytes = b""
    """Central-directory extra field."""
    local: dict[str, Any] = field(default_factory=dict)
    """Overrides for the local header only: name, flags, crc, compress_size, file_size, extra,
    version_needed."""
    points_at: str | None = None
    """Write no local header: the central entry points at the named entry's (``key``)."""
    in_central: bool = True
    key: str | None = None
    """How ``points_at`` names this entry (default: the name)."""
    record_as: str | None = None
    """The path RECORD lists for this member (default: the name, when it is a ``str``)."""
    in_record: bool = True

    def raw_name(self) -> bytes:
        return self.name.encode("utf-8") if isinstance(self.name, str) else self.name

    def default_flags(self) -> int:
        if self.flags is not None:
            return self.flags
        return 0x800 if isinstance(self.name, str) and not self.name.isascii() else 0


def compress(method: int, data: bytes) -> bytes:
    """``data`` as a zip member of ``method`` stores it."""
    if method == zipfile.ZIP_STORED:
        return data
    if method == zipfile.ZIP_DEFLATED:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush()
    if method == zipfile.ZIP_BZIP2:
        return bz2.compress(data, 9)
    if method == zipfile.ZIP_LZMA:
        return _lzma_member(data)
    msg = f"no compressor for method {method}"
    raise ValueError(msg)


def _lzma_member(data: bytes) -> bytes:
    """zip's LZMA framing as zipfile reads it: version 9.4, properties size 5, the LZMA1
    properties (lc=3, lp=0, pb=2 as one byte, then the dictionary size), raw LZMA1 data."""
    dict_size = 1 << 20
    filters = [{"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": dict_size, "lc": 3,
                "lp": 0, "pb": 2}]
    body = lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)
    props = bytes([(2 * 5 + 0) * 9 + 3]) + struct.pack("<I", dict_size)
    return struct.pack("<BBH", 9, 4, len(props)) + props + body


def build_zip(
    entries: Sequence[Entry],
    *,
    prefix: bytes = b"",
    prefix_in_offsets: bool = False,
    offset_shift: int = 0,
    comment: bytes = b"",
    trailer: bytes = b"",
    eocd_entries: int | None = None,
    zip64_eocd_entries: int | None = None,
    cut_central: int | None = None,
) -> bytes:
    """Lay out local records, the central directory and the end records.

    ``prefix`` is data before the first local header; with ``prefix_in_offsets`` the recorded
    offsets count it (``zip -A``), else they are relative to the zip part (``cat sfx x.zip``).
    ``offset_shift`` adds to every recorded offset (bytes removed from the front).
    """
    out = bytearray(prefix)
    base = 0 if prefix_in_offsets else len(prefix)
    positions: dict[str, int] = {}
    for e in entries:
        if e.points_at is not None:
            continue
        payload = e.payload if e.payload is not None else compress(e.method, e.data)
        e.payload = payload
        positions[e.key or (e.name if isinstance(e.name, str) else e.name.hex())] = len(out)
        loc = e.local
        name = loc.get("name", e.raw_name())
        extra = loc.get("extra", b"")
        out += _LOCAL.pack(
            b"PK\x03\x04",
            loc.get("version_needed", e.version_needed or _VERSION_FOR.get(e.method, 20)),
            loc.get("flags", e.default_flags()),
            e.method,
            _DOS_TIME,
            _DOS_DATE,
            loc.get("crc", e.crc if e.crc is not None else zlib.crc32(e.data)),
            loc.get("compress_size",
                    e.compress_size if e.compress_size is not None else len(payload)),
            loc.get("file_size", e.file_size if e.file_size is not None else len(e.data)),
            len(name),
            len(extra),
        )
        out += name + extra + payload
    central = bytearray()
    count = 0
    for e in entries:
        if not e.in_central:
            continue
        key = e.points_at or e.key or (e.name if isinstance(e.name, str) else e.name.hex())
        payload = e.payload if e.payload is not None else compress(e.method, e.data)
        name = e.raw_name()
        attr = e.external_attr if e.external_attr is not None else (e.mode & 0xFFFF) << 16
        version = e.version_needed or _VERSION_FOR.get(e.method, 20)
        central += _CENTRAL.pack(
            b"PK\x01\x02",
            (e.create_system << 8) | 20,
            version,
            e.default_flags(),
            e.method,
            _DOS_TIME,
            _DOS_DATE,
            e.crc if e.crc is not None else zlib.crc32(e.data),
            e.compress_size if e.compress_size is not None else len(payload),
            e.file_size if e.file_size is not None else len(e.data),
            len(name),
            len(e.extra),
            0,
            0,
            0,
            attr,
            positions[key] - base + offset_shift,
        )
        central += name + e.extra
        count += 1
    cd_offset = len(out) - base + offset_shift
    out += central
    if zip64_eocd_entries is not None:
        eocd64_at = len(out) - base + offset_shift
        out += _EOCD64.pack(b"PK\x06\x06", _EOCD64.size - 12, (3 << 8) | 45, 45, 0, 0,
                            zip64_eocd_entries, zip64_eocd_entries, len(central), cd_offset)
        out += _LOCATOR64.pack(b"PK\x06\x07", 0, eocd64_at, 1)
    n = count if eocd_entries is None else eocd_entries
    out += _EOCD.pack(b"PK\x05\x06", 0, 0, n, n, len(central), cd_offset, len(comment))
    out += comment + trailer
    data = bytes(out)
    if cut_central is not None:
        start = data.find(b"PK\x01\x02")
        end = data.rfind(b"PK\x05\x06")
        data = data[: start + cut_central] + data[end:]
    return data


def zip64_extra(*values: int) -> bytes:
    """A zip64 extended-information extra field holding ``values`` (8 bytes each)."""
    body = b"".join(struct.pack("<Q", v) for v in values)
    return struct.pack("<HH", 1, len(body)) + body


# ==== wheels ================================================================================

NAME = "demo-1.0-py3-none-any.whl"
ELF_TAG = "py3-none-manylinux_2_17_x86_64"
ELF_WHEEL = f"demo-1.0-{ELF_TAG}.whl"
MACHO_TAG = "py3-none-macosx_11_0_arm64"
MACHO_WHEEL = f"demo-1.0-{MACHO_TAG}.whl"
FAT_TAG = "py3-none-macosx_11_0_universal2"
FAT_WHEEL = f"demo-1.0-{FAT_TAG}.whl"
PE_TAG = "py3-none-win_amd64"
PE_WHEEL = f"demo-1.0-{PE_TAG}.whl"
DIST = "demo-1.0.dist-info"
PAYLOAD: dict[str, bytes] = {
    "demo/__init__.py": b'"""A wheel that is valid except for what the case changes."""\n',
    "demo/data.txt": b"0123456789abcdef" * 64,
}


def record_digest(data: bytes, algorithm: str = "sha256") -> str:
    raw = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def metadata(name: str = "demo", version: str = "1.0", *extra: str) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *extra]
    return ("\n".join(lines) + "\n").encode("utf-8")


def wheel_file(tag: str = "py3-none-any", *, version: str = "1.0",
               purelib: bool | None = None, tags: Sequence[str] | None = None) -> bytes:
    plat = tag.split("-")[2]
    lines = [f"Wheel-Version: {version}", "Generator: wheelguard-hostile"]
    if purelib is None:
        purelib = plat == "any"
    lines.append(f"Root-Is-Purelib: {'true' if purelib else 'false'}")
    lines += [f"Tag: {t}" for t in (tags if tags is not None else [tag])]
    return ("\n".join(lines) + "\n").encode("utf-8")


Rows = list[list[str]]


def wheel_entries(
    files: Mapping[str, bytes] | None = None,
    *,
    tag: str = "py3-none-any",
    dist_info: str = DIST,
    extra: Sequence[Entry] = (),
    meta: bytes | None = None,
    wheel: bytes | None = None,
    record_rows: Callable[[Rows], Rows] | None = None,
    record_bytes: bytes | None = None,
    drop: Iterable[str] = (),
) -> list[Entry]:
    """A wheel's members: ``extra`` (hostile ones) first, then the payload, then dist-info with
    RECORD last. RECORD lists every member (``record_rows`` may rewrite the rows)."""
    members: dict[str, bytes] = dict(PAYLOAD if files is None else files)
    members.setdefault(f"{dist_info}/METADATA", meta if meta is not None else metadata())
    members.setdefault(f"{dist_info}/WHEEL", wheel if wheel is not None else wheel_file(tag))
    for d in drop:
        members.pop(d, None)
    record_path = f"{dist_info}/RECORD"
    payload = sorted(p for p in members if not p.startswith(f"{dist_info}/"))
    meta_paths = sorted(p for p in members if p.startswith(f"{dist_info}/"))
    entries = list(extra) + [Entry(p, members[p], mode=_mode(p)) for p in payload + meta_paths]
    rows: Rows = []
    for e in entries:
        listed = e.record_as if e.record_as is not None else (
            e.name if isinstance(e.name, str) else None)
        if listed is None or not e.in_record:
            continue
        rows.append([listed, record_digest(e.data), str(len(e.data))])
    rows.append([record_path, "", ""])
    if record_rows is not None:
        rows = record_rows(rows)
    if record_bytes is None:
        buf = io.StringIO()
        # csv quotes a field holding "\n" (the line terminator) but not one holding "\r".
        if any("\r" in f for r in rows for f in r):
            csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
        else:
            csv.writer(buf, lineterminator="\n").writerows(rows)
        record_bytes = buf.getvalue().encode("utf-8")
    entries.append(Entry(record_path, record_bytes))
    return entries


def wheel_bytes(files: Mapping[str, bytes] | None = None, **kw: Any) -> bytes:
    zip_kw = {k: kw.pop(k) for k in list(kw) if k in _ZIP_KW}
    return build_zip(wheel_entries(files, **kw), **zip_kw)


_ZIP_KW = {"prefix", "prefix_in_offsets", "offset_shift", "comment", "trailer", "eocd_entries",
           "zip64_eocd_entries", "cut_central"}


def _mode(path: str) -> int:
    native = path.endswith((".so", ".dylib", ".pyd", ".dll")) or ".so." in path
    return stat.S_IFREG | (0o755 if native else 0o644)


def native_wheel(member: str, blob: bytes, tag: str, **kw: Any) -> bytes:
    return wheel_bytes({**PAYLOAD, member: blob}, tag=tag, **kw)


# ==== ELF ===================================================================================

EM_X86_64 = 62
PT_LOAD, PT_DYNAMIC = 1, 2
DT = {"NULL": 0, "NEEDED": 1, "STRTAB": 5, "SYMTAB": 6, "STRSZ": 10, "SYMENT": 11,
      "SONAME": 14, "RPATH": 15, "RUNPATH": 29, "VERDEF": 0x6FFFFFFC, "VERDEFNUM": 0x6FFFFFFD,
      "VERNEED": 0x6FFFFFFE, "VERNEEDNUM": 0x6FFFFFFF, "DEBUG": 21}
SHT = {"NULL": 0, "PROGBITS": 1, "STRTAB": 3, "DYNAMIC": 6, "DYNSYM": 11,
       "VERDEF": 0x6FFFFFFD, "VERNEED": 0x6FFFFFFE}


@dataclass
class Elf:
    """An ELF64 little-endian shared object and where each of its structures lies."""

    data: bytearray
    at: dict[str, int]
    """File offsets: ehdr, phdr, each section by name, ``sh:<name>`` its section header,
    ``dyn:<TAG>`` the first dynamic entry of that tag."""
    index: dict[str, int]
    """Section indexes by name."""

    def put(self, offset: int, fmt: str, value: int) -> Elf:
        struct.pack_into("<" + fmt, self.data, offset, value)
        return self

    def put_at(self, where: str, delta: int, fmt: str, value: int) -> Elf:
        """Write ``value`` ``delta`` bytes into the structure named ``where`` (see ``at``)."""
        return self.put(self.at[where] + delta, fmt, value)

    def bytes(self) -> bytes:
        return bytes(self.data)


def _elf_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def build_elf(
    *,
    soname: str | bytes | None = "libhostile.so",
    needed: Sequence[str | bytes] = ("libc.so.6",),
    runpath: str | None = None,
    rpath: str | None = None,
    machine: int = EM_X86_64,
    verneed: bool = False,
    verdef: bool = False,
    text_size: int = 16,
    extra_dynamic: Sequence[tuple[int, int]] = (),
) -> Elf:
    """A small but complete shared object: PT_LOAD (code), PT_LOAD (tables), PT_DYNAMIC, and
    section headers for .text, .dynstr, .dynsym, version tables, .dynamic and .shstrtab.
    Virtual addresses equal file offsets."""
    strings = bytearray(b"\0")
    offsets: dict[bytes, int] = {}

    def intern(s: str | bytes) -> int:
        b = s.encode() if isinstance(s, str) else s
        if b not in offsets:
            offsets[b] = len(strings)
            strings.extend(b + b"\0")
        return offsets[b]

    needed_at = [intern(n) for n in needed]
    soname_at = intern(soname) if soname is not None else None
    runpath_at = intern(runpath) if runpath is not None else None
    rpath_at = intern(rpath) if rpath is not None else None
    fn_at = intern("hostile_fn")
    libc_at, glibc_at, base_at = intern("libc.so.6"), intern("GLIBC_2.2.5"), intern("libhostile.so")

    def align(n: int, a: int = 8) -> int:
        return (n + a - 1) // a * a

    phnum = 3
    at: dict[str, int] = {"ehdr": 0, "phdr": 64}
    pos = 64 + 56 * phnum
    pos = align(pos, 16)
    at[".text"] = pos
    text = b"\xc3" * text_size
    pos += len(text)
    text_end = pos
    pos = align(pos)
    at[".dynstr"] = pos
    pos += len(strings)
    pos = align(pos)
    at[".dynsym"] = pos
    dynsym = bytes(24) + struct.pack("<IBBHQQ", fn_at, 0x12, 0, 1, at[".text"], 1)
    pos += len(dynsym)
    vern = b""
    if verneed:
        pos = align(pos)
        at[".gnu.version_r"] = pos
        vern = struct.pack("<HHIII", 1, 1, libc_at, 16, 0) + struct.pack(
            "<IHHII", _elf_hash(b"GLIBC_2.2.5"), 0, 2, glibc_at, 0)
        pos += len(vern)
    verd = b""
    if verdef:
        pos = align(pos)
        at[".gnu.version_d"] = pos
        verd = struct.pack("<HHHHIII", 1, 1, 1, 1, _elf_hash(b"libhostile.so"), 20, 0) + \
            struct.pack("<II", base_at, 0)
        pos += len(verd)
    dyn: list[tuple[int, int]] = [(DT["NEEDED"], n) for n in needed_at]
    if soname_at is not None:
        dyn.append((DT["SONAME"], soname_at))
    if rpath_at is not None:
        dyn.append((DT["RPATH"], rpath_at))
    if runpath_at is not None:
        dyn.append((DT["RUNPATH"], runpath_at))
    dyn += [(DT["STRTAB"], at[".dynstr"]), (DT["STRSZ"], len(strings)),
            (DT["SYMTAB"], at[".dynsym"]), (DT["SYMENT"], 24)]
    if verneed:
        dyn += [(DT["VERNEED"], at[".gnu.version_r"]), (DT["VERNEEDNUM"], 1)]
    if verdef:
        dyn += [(DT["VERDEF"], at[".gnu.version_d"]), (DT["VERDEFNUM"], 1)]
    dyn += list(extra_dynamic)
    dyn.append((DT["NULL"], 0))
    pos = align(pos)
    at[".dynamic"] = pos
    dynamic = b"".join(struct.pack("<qQ", t, v) for t, v in dyn)
    for i, (t, _v) in enumerate(dyn):
        name = next((k for k, v in DT.items() if v == t), str(t))
        at.setdefault(f"dyn:{name}", at[".dynamic"] + 16 * i)
    pos += len(dynamic)
    names = [".text", ".dynstr", ".dynsym"]
    if verneed:
        names.append(".gnu.version_r")
    if verdef:
        names.append(".gnu.version_d")
    names += [".dynamic", ".shstrtab"]
    shstr = bytearray(b"\0")
    name_at = {}
    for n in names:
        name_at[n] = len(shstr)
        shstr += n.encode() + b"\0"
    at[".shstrtab"] = pos
    pos += len(shstr)
    pos = align(pos)
    at["shdr"] = pos
    index = {n: i + 1 for i, n in enumerate(names)}
    data_end = at[".shstrtab"] + len(shstr)

    image = bytearray(pos + 64 * (len(names) + 1))
    image[at[".text"] : text_end] = text
    image[at[".dynstr"] : at[".dynstr"] + len(strings)] = strings
    image[at[".dynsym"] : at[".dynsym"] + len(dynsym)] = dynsym
    if verneed:
        image[at[".gnu.version_r"] : at[".gnu.version_r"] + len(vern)] = vern
    if verdef:
        image[at[".gnu.version_d"] : at[".gnu.version_d"] + len(verd)] = verd
    image[at[".dynamic"] : at[".dynamic"] + len(dynamic)] = dynamic
    image[at[".shstrtab"] : at[".shstrtab"] + len(shstr)] = shstr

    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    image[0:64] = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 64, at["shdr"], 0,
                                      64, 56, phnum, 64, len(names) + 1, index[".shstrtab"])
    phdrs = [
        (PT_LOAD, 5, 0, 0, text_end, 0x1000),
        (PT_LOAD, 6, text_end, text_end, data_end - text_end, 0x1000),
        (PT_DYNAMIC, 6, at[".dynamic"], at[".dynamic"], len(dynamic), 8),
    ]
    for i, (ptype, flags, off, vaddr, size, al) in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", image, 64 + 56 * i, ptype, flags, off, vaddr, vaddr, size,
                         size, al)
    sections = {
        ".text": (SHT["PROGBITS"], 6, at[".text"], text_size, 0, 0, 16, 0),
        ".dynstr": (SHT["STRTAB"], 2, at[".dynstr"], len(strings), 0, 0, 1, 0),
        ".dynsym": (SHT["DYNSYM"], 2, at[".dynsym"], len(dynsym), index[".dynstr"], 1, 8, 24),
        ".gnu.version_r": (SHT["VERNEED"], 2, at.get(".gnu.version_r", 0), len(vern),
                           index[".dynstr"], 1, 8, 0),
        ".gnu.version_d": (SHT["VERDEF"], 2, at.get(".gnu.version_d", 0), len(verd),
                           index[".dynstr"], 1, 8, 0),
        ".dynamic": (SHT["DYNAMIC"], 3, at[".dynamic"], len(dynamic), index[".dynstr"], 0, 8,
                     16),
        ".shstrtab": (SHT["STRTAB"], 0, at[".shstrtab"], len(shstr), 0, 0, 1, 0),
    }
    for n in names:
        sh_type, flags, off, size, link, info, al, ent = sections[n]
        addr = off if flags & 2 else 0
        hdr_at = at["shdr"] + 64 * index[n]
        at[f"sh:{n}"] = hdr_at
        struct.pack_into("<IIQQQQIIQQ", image, hdr_at, name_at[n], sh_type, flags, addr, off,
                         size, link, info, al, ent)
    return Elf(image, at, index)


def _sh_field(name: str) -> tuple[int, str]:
    """(offset inside a section header, struct format) of a field."""
    return {"sh_name": (0, "I"), "sh_type": (4, "I"), "sh_offset": (24, "Q"),
            "sh_size": (32, "Q"), "sh_link": (40, "I"), "sh_info": (44, "I"),
            "sh_entsize": (56, "Q")}[name]


def patch_section(elf: Elf, section: str, field_name: str, value: int) -> Elf:
    off, fmt = _sh_field(field_name)
    return elf.put(elf.at[f"sh:{section}"] + off, fmt, value)


def strip_section_headers(elf: Elf) -> Elf:
    """Section headers gone (e_shoff, e_shnum, e_shstrndx zero); program headers intact: what
    ``sstrip`` leaves and what the loader needs."""
    elf.put(0x28, "Q", 0).put(0x3C, "H", 0).put(0x3E, "H", 0)
    del elf.data[elf.at["shdr"] :]
    return elf


# ==== Mach-O, PE ===========================================================================

CPU_ARM64 = 0x0100000C
CPU_X86_64 = 0x01000007
LC_SEGMENT_64, LC_ID_DYLIB, LC_LOAD_DYLIB, LC_UUID, LC_RPATH = 0x19, 0xD, 0xC, 0x1B, 0x8000001C


def _lc_str(cmd: int, head: bytes, text: str | bytes) -> bytes:
    raw = (text.encode() if isinstance(text, str) else text) + b"\0"
    size = (8 + len(head) + len(raw) + 7) // 8 * 8
    return struct.pack("<II", cmd, size) + head + raw.ljust(size - 8 - len(head), b"\0")


def build_macho(
    *,
    cputype: int = CPU_ARM64,
    install_name: str | bytes = "@rpath/libhostile.dylib",
    loads: Sequence[str | bytes] = ("/usr/lib/libSystem.B.dylib",),
    rpaths: Sequence[str] = ("@loader_path",),
    ncmds: int | None = None,
    sizeofcmds: int | None = None,
    name_offset: int = 24,
    nsects: int = 0,
    uuid: bytes = bytes(range(16)),
) -> bytes:
    """A thin 64-bit MH_DYLIB: __TEXT, LC_ID_DYLIB, LC_LOAD_DYLIB, LC_RPATH, LC_UUID."""
    dylib_head = struct.pack("<IIII", name_offset, 2, 0x10000, 0x10000)
    cmds = [_lc_str(LC_ID_DYLIB, dylib_head, install_name)]
    cmds += [_lc_str(LC_LOAD_DYLIB, dylib_head, lib) for lib in loads]
    cmds += [_lc_str(LC_RPATH, struct.pack("<I", 12), r) for r in rpaths]
    cmds.append(struct.pack("<II", LC_UUID, 24) + uuid)
    body_size = 32 + 72 + sum(map(len, cmds))
    total = (body_size + 0xFFF) // 0x1000 * 0x1000
    segment = struct.pack("<II16sQQQQiiII", LC_SEGMENT_64, 72, b"__TEXT", 0, total, 0, total,
                          5, 5, nsects, 0)
    cmds.insert(0, segment)
    size = sum(map(len, cmds))
    subtype = 3 if cputype == CPU_X86_64 else 0
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, cputype, subtype, 6,
                         len(cmds) if ncmds is None else ncmds,
                         size if sizeofcmds is None else sizeofcmds, 0x85, 0)
    return (header + b"".join(cmds)).ljust(total, b"\0")


def build_fat(slices: Sequence[tuple[int, bytes]], *, nfat_arch: int | None = None,
              placements: Sequence[tuple[int, int]] | None = None) -> bytes:
    """A fat (universal) file; ``placements`` overrides each slice's (offset, size)."""
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(slices) if nfat_arch is None
                                else nfat_arch))
    pos = 0x1000
    laid: list[tuple[int, int]] = []
    for _cpu, blob in slices:
        laid.append((pos, len(blob)))
        pos += (len(blob) + 0xFFF) // 0x1000 * 0x1000
    for i, (cpu, _blob) in enumerate(slices):
        off, size = placements[i] if placements else laid[i]
        out += struct.pack(">iiIII", cpu, 3 if cpu == CPU_X86_64 else 0, off, size, 12)
    image = bytearray(out.ljust(pos, b"\0"))
    for (off, _size), (_cpu, blob) in zip(laid, slices, strict=True):
        image[off : off + len(blob)] = blob
    return bytes(image)


def build_pe(*, e_lfanew: int = 0x80, sections: int = 1) -> bytes:
    """A minimal PE32+ DLL header (wheelguard does not parse PE yet)."""
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x8664, sections, 0, 0, 0, 240, 0x2022)
    opt = bytearray(240)
    struct.pack_into("<H", opt, 0, 0x20B)
    struct.pack_into("<I", opt, 108, 16)
    sect = struct.pack("<8sIIIIIIHHI", b".text", 0x10, 0x1000, 0x200, 0x200, 0, 0, 0, 0,
                       0x60000020)
    body = bytes(dos) + coff + bytes(opt) + sect
    return body.ljust(0x200, b"\0") + b"\xc3".ljust(0x200, b"\0")


# ==== bombs ==================================================================================


def _bits(data: bytes) -> str:
    return bin(int.from_bytes(data, "big"))[2:].zfill(len(data) * 8)


_BZ_BLOCK = _bits(bytes.fromhex("314159265359"))
_BZ_END = _bits(bytes.fromhex("177245385090"))


def bzip2_zeros(blocks: int) -> tuple[bytes, int]:
    """A bzip2 stream of ``blocks`` identical full blocks of zeros: (stream, inflated size).

    bzip2 compresses one 100k block (~5 MB of zeros after its run-length stage) to ~40 bytes;
    a block is spliced bit by bit so that a 4 GB expansion costs one small compression."""
    unit = 5_100_000
    sample = bz2.compress(bytes(unit * 3), 1)
    bits = _bits(sample)
    starts = [i for i in range(len(bits)) if bits.startswith(_BZ_BLOCK, i)]
    first, second = bits[starts[0] : starts[1]], bits[starts[1] : starts[2]]
    if first != second:
        msg = "bzip2 blocks of zeros differ: cannot splice"
        raise RuntimeError(msg)
    per_block = len(bz2.decompress(_bzip2_stream(first, 1)))
    return _bzip2_stream(first, blocks), per_block * blocks


def _bzip2_stream(block: str, count: int) -> bytes:
    crc = int(block[48:80], 2)
    combined = 0
    for _ in range(count):
        combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ crc
    bits = block * count + _BZ_END + format(combined, "032b")
    bits += "0" * (-len(bits) % 8)
    return b"BZh1" + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_compose(a: list[int], b: list[int]) -> list[int]:
    """The operator ``a`` after ``b``."""
    return [_gf2_times(a, b[n]) for n in range(32)]


def _zeros_operator(n: int) -> list[int]:
    """The GF(2) operator that appends ``n`` zero bytes to a CRC-32 (zlib's crc32_combine)."""
    odd = [0xEDB88320] + [1 << k for k in range(31)]
    even = _gf2_compose(odd, odd)
    odd = _gf2_compose(even, even)
    result = [1 << k for k in range(32)]
    while n:
        even = _gf2_compose(odd, odd)
        if n & 1:
            result = _gf2_compose(even, result)
        n >>= 1
        if not n:
            break
        odd = _gf2_compose(even, even)
        if n & 1:
            result = _gf2_compose(odd, result)
        n >>= 1
    return result


@dataclass(frozen=True)
class _Overlapped:
    name: bytes
    offset: int
    crc: int
    compress_size: int
    file_size: int


def quoted_overlap_bomb(members: int, kernel_size: int) -> tuple[bytes, list[_Overlapped]]:
    """David Fifield's quoted-overlap construction: each member's deflate stream begins with a
    stored block that quotes the next member's local header, so every member inflates to the
    headers after it plus one shared kernel. Returns the local part of the archive and, per
    member, what its central entry must say."""
    names = [f"demo/o{i:04d}.bin".encode() for i in range(members)]
    # Local headers carry no CRC or sizes (readers take them from the central directory), so
    # a header's bytes do not depend on what it quotes.
    headers = [
        _LOCAL.pack(b"PK\x03\x04", 20, 0, 8, _DOS_TIME, _DOS_DATE, 0, 0, 0, len(n), 0) + n
        for n in names
    ]
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = packer.compress(bytes(kernel_size)) + packer.flush()
    length = len(headers[0])
    quote = b"\x00" + struct.pack("<HH", length, length ^ 0xFFFF)  # stored, not final
    layout = bytearray()
    offsets = []
    for i, h in enumerate(headers):
        offsets.append(len(layout))
        layout += h
        if i + 1 < members:
            layout += quote
    end = len(layout) + len(kernel)
    layout += kernel
    # Backwards: member i inflates to headers[i+1:] + kernel, so
    # crc_i = crc32_combine(crc32(headers[i+1]), crc_{i+1}, size_{i+1}).
    crcs = [0] * members
    sizes = [0] * members
    crcs[-1], sizes[-1] = zlib.crc32(bytes(kernel_size)), kernel_size
    shift = _zeros_operator(kernel_size)
    step = _zeros_operator(length)
    for i in range(members - 2, -1, -1):
        crcs[i] = _gf2_times(shift, zlib.crc32(headers[i + 1])) ^ crcs[i + 1]
        sizes[i] = sizes[i + 1] + length
        shift = _gf2_compose(shift, step)
    return bytes(layout), [
        _Overlapped(names[i], offsets[i], crcs[i], end - (offsets[i] + length), sizes[i])
        for i in range(members)
    ]


def overlap_bomb_wheel(members: int = 4000, kernel_size: int = 8_000_000) -> bytes:
    """The quoted-overlap members first, then an honest METADATA/WHEEL/RECORD."""
    layout, overlapped = quoted_overlap_bomb(members, kernel_size)
    tail = bytearray()
    central = bytearray()
    attr = (stat.S_IFREG | 0o644) << 16
    for o in overlapped:
        central += _CENTRAL.pack(b"PK\x01\x02", (3 << 8) | 20, 20, 0, 8, _DOS_TIME, _DOS_DATE,
                                 o.crc, o.compress_size, o.file_size, len(o.name), 0, 0, 0, 0,
                                 attr, o.offset) + o.name
    for e in wheel_entries({}):
        payload = compress(e.method, e.data)
        at = len(layout) + len(tail)
        name = e.raw_name()
        crc = zlib.crc32(e.data)
        tail += _LOCAL.pack(b"PK\x03\x04", 20, 0, e.method, _DOS_TIME, _DOS_DATE, crc,
                            len(payload), len(e.data), len(name), 0) + name + payload
        central += _CENTRAL.pack(b"PK\x01\x02", (3 << 8) | 20, 20, 0, e.method, _DOS_TIME,
                                 _DOS_DATE, crc, len(payload), len(e.data), len(name), 0, 0, 0,
                                 0, attr, at) + name
    body = layout + bytes(tail)
    n = members + 3
    return body + bytes(central) + _EOCD.pack(b"PK\x05\x06", 0, 0, n, n, len(central),
                                              len(body), 0)


# ==== cases ==================================================================================


@dataclass
class Case:
    """One corpus case: how to build its files, what to run, what must happen."""

    id: str
    cls: str
    issue: int
    description: str
    build: Callable[[Path], None]
    commands: list[dict[str, Any]]
    installers: str | None = None
    """The wheel (relative to the case directory) that pip and installer are tried on."""
    needs_nonroot: bool = False
    """Run as an unprivileged user when the harness is root (root ignores permissions, and
    would replace device files the case names)."""
    note: str = ""

    def manifest(self) -> dict[str, Any]:
        return {"id": self.id, "class": self.cls, "issue": self.issue,
                "description": self.description, "commands": self.commands,
                "installers": self.installers, "needs_nonroot": self.needs_nonroot,
                "note": self.note}


def command(argv: Sequence[str], expect: str, **kw: Any) -> dict[str, Any]:
    """One command of a case. Keys beyond argv/expect (all optional):

    accept (other outcomes that also meet the expectation), codes (exit codes that count as
    ``refuse``; default [2]), mention (substrings the refusal must contain), finding (a check
    code the output must name), must_print (literal strings stdout must show, e.g. rich markup
    that must not be interpreted), forbid_lines (no output line may start with these),
    outputs (file names allowed in {out} after a successful run), env, timeout, max_rss_mb,
    devices (paths that must still be character devices afterwards).
    """
    if expect not in ("ok", "refuse", "error-finding"):
        msg = f"unknown expectation {expect!r}"
        raise ValueError(msg)
    return {"argv": list(argv), "expect": expect, **kw}


def audit(wheel: str, expect: str, *extra: str, **kw: Any) -> dict[str, Any]:
    return command(["audit", *extra, f"{{case}}/{wheel}"], expect, **kw)


def show(wheel: str, expect: str, **kw: Any) -> dict[str, Any]:
    return command(["show", f"{{case}}/{wheel}"], expect, **kw)


def repair(wheel: str, expect: str, *extra: str, **kw: Any) -> dict[str, Any]:
    if expect == "refuse":
        kw.setdefault("codes", [2, 3])
    if expect == "ok":
        kw.setdefault("outputs", [Path(wheel).name])
    return command(["repair", *extra, "-w", "{out}", f"{{case}}/{wheel}"], expect, **kw)


CASES: list[Case] = []


def case(id_: str, cls: str, issue: int, description: str,  # noqa: PLR0917 - a table row
         build: Callable[[Path], None], commands: list[dict[str, Any]], **kw: Any) -> None:
    if any(c.id == id_ for c in CASES):
        msg = f"duplicate case id {id_}"
        raise ValueError(msg)
    CASES.append(Case(id_, cls, issue, description, build, commands, **kw))


def put(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    def build(d: Path) -> None:
        (d / name).write_bytes(data() if callable(data) else data)
    return build


def refused_wheel(id_: str, description: str, make: Callable[[], bytes], *,
                  mention: Sequence[str] = (), note: str = "", installers: bool = True,
                  cls: str = "archive", issue: int = 14, with_show: bool = False,
                  max_rss_mb: int | None = None) -> None:
    """A wheel every command must refuse, writing nothing."""
    kw: dict[str, Any] = {"mention": list(mention)} if mention else {}
    if max_rss_mb is not None:
        kw["max_rss_mb"] = max_rss_mb
    cmds = [audit(NAME, "refuse", **kw), repair(NAME, "refuse", **kw)]
    if with_show:
        cmds.append(show(NAME, "refuse", **kw))
    case(id_, cls, issue, description, put(NAME, make), cmds,
         installers=NAME if installers else None, note=note)


def hostile(*entries: Entry, **kw: Any) -> Callable[[], bytes]:
    return lambda: wheel_bytes(extra=list(entries), **kw)


# ---- archive: names ------------------------------------------------------------------------

for _id, _name, _why in [
    ("dotdot", "demo/../../evil.py", "a member climbing out of the install root"),
    ("dotdot-leading", "../evil.py", "a member starting with '..'"),
    ("dotdot-directory-entry", "../evil/", "a directory entry climbing out (installers create "
                                           "directories too)"),
    ("absolute", "/tmp/wheelguard-hostile-abs/evil.py", "an absolute member path"),
    ("drive-slash", "C:/evil.py", "a drive-letter path with a slash"),
    ("drive-backslash", "C:\\evil.py", "a drive-letter path with a backslash"),
    ("drive-relative", "C:evil.py", "a drive-relative path (C:evil)"),
    ("unc", "//server/share/evil.py", "a UNC path"),
    ("backslash", "demo\\evil.py", "a backslash separator (a directory on Windows only)"),
    ("dot-component", "demo/./evil.py", "a '.' component (not in normal form)"),
    ("empty-component", "demo//evil.py", "an empty component"),
]:
    _mode_for = stat.S_IFDIR | 0o755 if _name.endswith("/") else stat.S_IFREG | 0o644
    refused_wheel(f"archive/name-{_id}", f"Member name {_name!r}: {_why}.",
                  hostile(Entry(_name, b"x" if not _name.endswith("/") else b"",
                                mode=_mode_for, in_record=not _name.endswith("/"))),
                  mention=["evil"])

refused_wheel(
    "archive/name-nul", "A NUL in a member name: zipfile (and so pip) cuts the name at the NUL "
    "and shows 'demo/evil', other unzippers show the whole name; RECORD lists the cut name so "
    "only the NUL is wrong.",
    hostile(Entry("demo/evil\x00.py", b"x", record_as="demo/evil")), mention=["evil"])
refused_wheel(
    "archive/name-non-utf8-no-flag", "A name with a 0xFF byte and no UTF-8 flag: zipfile "
    "decodes it as cp437, others as the local code page; RECORD lists the cp437 reading.",
    hostile(Entry(b"demo/evil\xff.py", b"x", record_as="demo/evil\u00a0.py")), mention=["evil"])
refused_wheel(
    "archive/name-utf8-bytes-no-flag", "UTF-8 bytes (é) in a name without the UTF-8 flag: "
    "zipfile reads 'Ã©' (cp437), a UTF-8 reader reads 'é'; RECORD lists zipfile's reading.",
    hostile(Entry("demo/evil\u00e9.py".encode(), b"x", record_as="demo/evil\u251c\u2310.py")),
    mention=["evil"])
refused_wheel(
    "archive/name-invalid-utf8-with-flag", "The UTF-8 flag set on a name that is not UTF-8.",
    hostile(Entry(b"demo/evil\xff.py", b"x", flags=0x800, in_record=False)))
for _id, _sep in [("formfeed", "\x0c"), ("vtab", "\x0b"), ("u2028", "\u2028"),
                  ("u2029", "\u2029"), ("nel", "\x85"), ("cr", "\r"), ("lf", "\n"),
                  ("escape", "\x1b[31m"), ("tab", "\t")]:
    refused_wheel(
        f"archive/name-control-{_id}",
        f"A member name holding {_sep!r}: a line break or control character that splits or "
        "rewrites a log line (and that Windows cannot store).",
        hostile(Entry(f"demo/evil{_sep}x.py", b"x")), mention=["evil"])

for _sys, _label in [(0, "FAT/Windows"), (3, "Unix"), (19, "OS X")]:
    refused_wheel(
        f"archive/symlink-create-system-{_sys}",
        f"A member whose external attributes say symlink (S_IFLNK), written by create_system "
        f"{_sys} ({_label}); extractors differ on which systems' mode bits they honour.",
        hostile(Entry("demo/evil-link", b"/etc/passwd", create_system=_sys,
                      mode=stat.S_IFLNK | 0o777)), mention=["evil"])

refused_wheel("archive/duplicate-name", "The same member name twice, different contents.",
              hostile(Entry("demo/__init__.py", b"evil = 1\n")), mention=["__init__"])
refused_wheel(
    "archive/duplicate-after-nul", "Two names that differ only after a NUL: zipfile sees the "
    "same name twice.",
    hostile(Entry("demo/evil\x00a", b"a", record_as="demo/evil"),
            Entry("demo/evil\x00b", b"b", in_record=False)), mention=["evil"])
def conflicting_wheel(id_: str, description: str, make: Callable[[], bytes], finding: str, *,
                      note: str = "") -> None:
    """A readable archive whose member paths cannot all be installed: an error finding (a
    refusal would do too) from audit, a refusal from repair (issue 19: a finding, with docs)."""
    case(id_, "archive", 19, description, put(NAME, make),
         [audit(NAME, "error-finding", accept=["refuse"], finding=finding),
          repair(NAME, "refuse")], installers=NAME, note=note)


conflicting_wheel(
    "archive/file-and-directory", "A file 'demo/evil' and a file under 'demo/evil/': no "
    "filesystem holds both.",
    hostile(Entry("demo/evil", b"x"), Entry("demo/evil/inner.py", b"y")), "WG510")
refused_wheel(
    "archive/file-and-directory-entry", "A file 'demo/evil' and a directory entry "
    "'demo/evil/'.",
    hostile(Entry("demo/evil", b"x"), Entry("demo/evil/", b"", mode=stat.S_IFDIR | 0o755,
                                             in_record=False)), mention=["evil"])
conflicting_wheel(
    "archive/case-collision", "'demo/Evil.py' and 'demo/evil.py': one file on macOS and "
    "Windows, so one of them is lost there.",
    hostile(Entry("demo/Evil.py", b"A = 1\n"), Entry("demo/evil.py", b"a = 1\n")), "WG511",
    note="An error for a wheel that installs on macOS or Windows (this one: py3-none-any); a "
         "warning for one only Linux installs.")
conflicting_wheel(
    "archive/unicode-normalization-collision", "'demo/évil.py' in NFC and NFD: one file on "
    "macOS (which normalises names), two elsewhere.",
    hostile(Entry(unicodedata.normalize("NFC", "demo/\u00e9vil.py"), b"a = 1\n"),
            Entry(unicodedata.normalize("NFD", "demo/\u00e9vil.py"), b"b = 1\n")), "WG511")
refused_wheel(
    "archive/directory-entry-with-data", "A directory entry ('demo/evil/') that carries 5 bytes "
    "of data, which no RECORD row covers.",
    hostile(Entry("demo/evil/", b"hello", mode=stat.S_IFDIR | 0o755, in_record=False)),
    mention=["evil"])
refused_wheel(
    "archive/name-component-too-long", "A member name with a 300-byte component: no common "
    "filesystem can create it (NAME_MAX 255), so no installer can install the wheel.",
    hostile(Entry("demo/" + "e" * 300 + ".py", b"x")), issue=19)
refused_wheel(
    "archive/name-10k", "A 10,000-character member name (one component).",
    hostile(Entry("demo/" + "a" * 10_000, b"x")), issue=19)

# ---- archive: structure ---------------------------------------------------------------------


def _two_central_one_local() -> bytes:
    entries = wheel_entries(extra=[Entry("demo/evil.py", b"x", points_at="demo/__init__.py")])
    # The good __init__.py must come before the entry pointing at it in the directory: order
    # does not matter to build_zip, which writes locals first.
    return build_zip(entries)


def _size_over_next() -> bytes:
    data = build_zip(wheel_entries(extra=[Entry("demo/evil.py", b"evil = 1\n")]))
    payload_at = 30 + len("demo/evil.py")
    nxt = data.find(b"PK\x03\x04", 4)
    # The evil member's compressed size runs 64 bytes into the next member's local header.
    return _patch_central(data, "demo/evil.py", compress_size=nxt - payload_at + 64)


def _patch_central(data: bytes, name: str, **values: int) -> bytes:
    fields = {"flags": (8, "H"), "method": (10, "H"), "crc": (16, "I"), "compress_size": (20, "I"),
              "file_size": (24, "I"), "version_needed": (6, "H"), "offset": (42, "I"),
              "version_made": (4, "H"), "external_attr": (38, "I")}
    buf = bytearray(data)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == name.encode():
            for k, v in values.items():
                off, fmt = fields[k]
                struct.pack_into("<" + fmt, buf, pos + off, v)
            return bytes(buf)
        pos = data.find(b"PK\x01\x02", pos + 4)
    msg = f"no central entry {name}"
    raise KeyError(msg)


def _patch_local(data: bytes, name: str, **values: int) -> bytes:
    fields = {"flags": (6, "H"), "crc": (14, "I"), "compress_size": (18, "I"),
              "file_size": (22, "I")}
    buf = bytearray(data)
    pos = data.find(b"PK\x03\x04")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 26)[0]
        if data[pos + 30 : pos + 30 + name_len] == name.encode():
            for k, v in values.items():
                off, fmt = fields[k]
                struct.pack_into("<" + fmt, buf, pos + off, v)
            return bytes(buf)
        pos = data.find(b"PK\x03\x04", pos + 4)
    msg = f"no local header {name}"
    raise KeyError(msg)


refused_wheel(
    "archive/overlap-two-central-one-local", "Two central entries with different names point "
    "at one local header.", _two_central_one_local, mention=["evil"])
refused_wheel(
    "archive/overlap-size-runs-over-next", "A member whose declared compressed size runs over "
    "the next member's local header (its deflate stream ends earlier, so a reader that stops "
    "at the end marker does not notice).", _size_over_next, mention=["evil"])
case("archive/overlap-quoted-bomb-4000", "archive", 14,
     "4,000 members whose data overlap (Fifield's quoted-overlap construction): each inflates to "
     "~8 MB, under the per-member ratio floor, and all share one 8 KB kernel; 32 GB in total. "
     "The central directory alone shows the overlap.",
     put(NAME, overlap_bomb_wheel), [audit(NAME, "refuse", max_rss_mb=512)],
     installers=None,
     note="pip on this interpreter (3.11.7, before gh-109858) inflates the whole 32 GB too.")


def _bomb_ratio() -> bytes:
    return wheel_bytes(extra=[Entry("demo/evil.bin", bytes(16 << 20))])


def _bomb_declared() -> bytes:
    return _patch_central(wheel_bytes(extra=[Entry("demo/evil.bin", b"x" * 64)]),
                          "demo/evil.bin", file_size=0xFFFFFFF0)


def _bomb_nested() -> bytes:
    inner = wheel_bytes(extra=[Entry("demo/evil.bin", bytes(16 << 20))])
    return wheel_bytes({**PAYLOAD, "demo/inner.whl": inner})


def _bomb_bzip2() -> bytes:
    stream, _size = bzip2_zeros(900)
    return wheel_bytes(extra=[Entry("demo/evil.bin", bytes(16), method=zipfile.ZIP_BZIP2,
                                    payload=stream)])


def _bomb_lzma() -> bytes:
    payload = _lzma_member(bytes(256 << 20))
    return wheel_bytes(extra=[Entry("demo/evil.bin", bytes(16), method=zipfile.ZIP_LZMA,
                                    payload=payload)])


def _bomb_deflate_lying() -> bytes:
    return wheel_bytes(extra=[Entry("demo/evil.bin", bytes(16),
                                    payload=compress(8, bytes(7 << 20)))])


refused_wheel("archive/bomb-ratio", "One member inflating 16 MB of zeros from 16 KB.",
              _bomb_ratio, mention=["evil"])
refused_wheel("archive/bomb-declared-size", "A member declaring 4 GB.", _bomb_declared,
              mention=["evil"])
case("archive/bomb-nested-wheel", "archive", 14,
     "A wheel inside the wheel, itself a ratio bomb: wheelguard must not open it.",
     put(NAME, _bomb_nested), [audit(NAME, "ok"), repair(NAME, "ok")], installers=NAME)
refused_wheel(
    "archive/bomb-bzip2-declared-tiny", "A bzip2 member declaring 16 bytes (and the CRC of "
    "16 zeros) whose stream inflates to 4.6 GB: a reader that inflates a whole read before "
    "cutting to the declared size holds it all in memory.", _bomb_bzip2, mention=["evil"],
    max_rss_mb=200)
refused_wheel(
    "archive/bomb-lzma-declared-tiny", "An LZMA member declaring 16 bytes whose stream inflates "
    "to 256 MB.", _bomb_lzma, mention=["evil"], max_rss_mb=200)
refused_wheel(
    "archive/bomb-deflate-declared-tiny", "A deflate member declaring 16 bytes whose stream "
    "inflates to 7 MB (the deflate path stops at the declared size).", _bomb_deflate_lying,
    mention=["evil"])


def _prepended(adjusted: bool) -> Callable[[], bytes]:
    sfx = b"#!/bin/sh\necho 'a shell script before the zip'\nexit 0\n".ljust(4096, b"#")
    return lambda: wheel_bytes(prefix=sfx, prefix_in_offsets=adjusted)


refused_wheel("archive/prepended-data", "4 KB of shell script before the first local header, "
              "offsets relative to the zip part (cat sfx x.whl): zipfile silently corrects "
              "every offset.", _prepended(False))
refused_wheel("archive/prepended-data-offsets-adjusted", "4 KB of shell script before the "
              "first local header, offsets counting it (zip -A): a polyglot file.",
              _prepended(True))
refused_wheel("archive/bytes-removed-before-first-header", "Every recorded offset is 100 "
              "bytes too large (bytes cut from the front of the file): zipfile silently "
              "corrects them.", lambda: wheel_bytes(offset_shift=100))
refused_wheel("archive/trailing-data", "Data after the end-of-directory record (another "
              "archive appended): zipfile ignores it.",
              lambda: wheel_bytes(trailer=b"PK\x03\x04" + b"appended" * 64))


def _zip64_consistent() -> bytes:
    # Both headers mark the sizes 0xFFFFFFFF and carry them in a zip64 extra field (the local
    # header needs its own: a streaming reader sees only that one).
    sizes = zip64_extra(12, len(compress(8, b"zip64 sizes\n")))
    return wheel_bytes(extra=[Entry("demo/evil.txt", b"zip64 sizes\n", compress_size=0xFFFFFFFF,
                                    file_size=0xFFFFFFFF, extra=sizes, local={"extra": sizes},
                                    version_needed=45)])


def _zip64_inconsistent_local() -> bytes:
    data = b"zip64 sizes\n"
    packed = compress(8, data)
    return wheel_bytes(extra=[Entry("demo/evil.txt", data, local={
        "compress_size": 0xFFFFFFFF, "file_size": 0xFFFFFFFF,
        "extra": zip64_extra(len(data) * 1000, len(packed) * 1000)}, version_needed=45)])


def _zip64_short_extra() -> bytes:
    return wheel_bytes(extra=[Entry("demo/evil.txt", b"x", compress_size=0xFFFFFFFF,
                                    file_size=0xFFFFFFFF, extra=struct.pack("<HHI", 1, 4, 1))])


def _zip64_huge() -> bytes:
    return wheel_bytes(extra=[Entry("demo/evil.txt", b"x", compress_size=0xFFFFFFFF,
                                    file_size=0xFFFFFFFF, extra=zip64_extra(1 << 62, 3))])


case("archive/zip64-unneeded-but-consistent", "archive", 14,
     "A small member whose central entry uses a zip64 extra for its sizes (legal).",
     put(NAME, _zip64_consistent), [audit(NAME, "ok"), repair(NAME, "ok")], installers=NAME)
refused_wheel("archive/zip64-local-disagrees", "The local header's zip64 extra declares "
              "sizes 1000x those of the central directory: a streaming extractor sees another "
              "member than a directory reader.", _zip64_inconsistent_local, mention=["evil"])
refused_wheel("archive/zip64-extra-too-short", "A zip64 extra field too short for the sizes "
              "it must hold.", _zip64_short_extra)
refused_wheel("archive/zip64-huge-size", "A zip64 extra declaring a 2^62-byte member.",
              _zip64_huge, mention=["evil"])
refused_wheel("archive/eocd-count-disagrees", "The end record counts 3 members while the "
              "directory holds 5: readers that trust the count see fewer members.",
              lambda: wheel_bytes(eocd_entries=3))
refused_wheel("archive/zip64-eocd-count-huge", "A zip64 end record declaring 10^9 members for "
              "a directory of 4.", lambda: wheel_bytes(zip64_eocd_entries=10**9))
refused_wheel("archive/encrypted", "A member with the traditional-encryption flag.",
              lambda: _patch_central(wheel_bytes(), "demo/data.txt", flags=0x1),
              mention=["data.txt"])
refused_wheel("archive/strong-encryption-flag", "A member with only the strong-encryption flag "
              "(bit 6): zipfile refuses to read it, so pip cannot install the wheel.",
              lambda: _patch_central(wheel_bytes(), "demo/data.txt", flags=0x40),
              mention=["data.txt"])
refused_wheel("archive/patched-data-flag", "A member flagged as compressed patched data "
              "(bit 5), which zipfile refuses.",
              lambda: _patch_central(wheel_bytes(), "demo/data.txt", flags=0x20),
              mention=["data.txt"])
refused_wheel("archive/truncated-central-directory", "The central directory cut short, the "
              "end record kept.", lambda: wheel_bytes(cut_central=60))
refused_wheel("archive/version-needed-too-high", "'Version needed to extract' 9.9 (above "
              "zipfile's 6.3): zipfile raises NotImplementedError on open.",
              lambda: _patch_central(wheel_bytes(), "demo/data.txt", version_needed=99))
refused_wheel("archive/unknown-method", "Compression method 99 (AES in WinZip's scheme).",
              lambda: _patch_central(wheel_bytes(), "demo/data.txt", method=99),
              mention=["data.txt"])
refused_wheel("archive/local-name-differs", "The local header names another file than the "
              "central directory.",
              lambda: build_zip(wheel_entries(extra=[
                  Entry("demo/evil.py", b"x", local={"name": b"demo/good.py"})])),
              mention=["evil"])
refused_wheel("archive/local-sizes-differ", "The local header declares other sizes and CRC "
              "than the central directory (a streaming extractor trusts the local header).",
              lambda: _patch_local(wheel_bytes(), "demo/data.txt", file_size=5, crc=1),
              mention=["data.txt"])

# ---- metadata (issue 19) -------------------------------------------------------------------


def uninstallable(id_: str, description: str, make: Callable[[], bytes], *,
                  finding: str | None = None, note: str = "",
                  expect: str = "error-finding", record_only: bool = False) -> None:
    """A readable archive that an installer refuses (or must refuse): audit never exits 0.

    Repair must refuse it too, unless only RECORD is wrong (``record_only``): repair writes
    RECORD afresh from the bytes it copies, so its output is right either way.
    """
    kw: dict[str, Any] = {"accept": ["refuse"] if expect == "error-finding" else
                          ["error-finding"]}
    if finding:
        kw["finding"] = finding
    fix = repair(NAME, "ok", accept=["refuse"], codes=[2, 3]) if record_only else \
        repair(NAME, "refuse")
    case(id_, "metadata", 19, description, put(NAME, make), [audit(NAME, expect, **kw), fix],
         installers=NAME, note=note)


def installable(id_: str, description: str, make: Callable[[], bytes], note: str = "") -> None:
    case(id_, "metadata", 19, description, put(NAME, make),
         [audit(NAME, "ok"), repair(NAME, "ok")], installers=NAME, note=note)


def _meta(text: bytes) -> Callable[[], bytes]:
    return lambda: wheel_bytes(meta=text)


def _wheel(text: bytes) -> Callable[[], bytes]:
    return lambda: wheel_bytes(wheel=text)


uninstallable("metadata/metadata-empty", "METADATA is empty.", _meta(b""))
uninstallable("metadata/metadata-not-utf8", "METADATA holds a Latin-1 byte (Summary: café).",
              _meta(metadata("demo", "1.0", "Summary: caf\xe9").replace(b"\xc3\xa9", b"\xe9")))
uninstallable("metadata/metadata-no-name", "METADATA lacks Name.",
              _meta(b"Metadata-Version: 2.1\nVersion: 1.0\n"))
uninstallable("metadata/metadata-no-version", "METADATA lacks Version.",
              _meta(b"Metadata-Version: 2.1\nName: demo\n"))
uninstallable("metadata/metadata-name-differs", "METADATA Name is 'other' in demo's wheel.",
              _meta(metadata("other", "1.0")))
uninstallable("metadata/metadata-version-differs", "METADATA Version is 2.0 in a 1.0 wheel.",
              _meta(metadata("demo", "2.0")))
uninstallable("metadata/metadata-version-9", "Metadata-Version: 9.0 (a major version no tool "
              "knows; the core metadata spec says tools must fail).",
              _meta(metadata().replace(b"Metadata-Version: 2.1", b"Metadata-Version: 9.0")))
uninstallable("metadata/wheel-version-9", "Wheel-Version: 9.0 (installers refuse major > 1).",
              _wheel(wheel_file(version="9.0")))
installable("metadata/wheel-version-1-9", "Wheel-Version: 1.9 (a newer minor: installers "
            "warn and install).", _wheel(wheel_file(version="1.9")))
uninstallable("metadata/wheel-no-root-is-purelib", "WHEEL lacks Root-Is-Purelib (installer "
              "reads it unconditionally).",
              _wheel(b"Wheel-Version: 1.0\nGenerator: x\nTag: py3-none-any\n"))
uninstallable("metadata/wheel-no-wheel-version", "WHEEL lacks Wheel-Version.",
              _wheel(b"Generator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
              expect="refuse")
def inconsistent(id_: str, description: str, make: Callable[[], bytes], finding: str) -> None:
    """Installable (installers go by the file name) but inconsistent: a warning, so audit
    passes by default and fails with --fail-on warning, and repair goes ahead."""
    case(id_, "metadata", 19, description, put(NAME, make),
         [audit(NAME, "ok"), audit(NAME, "error-finding", "--fail-on", "warning",
                                   finding=finding), repair(NAME, "ok")], installers=NAME,
         note="A warning: pip and installer go by the file name's tags, and published wheels "
              "(cupy 14.2, old z3-solver) carry WHEEL tags that differ.")


inconsistent("metadata/wheel-tags-differ", "WHEEL's Tag (cp27-cp27mu-linux_armv6l) is not the "
             "file name's (py3-none-any).", _wheel(wheel_file(tags=["cp27-cp27mu-linux_armv6l"])),
             "WG506")
inconsistent("metadata/wheel-no-tags", "WHEEL has no Tag line.", _wheel(wheel_file(tags=[])),
             "WG506")
uninstallable("metadata/dist-info-other-project", "The .dist-info directory is "
              "other-1.0.dist-info in demo's wheel.",
              lambda: wheel_bytes(dist_info="other-1.0.dist-info"))
uninstallable("metadata/dist-info-other-version", "The .dist-info directory is "
              "demo-2.0.dist-info in a 1.0 wheel.",
              lambda: wheel_bytes(dist_info="demo-2.0.dist-info"))


def _rows(edit: Callable[[Rows], None]) -> Callable[[], bytes]:
    def make() -> bytes:
        def change(rows: Rows) -> Rows:
            edit(rows)
            return rows
        return wheel_bytes(record_rows=change)
    return make


def _init_row(rows: Rows) -> list[str]:
    return next(r for r in rows if r[0] == "demo/__init__.py")


def _rehash(algorithm: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        _init_row(rows)[1] = record_digest(PAYLOAD["demo/__init__.py"], algorithm)
    return edit


def _set(index: int, value: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        _init_row(rows)[index] = value
    return edit


uninstallable("metadata/record-unknown-algorithm", "A RECORD hash 'foo=...'.",
              _rows(_set(1, "foo=abc")), finding="WG501", record_only=True)
uninstallable("metadata/record-md5", "A RECORD hash in md5 (forbidden: sha256 or better).",
              _rows(_rehash("md5")), finding="WG501", record_only=True)
uninstallable("metadata/record-sha1", "A RECORD hash in sha1 (forbidden).",
              _rows(_rehash("sha1")), finding="WG501", record_only=True)
installable("metadata/record-sha512", "A correct RECORD hash in sha512 (allowed: 'sha256 or "
            "better').", _rows(_rehash("sha512")))
installable("metadata/record-sha384", "A correct RECORD hash in sha384 (allowed).",
            _rows(_rehash("sha384")))
uninstallable("metadata/record-no-hash", "A RECORD row without a hash.", _rows(_set(1, "")),
              finding="WG501", record_only=True)
uninstallable("metadata/record-no-size", "A RECORD row with a hash but no size.",
              _rows(_set(2, "")), finding="WG501", record_only=True)
uninstallable("metadata/record-negative-size", "A RECORD size of -5.", _rows(_set(2, "-5")),
              finding="WG501", record_only=True)
uninstallable("metadata/record-size-not-decimal", "A RECORD size of '0x3f' (not an int).",
              _rows(_set(2, "0x3f")), expect="refuse", record_only=True)
uninstallable("metadata/record-extra-column", "A RECORD row with four fields.",
              _rows(lambda rows: _init_row(rows).append("extra")), expect="refuse",
              record_only=True)


def _self_hash(rows: Rows) -> None:
    rows[-1][1:] = ["sha256=AAAA", "4"]


uninstallable("metadata/record-lists-own-hash", "RECORD lists a hash and size for itself.",
              _rows(_self_hash), finding="WG501", record_only=True)


def _padded(rows: Rows) -> None:
    row = _init_row(rows)
    raw = hashlib.sha256(PAYLOAD["demo/__init__.py"]).digest()
    row[1] = "sha256=" + base64.urlsafe_b64encode(raw).decode("ascii")


uninstallable("metadata/record-padded-base64", "A RECORD digest with '=' padding.",
              _rows(_padded), finding="WG501", record_only=True)
uninstallable("metadata/record-duplicate-row", "A member listed twice in RECORD.",
              _rows(lambda rows: rows.insert(0, list(_init_row(rows)))), finding="WG501",
              record_only=True)
uninstallable("metadata/record-dot-slash-path", "RECORD lists './demo/__init__.py'.",
              _rows(_set(0, "./demo/__init__.py")), finding="WG501", record_only=True)
uninstallable("metadata/record-lists-traversal", "RECORD lists '../../evil.py' (absent).",
              _rows(lambda rows: rows.insert(0, ["../../evil.py", "", ""])), finding="WG501",
              record_only=True)
uninstallable("metadata/record-bom", "RECORD starts with a UTF-8 byte-order mark.",
              lambda: wheel_bytes(record_bytes=b"\xef\xbb\xbf" + _record_text()),
              finding="WG501", record_only=True)
installable("metadata/record-crlf", "RECORD with CRLF line ends (csv accepts them).",
            lambda: wheel_bytes(record_bytes=_record_text().replace(b"\n", b"\r\n")))


def _record_text() -> bytes:
    entries = wheel_entries()
    return entries[-1].data


def _signatures(listed: bool) -> Callable[[], bytes]:
    files = {**PAYLOAD, f"{DIST}/RECORD.jws": b'{"signatures": []}',
             f"{DIST}/RECORD.p7s": b"0\x82\x00"}

    def drop_sigs(rows: Rows) -> Rows:
        return rows if listed else [r for r in rows if not r[0].endswith((".jws", ".p7s"))]
    return lambda: wheel_bytes(files, record_rows=drop_sigs)


installable("metadata/signatures-unlisted", "RECORD.jws and RECORD.p7s present and not in "
            "RECORD (as the spec says).", _signatures(False))
uninstallable("metadata/signatures-listed", "RECORD.jws and RECORD.p7s listed in RECORD with "
              "hashes (installer refuses).", _signatures(True), record_only=True)
uninstallable("metadata/data-unknown-scheme", "A member under demo-1.0.data/evil/ (no such "
              "scheme: pip and installer refuse).",
              lambda: wheel_bytes({**PAYLOAD, "demo-1.0.data/evil/x.txt": b"x"}))
uninstallable("metadata/entry-points-invalid", "entry_points.txt whose console script has no "
              "object reference ('demo:').",
              lambda: wheel_bytes({**PAYLOAD, f"{DIST}/entry_points.txt":
                                   b"[console_scripts]\nevil = demo:\n"}))
uninstallable("metadata/requires-dist-invalid", "An invalid Requires-Dist.",
              _meta(metadata("demo", "1.0", "Requires-Dist: foo >>> 1")), expect="refuse")

# ---- ELF members -------------------------------------------------------------------------

LIB = "demo/libhostile.so"


def elf_case(id_: str, description: str, make: Callable[[], bytes], expect: str = "error-finding",
             *, finding: str | None = None, show_expect: str = "ok",
             audit_kw: Mapping[str, Any] | None = None, show_kw: Mapping[str, Any] | None = None,
             extra: Sequence[dict[str, Any]] = (), note: str = "") -> None:
    kw = dict(audit_kw or {})
    if finding:
        kw["finding"] = finding
    cmds = [audit(ELF_WHEEL, expect, **kw), show(ELF_WHEEL, show_expect, **(show_kw or {})),
            *extra]
    case(id_, "elf", 14, description, put(ELF_WHEEL, lambda: native_wheel(LIB, make(), ELF_TAG)),
         cmds, note=note)


def elf(**kw: Any) -> Elf:
    return build_elf(**kw)


elf_case("elf/valid", "A well-formed shared object needing only libc (the control).",
         lambda: elf().bytes(), "ok",
         extra=[repair(ELF_WHEEL, "ok")])
elf_case("elf/phoff-out-of-range", "e_phoff far past the end of the file.",
         lambda: elf().put(0x20, "Q", 0xFFFFFFFF0).bytes())
elf_case("elf/shoff-out-of-range", "e_shoff far past the end of the file.",
         lambda: elf().put(0x28, "Q", 0xFFFFFFFF0).bytes())


def _pn_xnum() -> bytes:
    e = elf()
    e.put(0x38, "H", 0xFFFF)  # e_phnum = PN_XNUM: the real count is section 0's sh_info
    e.put(e.at["shdr"] + 44, "I", 0xFFFFFFFF)
    return e.bytes()


def _shnum_extended() -> bytes:
    e = elf()
    e.put(0x3C, "H", 0)  # e_shnum = 0: the real count is section 0's sh_size
    e.put(e.at["shdr"] + 32, "Q", 1 << 40)
    return e.bytes()


elf_case("elf/phnum-extended-4g", "e_phnum = PN_XNUM with section 0's sh_info = 2^32-1 "
         "(4 billion program headers).", _pn_xnum)
elf_case("elf/shnum-extended-2e40", "e_shnum = 0 with section 0's sh_size = 2^40.",
         _shnum_extended)


def _many_needed() -> bytes:
    # 440,000 DT_NEEDED entries (7 MB, under the ratio floor), all the same string.
    return elf(extra_dynamic=[(DT["NEEDED"], 1)] * 440_000).bytes()


elf_case("elf/dynamic-440k-needed", "440,000 DT_NEEDED entries (a 7 MB dynamic table, "
         "compressing 900:1 but under the 8 MB ratio floor).", _many_needed,
         note="Expected an error-level 'unreadable/over limits' finding; the point is bounded "
              "time and memory.")


def _dynamic_no_null() -> bytes:
    e = elf()
    start, end = e.at[".dynamic"], e.at[".shstrtab"]
    entries = (end - start) // 16
    e.put(start + 16 * (entries - 1), "q", DT["DEBUG"])  # the DT_NULL becomes DT_DEBUG
    return e.bytes()


elf_case("elf/dynamic-without-null", "The dynamic table has no DT_NULL: readers run on into "
         "the section name table and headers.", _dynamic_no_null)
elf_case("elf/dynsym-link-self", ".dynsym's sh_link names .dynsym itself (its string table is "
         "the symbol table).",
         lambda: patch_section(elf(), ".dynsym", "sh_link", 3).bytes())
elf_case("elf/dynsym-link-out-of-range", ".dynsym's sh_link is section 999 (of 7).",
         lambda: patch_section(elf(), ".dynsym", "sh_link", 999).bytes())
elf_case("elf/dynsym-size-2e40", ".dynsym's sh_size is 2^40.",
         lambda: patch_section(elf(), ".dynsym", "sh_size", 1 << 40).bytes())
elf_case("elf/dynsym-entsize-zero", ".dynsym's sh_entsize is 0.",
         lambda: patch_section(elf(), ".dynsym", "sh_entsize", 0).bytes(),
         note="pyelftools divides by sh_entsize in places.")


def _strtab_into_dynamic() -> bytes:
    e = elf(needed=("libhostile_missing.so",))
    return e.put(e.at["dyn:STRTAB"] + 8, "Q", e.at[".dynamic"]).bytes()


elf_case("elf/strtab-points-into-dynamic", "DT_STRTAB points at the dynamic table itself: "
         "NEEDED names are read from dynamic entries.", _strtab_into_dynamic)
elf_case("elf/needed-string-out-of-range", "A DT_NEEDED string offset of 2^32-1.",
         lambda: elf().put_at("dyn:NEEDED", 8, "Q", 0xFFFFFFFF).bytes())
elf_case("elf/soname-string-out-of-range", "A DT_SONAME string offset of 2^40.",
         lambda: elf().put_at("dyn:SONAME", 8, "Q", 1 << 40).bytes())


def _verneed_loop() -> bytes:
    e = elf(verneed=True)
    return patch_section(e, ".gnu.version_r", "sh_info", 0xFFFFFFFF).bytes()


def _verdef_loop() -> bytes:
    e = elf(verdef=True)
    return patch_section(e, ".gnu.version_d", "sh_info", 0xFFFFFFFF).bytes()


def _verneed_aux_loop() -> bytes:
    e = elf(verneed=True)
    return e.put(e.at[".gnu.version_r"] + 2, "H", 0xFFFF).bytes()  # vn_cnt, vna_next = 0


elf_case("elf/verneed-self-loop", ".gnu.version_r claims 2^32-1 entries (sh_info) and its one "
         "entry's vn_next is 0: a reader that trusts the count visits the same entry forever.",
         _verneed_loop)
elf_case("elf/verdef-self-loop", ".gnu.version_d claims 2^32-1 entries with vd_next = 0.",
         _verdef_loop)
elf_case("elf/vernaux-self-loop", "A verneed entry with vn_cnt 65535 auxiliaries, each "
         "vna_next 0 (the same auxiliary 65,535 times).", _verneed_aux_loop)
elf_case("elf/verneed-valid", "A valid .gnu.version_r needing GLIBC_2.2.5 (control).",
         lambda: elf(verneed=True).bytes(), "ok")
elf_case("elf/unknown-machine", "e_machine 0x9999 (no such architecture) in an x86_64 wheel.",
         lambda: elf(machine=0x9999).bytes(), finding="WG403")
elf_case("elf/truncated-header", "The first 40 bytes of an ELF header.",
         lambda: elf().bytes()[:40])
elf_case("elf/truncated-half", "The first half of the shared object.",
         lambda: elf().bytes()[: len(elf().bytes()) // 2])
elf_case("elf/bad-class", "EI_CLASS = 3 (neither 32 nor 64 bits).",
         lambda: elf().put(4, "B", 3).bytes())
elf_case("elf/bad-phentsize", "e_phentsize = 1.",
         lambda: elf().put(0x36, "H", 1).bytes())
elf_case("elf/no-section-headers-needed-unresolved",
         "Section headers stripped (e_shoff = e_shnum = 0), program headers intact; PT_DYNAMIC "
         "NEEDs libhostile_missing.so, which nothing provides: the loader reads PT_DYNAMIC, so "
         "must the audit.",
         lambda: strip_section_headers(elf(needed=("libhostile_missing.so",))).bytes(),
         finding="WG301")
elf_case("elf/corrupt-shstrndx-needed-unresolved",
         "e_shstrndx = 999 (no such section), program headers intact, PT_DYNAMIC NEEDs "
         "libhostile_missing.so: a section-table problem must not hide the NEEDED entry.",
         lambda: elf(needed=("libhostile_missing.so",)).put(0x3E, "H", 999).bytes(),
         finding="WG301")
def _garbage_section_headers(e: Elf) -> bytes:
    start = e.at["shdr"]
    e.data[start:] = b"\xff" * (len(e.data) - start)
    return e.bytes()


elf_case("elf/garbage-section-headers-needed-unresolved",
         "Section headers overwritten with 0xFF bytes, program headers intact, PT_DYNAMIC NEEDs "
         "libhostile_missing.so.",
         lambda: _garbage_section_headers(elf(needed=("libhostile_missing.so",))),
         finding="WG301")
elf_case("elf/no-section-headers-absolute-runpath",
         "Section headers stripped; PT_DYNAMIC carries RUNPATH /home/ci/build/lib (WG201), which "
         "the default policy relinks with patchelf.",
         lambda: strip_section_headers(elf(runpath="/home/ci/build/lib")).bytes(),
         finding="WG201",
         extra=[repair(ELF_WHEEL, "refuse", accept=["ok"])],
         note="Repair may refuse (patchelf cannot edit it) or relink it; either way no debris.")


def _large_elf(code_over_dynamic: bool) -> bytes:
    e = elf(needed=("libhostile_missing.so",), text_size=3 << 20)
    if code_over_dynamic:
        # One executable PT_LOAD over the whole file: the dynamic table lies inside code.
        e.put(64 + 8, "Q", 0).put(64 + 32, "Q", len(e.data)).put(64 + 40, "Q", len(e.data))
    return e.bytes()


elf_case("elf/large-needed-unresolved", "A 3 MB library (read through the scanner's sparse "
         "image) NEEDing libhostile_missing.so (control for the large-member path).",
         lambda: _large_elf(False), finding="WG301")
elf_case("elf/large-code-segment-over-dynamic", "A 3 MB library whose single executable "
         "PT_LOAD covers its dynamic table and NEEDs libhostile_missing.so.",
         lambda: _large_elf(True), finding="WG301")


def _large_bad_headers() -> bytes:
    e = elf(text_size=3 << 20)
    e.put(0x3A, "H", 0xFFFF)  # e_shentsize 65535 with 8 sections: the table runs past the end
    return e.bytes()


elf_case("elf/large-shentsize-huge", "A 3 MB library with e_shentsize 65535.",
         _large_bad_headers)

_MARKUP_SONAME = "[bold red]libx[/].so"
_MARKUP_NEEDED = "[link=https://example.invalid]libevil.so[/link]"
_UNBALANCED = "libevil[/].so"
elf_case("elf/markup-soname", f"SONAME {_MARKUP_SONAME!r}: rich markup that must print "
         "literally.", lambda: elf(soname=_MARKUP_SONAME).bytes(), "ok",
         show_kw={"must_print": [_MARKUP_SONAME]})
elf_case("elf/markup-needed", f"NEEDED {_MARKUP_NEEDED!r} (unresolved).",
         lambda: elf(needed=(_MARKUP_NEEDED,)).bytes(), finding="WG301",
         audit_kw={"must_print": [_MARKUP_NEEDED]}, show_kw={"must_print": [_MARKUP_NEEDED]})
elf_case("elf/markup-unbalanced-soname", f"SONAME {_UNBALANCED!r}: a closing tag with nothing "
         "to close.", lambda: elf(soname=_UNBALANCED).bytes(), "ok",
         show_kw={"must_print": [_UNBALANCED]})
elf_case("elf/ansi-soname", "SONAME holding ANSI escapes (\\x1b[31m): they must not reach the "
         "terminal raw.", lambda: elf(soname="lib\x1b[31mred\x1b[0m.so").bytes(), "ok")
elf_case("elf/ansi-needed", "NEEDED holding ANSI escapes (unresolved).",
         lambda: elf(needed=("lib\x1b[2J\x1b[31mevil.so",)).bytes(), finding="WG301")
elf_case("elf/newline-needed", "NEEDED 'libevil.so\\nwheelguard: ok' (unresolved): a forged "
         "output line.", lambda: elf(needed=("libevil.so\nFORGED: all clear",)).bytes(),
         finding="WG301", audit_kw={"forbid_lines": ["FORGED"]},
         show_kw={"forbid_lines": ["FORGED"]})


def _note_huge() -> bytes:
    e = elf()
    # Turn .text into a note section whose name size is 2^32-16.
    patch_section(e, ".text", "sh_type", 7)
    e.data[e.at[".text"] : e.at[".text"] + 12] = struct.pack("<III", 0xFFFFFFF0, 20, 3)
    return e.bytes()


elf_case("elf/note-namesz-huge", "A note section whose first note's n_namesz is 2^32-16.",
         _note_huge)

# ---- Mach-O and PE members -----------------------------------------------------------------

DYLIB = "demo/libhostile.dylib"


def macho_case(id_: str, description: str, make: Callable[[], bytes], expect: str = "error-finding",
               *, finding: str | None = None, fat: bool = False,
               show_kw: Mapping[str, Any] | None = None, note: str = "") -> None:
    wheel, tag = (FAT_WHEEL, FAT_TAG) if fat else (MACHO_WHEEL, MACHO_TAG)
    kw = {"finding": finding} if finding else {}
    case(id_, "macho", 14, description, put(wheel, lambda: native_wheel(DYLIB, make(), tag)),
         [audit(wheel, expect, **kw), show(wheel, "ok", **(show_kw or {}))], note=note)


macho_case("macho/valid", "A thin arm64 dylib (control): well formed, so the one finding is "
           "its missing code signature (WG325).", build_macho, "error-finding", finding="WG325")
macho_case("macho/fat-valid", "A fat arm64+x86_64 dylib (control): well formed, so the one "
           "finding is that its arm64 slice carries no code signature (WG325).",
           lambda: build_fat([(CPU_ARM64, build_macho()),
                              (CPU_X86_64, build_macho(cputype=CPU_X86_64))]), "error-finding",
           finding="WG325", fat=True)
macho_case("macho/name-offset-out-of-range", "LC_LOAD_DYLIB's name offset points past its "
           "command.", lambda: build_macho(name_offset=0xFFFF))
macho_case("macho/ncmds-huge", "ncmds = 2^32-1 with sizeofcmds of the real commands.",
           lambda: build_macho(ncmds=0xFFFFFFFF))
macho_case("macho/sizeofcmds-huge", "sizeofcmds = 2^32-16.",
           lambda: build_macho(sizeofcmds=0xFFFFFFF0))


def _cmdsize_zero() -> bytes:
    blob = bytearray(build_macho())
    struct.pack_into("<I", blob, 32 + 72 + 4, 0)  # LC_ID_DYLIB's cmdsize
    return bytes(blob)


macho_case("macho/cmdsize-zero", "A load command with cmdsize 0 (a naive walker never "
           "advances).", _cmdsize_zero)
macho_case("macho/segment-nsects-huge", "__TEXT declares 2^32-1 sections.",
           lambda: build_macho(nsects=0xFFFFFFFF))
macho_case("macho/unknown-cpu", "cputype 0x7777 in an arm64 wheel.",
           lambda: build_macho(cputype=0x7777), finding="WG403")
macho_case("macho/truncated", "The first 100 bytes of a dylib.", lambda: build_macho()[:100])
macho_case("macho/fat-nfat-arch-huge", "A fat header declaring 2^31-1 architectures, with a "
           ".dylib name.",
           lambda: build_fat([(CPU_ARM64, build_macho())], nfat_arch=0x7FFFFFFF), fat=True,
           note="wheelguard's magic test takes CAFEBABE with >= 20 architectures for a Java "
                "class file; for a .dylib member in a macOS wheel that is a broken binary.")
macho_case("macho/fat-nfat-arch-19", "A fat header declaring 19 architectures for 1 slice.",
           lambda: build_fat([(CPU_ARM64, build_macho())], nfat_arch=19), fat=True)
macho_case("macho/fat-overlapping-slices", "Two fat slices at the same offset.",
           lambda: build_fat([(CPU_ARM64, build_macho()), (CPU_X86_64, build_macho())],
                             placements=[(0x1000, 0x1000), (0x1000, 0x1000)]), fat=True)
macho_case("macho/fat-slice-past-end", "A fat slice at offset 2^32-4096.",
           lambda: build_fat([(CPU_ARM64, build_macho())],
                             placements=[(0xFFFFF000, 0x1000)]), fat=True)
macho_case("macho/markup-install-name", "An install name holding rich markup "
           "('@rpath/[bold]x[/].dylib').",
           lambda: build_macho(install_name="@rpath/[bold]x[/].dylib"), "error-finding",
           finding="WG325", show_kw={"must_print": ["[bold]x[/].dylib"]})

PYD = "demo/hostile.pyd"


def pe_case(id_: str, description: str, make: Callable[[], bytes]) -> None:
    case(id_, "pe", 14, description, put(PE_WHEEL, lambda: native_wheel(PYD, make(), PE_TAG)),
         [audit(PE_WHEEL, "ok", accept=["error-finding"])],
         note="wheelguard does not parse PE yet: 'ok' now, an error-level finding later.")


pe_case("pe/valid", "A minimal PE32+ DLL header (control).", build_pe)
pe_case("pe/e-lfanew-out-of-range", "e_lfanew = 2^32-16.",
        lambda: build_pe(e_lfanew=0xFFFFFFF0))
pe_case("pe/sections-huge", "NumberOfSections = 65535.", lambda: build_pe(sections=0xFFFF))
pe_case("pe/truncated", "The first 100 bytes of a PE file.", lambda: build_pe()[:100])

# ---- policies --------------------------------------------------------------------------------

POLICY = "policy.toml"


def policy_case(id_: str, description: str, text: str | bytes | Callable[[], bytes],
                expect: str = "refuse", *, mention: Sequence[str] = (),
                wheel: Callable[[], bytes] | None = None, wheel_name: str = NAME,
                wheel_expect: str | None = None, accept: Sequence[str] = (),
                note: str = "") -> None:
    def build(d: Path) -> None:
        raw = text() if callable(text) else text
        (d / POLICY).write_bytes(raw.encode("utf-8") if isinstance(raw, str) else raw)
        if wheel is not None:
            (d / wheel_name).write_bytes(wheel())
    kw: dict[str, Any] = {}
    if mention:
        kw["mention"] = list(mention)
    if accept:
        kw["accept"] = list(accept)
    cmds = [command(["policy", "check", f"{{case}}/{POLICY}"], expect, **kw)]
    if wheel is not None:
        we = wheel_expect or expect
        wkw = dict(kw) if we == expect else {}
        cmds.append(audit(wheel_name, we, "--policy", f"{{case}}/{POLICY}", **wkw))
        cmds.append(repair(wheel_name, we, "--policy", f"{{case}}/{POLICY}", **wkw))
    case(id_, "policy", 14, description, build, cmds, note=note)


_RULE = '[[rule]]\naction = "fail"\nreason = "hostile"\npath = [{glob}]\n'
policy_case("policy/valid", "A valid policy (control).", _RULE.format(glob='"demo/*.o"'), "ok",
            wheel=wheel_bytes)
policy_case("policy/malformed", "A table header cut short.", '[[rule]\naction = "fail"\n')
policy_case("policy/nested-tables-10000", "A table header 10,000 keys deep.",
            "[" + ".".join(["a"] * 10_000) + "]\nx = 1\n")
policy_case("policy/dotted-key-10000", "A dotted key 10,000 parts deep.",
            ".".join(["a"] * 10_000) + " = 1\n")
policy_case("policy/nested-inline-tables-10000", "Inline tables nested 10,000 deep.",
            "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n")
policy_case("policy/nested-arrays-10000", "Arrays nested 10,000 deep.",
            "x = " + "[" * 10_000 + "]" * 10_000 + "\n")
policy_case("policy/glob-reversed-range", "A path glob '[z-a]x' (a range the regex engine "
            "rejects).", _RULE.format(glob='"demo/[z-a]x"'), mention=["[z-a]"])
policy_case("policy/glob-range-to-backslash-class", "A path glob '[a-\\\\w]' (a range ending "
            "at a backslash: the regex engine rejects it).",
            _RULE.format(glob="'demo/[a-\\w]'"), mention=["demo/"])
policy_case("policy/glob-posix-class", "A path glob '[[:alpha:]' (a POSIX class fnmatch does "
            "not know; Python's regex engine warns about a nested set).",
            _RULE.format(glob='"demo/[[:alpha:]"'), accept=["ok"],
            note="Refusing it or accepting it literally are both fine; a FutureWarning on "
                 "stderr is not.")
policy_case("policy/glob-unterminated-backslash", "A path glob '[\\\\' (unterminated).",
            _RULE.format(glob="'demo/[\\'"), mention=["demo/"])
policy_case("policy/glob-pathological", "A fail rule '**/*a*a*a*a*a*a*a*b' and a member "
            "'demo/' + 250 'a's: a backtracking matcher takes O(n^8).",
            _RULE.format(glob='"**/*a*a*a*a*a*a*a*b"'), "ok",
            wheel=lambda: wheel_bytes(extra=[Entry("demo/" + "a" * 250, b"x")]))
policy_case("policy/glob-pathological-10k-name", "The same glob against a 10,000-character "
            "member name (which is itself uninstallable).",
            _RULE.format(glob='"**/*a*a*a*a*a*a*a*b"'), "ok",
            wheel=lambda: wheel_bytes(extra=[Entry("demo/" + "a" * 10_000, b"x")]),
            wheel_expect="refuse")
_PROVIDER = ('[[rule]]\naction = "depend-on-pip"\nlibrary = "libhostile_dep.so"\n'
             'provider = "not a valid name!!"\nversion = ">=1"\nreason = "hostile"\n')
policy_case("policy/provider-not-a-requirement", "A depend-on-pip provider 'not a valid "
            "name!!', applied to a wheel whose library NEEDs libhostile_dep.so.", _PROVIDER,
            mention=["provider"],
            wheel=lambda: native_wheel(LIB, build_elf(needed=("libhostile_dep.so",)).bytes(),
                                       ELF_TAG), wheel_name=ELF_WHEEL)
policy_case("policy/long-line-spaces", "One 200,000-character line: '[a', spaces, 'b' (a "
            "table header that never closes).", "[a" + " " * 200_000 + "b\n")
policy_case("policy/long-unknown-key", "An unknown key of 1,000,000 characters.",
            "k" * 1_000_000 + " = 1\n")
policy_case("policy/not-utf8", "A policy file in Latin-1.",
            b'[[rule]]\naction = "keep"\npath = "caf\xe9"\nreason = "x"\n')

# ---- output hazards ------------------------------------------------------------------------


def _clean(d: Path) -> None:
    (d / NAME).write_bytes(wheel_bytes())


def output_case(id_: str, description: str, commands: list[dict[str, Any]],
                build: Callable[[Path], None] = _clean, **kw: Any) -> None:
    case(id_, "output", 14, description, build, commands, **kw)


output_case("output/dev-null", "audit -o /dev/null: write the report to the device.",
            [audit(NAME, "ok", "-o", "/dev/null", devices=["/dev/null"]),
             audit(NAME, "ok", "--format", "json", "-o", "/dev/null", devices=["/dev/null"])],
            needs_nonroot=True,
            note="As root the report's temp-file-and-rename would replace /dev/null itself.")


def _file_in_the_way(d: Path) -> None:
    _clean(d)
    (d / "file.txt").write_text("a regular file\n")


output_case("output/under-regular-file", "An output path below a regular file "
            "(file.txt/report.txt, -w file.txt/out).",
            [audit(NAME, "refuse", "-o", "{case}/file.txt/report.txt"),
             command(["repair", "-w", "{case}/file.txt/out", f"{{case}}/{NAME}"], "refuse",
                     codes=[2, 3]),
             command(["repair", "-w", "{case}/file.txt", f"{{case}}/{NAME}"], "refuse",
                     codes=[2, 3])],
            _file_in_the_way)


def _read_only(d: Path) -> None:
    _clean(d)
    (d / "ro").mkdir()
    (d / "ro").chmod(0o555)


output_case("output/read-only-dir", "Report and repaired wheel into a read-only directory.",
            [audit(NAME, "refuse", "-o", "{case}/ro/report.txt"),
             command(["repair", "-w", "{case}/ro", f"{{case}}/{NAME}"], "refuse",
                     codes=[2, 3])],
            _read_only, needs_nonroot=True)


def _fifo(d: Path) -> None:
    os.mkfifo(d / NAME)


output_case("output/input-is-fifo", "The input is a FIFO with a wheel's name (nothing ever "
            "writes to it).",
            [audit(NAME, "refuse"), show(NAME, "refuse"), repair(NAME, "refuse")], _fifo)


def _dir_named_whl(d: Path) -> None:
    (d / NAME).mkdir()


output_case("output/input-is-directory", "The input is a directory named like a wheel.",
            [audit(NAME, "refuse"), repair(NAME, "refuse")], _dir_named_whl)


def _two_same_names(d: Path) -> None:
    for sub, text in (("a", b"A = 1\n"), ("b", b"B = 2\n")):
        (d / sub).mkdir()
        (d / sub / NAME).write_bytes(wheel_bytes({**PAYLOAD, "demo/__init__.py": text}))


output_case("output/repair-two-inputs-one-name", "Two different wheels with the same file name "
            "repaired into one -w directory: one would silently replace the other.",
            [command(["repair", "-w", "{out}", f"{{case}}/a/{NAME}", f"{{case}}/b/{NAME}"],
                     "refuse", codes=[2, 3])],
            _two_same_names)
output_case("output/repair-into-input-dir", "repair -w pointing at the input's own directory.",
            [command(["repair", "-w", "{case}", f"{{case}}/{NAME}"], "refuse", codes=[2, 3])])
output_case("output/report-over-input", "audit -o naming the input wheel itself.",
            [audit(NAME, "refuse", "-o", f"{{case}}/{NAME}")])


def _markup_members(d: Path) -> None:
    (d / NAME).write_bytes(wheel_bytes({
        **PAYLOAD, "demo/[bold red]evil/x.o": b"\x7fobj",
        "demo/[link=mailto:x@example.invalid]click/y.o": b"\x7fobj"}))


output_case("output/markup-member-names", "Build artifacts in directories named with rich "
            "markup (WG402 prints the directory).",
            [audit(NAME, "ok", must_print=["demo/[bold red]evil",
                                           "demo/[link=mailto:x@example.invalid]click"])],
            _markup_members)


def _markup_dir(d: Path) -> None:
    (d / "[bold]x").mkdir()
    (d / "[bold]x" / NAME).write_bytes(wheel_bytes())


output_case("output/markup-input-path", "The input wheel lies in a directory named "
            "'[bold]x' (an unclosed rich tag).",
            [command(["audit", f"{{case}}/[bold]x/{NAME}"], "ok", must_print=["[bold]x"])],
            _markup_dir)


def _newline_dir(d: Path) -> None:
    (d / "evil\nFORGED: ok").mkdir()
    (d / "evil\nFORGED: ok" / NAME).write_bytes(b"not a zip\n")


output_case("output/newline-input-path", "A broken wheel in a directory whose name holds a "
            "newline: the error must stay one line.",
            [command(["audit", f"{{case}}/evil\nFORGED: ok/{NAME}"], "refuse",
                     forbid_lines=["FORGED"])], _newline_dir)
for _id, _value, _expect in [("1e20", "1e20", "refuse"), ("negative", "-1", "refuse"),
                             ("abc", "abc", "refuse"), ("huge-int", "9" * 20, "ok"),
                             ("empty", "", "ok")]:
    output_case(f"output/source-date-epoch-{_id}",
                f"SOURCE_DATE_EPOCH={_value!r} for a repair (the reproducible-builds spec: a "
                "malformed value is an error; a valid one past 2107 clips to the zip maximum).",
                [repair(NAME, _expect, env={"SOURCE_DATE_EPOCH": _value})])


# ==== writing the corpus ========================================================================


def generate(out: Path, select: Sequence[str] = ()) -> list[Case]:
    """Write every case (or those whose id matches a glob in ``select``) under ``out``."""
    chosen = [c for c in CASES if not select or any(fnmatch.fnmatch(c.id, s) for s in select)]
    out.mkdir(parents=True, exist_ok=True)
    for c in chosen:
        d = out / c.id
        if d.exists():
            _make_writable(d)
            shutil.rmtree(d)
        d.mkdir(parents=True)
        c.build(d)
    manifest = {"schema": SCHEMA, "generator": "tests/hostile/generate.py",
                "cases": [c.manifest() for c in chosen]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=True) + "\n")
    return chosen


def _make_writable(d: Path) -> None:
    for p in [d, *d.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the corpus into")
    parser.add_argument("--select", action="append", default=[], metavar="GLOB",
                        help="only cases whose id matches (repeatable)")
    parser.add_argument("--list", action="store_true", help="list case ids and exit")
    args = parser.parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.id:55} {c.cls:9} {c.commands[0]['expect']}")
        return 0
    chosen = generate(args.out, args.select)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(chosen)} cases, {size / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
