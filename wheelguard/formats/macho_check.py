"""A Mach-O member's structure checked before lief reads it.

lief parses what it can and logs the rest: a load command whose ``cmdsize`` is 0, a name offset
past its command, ``ncmds`` of four billion or a fat slice past the end of the file come back
as a binary with fewer commands (so a broken library would pass the gate), or, for some shapes,
as a crash inside native code that no ``except`` can catch. dyld refuses every one of them.
So the headers dyld walks are walked here first, with :mod:`struct` and bounds on every step,
and a member that fails is unreadable (WG405) without lief ever seeing it.
"""

from __future__ import annotations

import struct

__all__ = ["MachOStructureError", "check_macho", "is_broken_fat"]

_THIN = {b"\xfe\xed\xfa\xce": (">", False), b"\xce\xfa\xed\xfe": ("<", False),
         b"\xfe\xed\xfa\xcf": (">", True), b"\xcf\xfa\xed\xfe": ("<", True)}
_FAT = b"\xca\xfe\xba\xbe"
_FAT64 = b"\xca\xfe\xba\xbf"
_MAX_ARCHS = 20
_LC_SEGMENT = 0x1
_LC_SEGMENT_64 = 0x19
_LC_RPATH = 0x8000001C
_DYLIB_COMMANDS = frozenset({0xC, 0xD, 0x18 | 0x80000000, 0x1F | 0x80000000, 0x20,
                             0x23 | 0x80000000})
"""LC_LOAD_DYLIB, LC_ID_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB,
LC_LOAD_UPWARD_DYLIB: commands whose name is an lc_str at offset 8."""


class MachOStructureError(ValueError):
    """The Mach-O headers contradict themselves or the file's size."""


def is_broken_fat(head: bytes) -> bool:
    """A fat magic with an architecture count no fat file has and no Java class file (which
    shares the magic; its next word is a class-file version, 45 and up) has either."""
    if head[:4] != _FAT or len(head) < 8:
        return False
    count = int.from_bytes(head[4:8], "big")
    return count >= _MAX_ARCHS and not 45 <= (count & 0xFFFF) < 100


def check_macho(data: bytes) -> None:
    """Raise :class:`MachOStructureError` unless every header dyld walks lies in the file."""
    magic = data[:4]
    if magic in (_FAT, _FAT64):
        _check_fat(data, wide=magic == _FAT64)
    else:
        _check_thin(data, 0, len(data))


def _check_fat(data: bytes, *, wide: bool) -> None:
    if len(data) < 8:
        raise MachOStructureError("truncated fat header")
    (count,) = struct.unpack_from(">I", data, 4)
    entry = 32 if wide else 20
    if not 0 < count < _MAX_ARCHS or 8 + count * entry > len(data):
        raise MachOStructureError(f"the fat header declares {count} architectures, the file "
                                  f"holds room for {(len(data) - 8) // entry}")
    used = [(0, 8 + count * entry)]
    for i in range(count):
        if wide:
            _cpu, _sub, offset, size, _align, _res = struct.unpack_from(">iiQQII", data,
                                                                         8 + i * entry)
        else:
            _cpu, _sub, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + i * entry)
        if offset + size > len(data) or size < 28:
            raise MachOStructureError(f"fat slice {i} ({size} bytes at {offset}) is not inside "
                                      f"the file ({len(data)} bytes)")
        for start, stop in used:
            if offset < stop and start < offset + size:
                raise MachOStructureError(f"fat slice {i} overlaps the header or another "
                                          "slice")
        used.append((offset, offset + size))
        _check_thin(data, offset, offset + size)


def _check_thin(data: bytes, start: int, stop: int) -> None:
    magic = data[start:start + 4]
    if magic not in _THIN:
        raise MachOStructureError(f"no Mach-O header at offset {start}")
    end, is64 = _THIN[magic]
    header = 32 if is64 else 28
    if stop - start < header:
        raise MachOStructureError("truncated Mach-O header")
    _cpu, _sub, _ftype, ncmds, sizeofcmds = struct.unpack_from(end + "iiIII", data, start + 4)
    if header + sizeofcmds > stop - start:
        raise MachOStructureError(f"sizeofcmds {sizeofcmds} runs past the end of the file")
    if ncmds * 8 > sizeofcmds:
        raise MachOStructureError(f"{ncmds} load commands cannot fit in {sizeofcmds} bytes")
    at = start + header
    limit = at + sizeofcmds
    for i in range(ncmds):
        if at + 8 > limit:
            raise MachOStructureError(f"load command {i} starts past sizeofcmds")
        cmd, cmdsize = struct.unpack_from(end + "II", data, at)
        if cmdsize < 8 or cmdsize % 4 or at + cmdsize > limit:
            raise MachOStructureError(f"load command {i} ({cmd:#x}) has cmdsize {cmdsize}")
        if cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
            _check_segment(data, at, cmdsize, end, is64=is64, size=stop - start)
        elif cmd in _DYLIB_COMMANDS:
            _check_string(data, at, cmdsize, end, fixed=24, what=f"load command {i} ({cmd:#x})")
        elif cmd == _LC_RPATH:
            _check_string(data, at, cmdsize, end, fixed=12, what=f"LC_RPATH (load command {i})")
        at += cmdsize


def _check_segment(data: bytes, at: int, cmdsize: int, end: str, *, is64: bool,
                   size: int) -> None:
    if is64:
        fileoff, filesize = struct.unpack_from(end + "QQ", data, at + 40)
        (nsects,) = struct.unpack_from(end + "I", data, at + 64)
        fixed, per = 72, 80
    else:
        fileoff, filesize = struct.unpack_from(end + "II", data, at + 32)
        (nsects,) = struct.unpack_from(end + "I", data, at + 48)
        fixed, per = 56, 68
    if cmdsize < fixed or fixed + nsects * per > cmdsize:
        raise MachOStructureError(f"a segment declares {nsects} sections in a {cmdsize}-byte "
                                  "command")
    if fileoff + filesize > size:
        raise MachOStructureError(f"a segment maps {filesize} bytes at {fileoff}, past the end "
                                  "of the file")


def _check_string(data: bytes, at: int, cmdsize: int, end: str, *, fixed: int,
                  what: str) -> None:
    (offset,) = struct.unpack_from(end + "I", data, at + 8)
    if cmdsize < fixed or not fixed <= offset < cmdsize:
        raise MachOStructureError(f"{what}: name offset {offset} is outside the command")
    if b"\0" not in data[at + offset:at + cmdsize]:
        raise MachOStructureError(f"{what}: the name does not end within the command")
