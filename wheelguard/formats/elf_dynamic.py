"""What the dynamic loader reads of an ELF object, read the way it reads it.

``ld.so`` never looks at section headers: it maps the program headers' ``PT_LOAD`` segments,
walks ``PT_DYNAMIC`` up to ``DT_NULL`` and finds names in the string table ``DT_STRTAB``
points at (an address, mapped through ``PT_LOAD``) within ``DT_STRSZ`` bytes. So SONAME,
NEEDED, RPATH and RUNPATH come from here, decoded with :mod:`struct` and checked on every
step: a table that leaves its segment, a string offset past ``DT_STRSZ`` or a dynamic table
without its ``DT_NULL`` make the object unreadable (the loader would refuse or misread it),
and garbage in the *section* headers cannot hide a NEEDED entry from the checks.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

__all__ = ["DynamicView", "LoaderViewError", "read_dynamic"]

_PT_LOAD = 1
_PT_DYNAMIC = 2
_PN_XNUM = 0xFFFF
_DT = {"NULL": 0, "NEEDED": 1, "STRTAB": 5, "STRSZ": 10, "SONAME": 14, "RPATH": 15,
       "RUNPATH": 29}
_MAX_NEEDED = 1024
"""More DT_NEEDED entries than this make the object unreadable: real libraries have a few
dozen (the corpus's most: 22, libtorch_cuda.so), and each entry costs a resolution in
every check."""
_MAX_NAME = 1 << 16
"""Longest string read from the table; the loader has no such limit, but no real name nears
it and a longer one is read only up to here for a message."""


class LoaderViewError(ValueError):
    """The object's program headers or dynamic table cannot be read as the loader reads them."""


@dataclass(frozen=True, slots=True)
class DynamicView:
    machine: int
    """``e_machine``."""
    elf_type: int
    """``e_type`` (3: a shared object)."""
    bits: int
    little_endian: bool
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]


def read_dynamic(data: bytes | mmap.mmap) -> DynamicView:
    """The loader's view of ``data``; :class:`LoaderViewError` says what is wrong."""
    size = len(data)
    if size < 52 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        msg = "truncated or unknown ELF header"
        raise LoaderViewError(msg)
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64 and size < 64:
        msg = "truncated ELF header"
        raise LoaderViewError(msg)
    if is64:
        e_type, machine = struct.unpack_from(end + "HH", data, 16)
        phoff, shoff = struct.unpack_from(end + "QQ", data, 32)
        phentsize, phnum, shentsize = struct.unpack_from(end + "HHxxH", data, 54)
        ph_fmt, dyn_fmt = end + "IIQQQQQQ", end + "qQ"
    else:
        e_type, machine = struct.unpack_from(end + "HH", data, 16)
        phoff, shoff = struct.unpack_from(end + "II", data, 28)
        phentsize, phnum, shentsize = struct.unpack_from(end + "HHxxH", data, 42)
        ph_fmt, dyn_fmt = end + "IIIIIIII", end + "iI"
    if phnum == _PN_XNUM:
        phnum = _extended_phnum(data, end, is64, shoff, shentsize)
    loads: list[tuple[int, int, int]] = []
    """(vaddr, offset, filesz) of each PT_LOAD."""
    dynamic: tuple[int, int] | None = None
    if phnum:
        need = struct.calcsize(ph_fmt)
        if phentsize < need or phoff + phnum * phentsize > size:
            msg = (f"{phnum} program headers of {phentsize} bytes at {phoff} do not fit in the "
                   f"file ({size} bytes)")
            raise LoaderViewError(msg)
        for i in range(phnum):
            fields = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
            if is64:
                p_type, _flags, offset, vaddr, _pa, filesz, _mem, _align = fields
            else:
                p_type, offset, vaddr, _pa, filesz, _mem, _flags, _align = fields
            if p_type in (_PT_LOAD, _PT_DYNAMIC) and offset + filesz > size:
                msg = f"program header {i} maps bytes past the end of the file"
                raise LoaderViewError(msg)
            if p_type == _PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif p_type == _PT_DYNAMIC and dynamic is None:
                dynamic = (offset, filesz)
    tags = _tags(data, dynamic, dyn_fmt) if dynamic is not None else []
    strings = _string_table(data, tags, loads) if tags else b""
    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    for tag, value in tags:
        if tag == _DT["NEEDED"]:
            if len(needed) >= _MAX_NEEDED:
                msg = f"more than {_MAX_NEEDED} DT_NEEDED entries"
                raise LoaderViewError(msg)
            needed.append(_string(strings, value, "DT_NEEDED"))
        elif tag == _DT["SONAME"]:
            soname = _string(strings, value, "DT_SONAME")
        elif tag == _DT["RPATH"]:
            # An empty string is itself an entry (the current directory), so split keeps it.
            rpath.extend(_string(strings, value, "DT_RPATH").split(":"))
        elif tag == _DT["RUNPATH"]:
            runpath.extend(_string(strings, value, "DT_RUNPATH").split(":"))
    return DynamicView(machine=int(machine), elf_type=int(e_type), bits=64 if is64 else 32,
                       little_endian=end == "<", soname=soname, needed=tuple(needed),
                       rpath=tuple(rpath), runpath=tuple(runpath))


def _extended_phnum(data: bytes | mmap.mmap, end: str, is64: bool, shoff: int,
                    shentsize: int) -> int:
    """PN_XNUM: the count is section 0's ``sh_info``."""
    at = shoff + (44 if is64 else 28)
    if not shoff or shentsize < (64 if is64 else 40) or at + 4 > len(data):
        msg = "e_phnum is PN_XNUM but section 0 is not in the file"
        raise LoaderViewError(msg)
    return int(struct.unpack_from(end + "I", data, at)[0])


def _tags(data: bytes | mmap.mmap, dynamic: tuple[int, int], fmt: str) -> list[tuple[int, int]]:
    offset, filesz = dynamic
    entsize = struct.calcsize(fmt)
    tags: list[tuple[int, int]] = []
    for i in range(filesz // entsize):
        tag, value = struct.unpack_from(fmt, data, offset + i * entsize)
        if tag == _DT["NULL"]:
            return tags
        tags.append((int(tag), int(value)))
    msg = "the dynamic table has no DT_NULL within its segment"
    raise LoaderViewError(msg)


def _string_table(data: bytes | mmap.mmap, tags: list[tuple[int, int]],
                  loads: list[tuple[int, int, int]]) -> bytes:
    values = dict(tags)
    if not any(t in values for t in (_DT["NEEDED"], _DT["SONAME"], _DT["RPATH"],
                                     _DT["RUNPATH"])):
        return b""
    address = values.get(_DT["STRTAB"])
    length = values.get(_DT["STRSZ"])
    if address is None or length is None:
        msg = "the dynamic table names libraries but has no DT_STRTAB or DT_STRSZ"
        raise LoaderViewError(msg)
    for vaddr, offset, filesz in loads:
        if vaddr <= address and address + length <= vaddr + filesz:
            start = offset + (address - vaddr)
            return bytes(data[start:start + length])
    msg = (f"DT_STRTAB {address:#x} (+{length} bytes) lies outside the file's loaded "
           "segments")
    raise LoaderViewError(msg)


def _string(strings: bytes, offset: int, tag: str) -> str:
    if not 0 <= offset < len(strings):
        msg = f"{tag} string offset {offset} is past the string table ({len(strings)} bytes)"
        raise LoaderViewError(msg)
    stop = strings.find(b"\0", offset, offset + _MAX_NAME)
    if stop < 0:
        msg = f"{tag} string at {offset} does not end within the string table"
        raise LoaderViewError(msg)
    return strings[offset:stop].decode("utf-8", "replace")
