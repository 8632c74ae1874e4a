"""Mach-O adapter: thin and universal files as dyld reads them, decoded with :mod:`struct`.

What the checks need is in the load commands (install name, dylib loads by kind, ``LC_RPATH``,
``LC_UUID``, the minimum OS, the code signature) and in the symbol tables, all at offsets the
header gives; the adapter reads just those, in place, from the bytes the scanner holds.

Why not lief, which wheelguard uses to *edit* Mach-O (:mod:`wheelguard.repair.macho`): lief
parses everything (bind opcodes, rebases, every section) into C++ objects and wants a private
copy of the bytes. On torch 2.15's 422 MB ``libtorch_cpu.dylib`` that took 4.4 s and 1.1 GB of
peak memory (0.7 GB beyond the bytes themselves) where this decoder reads the same facts in a
fraction of a second without a copy, and ``import lief`` alone costs about 0.8 s on the CI
machine. A reader of offsets is also easy to make strict: every read is bounds-checked and
malformed input ends in :class:`MachOParseError`, never in a crash inside a C++ extension.

Facts kept verbatim: install names and ``LC_RPATH`` entries exactly as written
(``@loader_path`` is not rewritten to ``$ORIGIN``: :mod:`wheelguard.loader.origin` understands
both). Exported symbols come from the export trie dyld binds against (``LC_DYLD_INFO`` or
``LC_DYLD_EXPORTS_TRIE``), else from the external symbols of ``LC_SYMTAB``; imported ones from
the undefined externals of ``LC_SYMTAB``. The leading underscore of C symbols is removed, so
``_TVMFFIFunctionCall`` compares equal to the ELF and PE spelling.

Why this module is long: it is the whole Mach-O decoder (universal header, load commands,
symbol table and export trie, code-signature page hashes), each part a few dozen lines that
share one bounds-checked reader and one error type; split, the parts would pass the slice's
reader and offsets back and forth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from wheelguard.formats._reader import Data, Reader
from wheelguard.formats.sparse import MissingBytes, MissingPages
from wheelguard.model import (
    ArchivePath,
    Binary,
    CodeSignature,
    DylibKind,
    DylibLoad,
    MachOFacts,
    MachOFileType,
    MachOSlice,
    MinOSCommand,
    SoName,
)

__all__ = [
    "MachOParseError",
    "fat_table_size",
    "is_macho",
    "parse_macho",
    "signature_range",
    "slice_ranges",
    "table_ranges",
]

_THIN = {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe"}
_FAT = b"\xca\xfe\xba\xbe"
_FAT64 = b"\xca\xfe\xba\xbf"
_MAX_SLICES = 32

_MH_MAGIC = 0xFEEDFACE
_MH_MAGIC_64 = 0xFEEDFACF

# cputype -> name; arm64e and x86_64h are told apart by the subtype below.
_CPU = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 12: "arm", 18: "ppc",
        0x01000012: "ppc64", 0x0200000C: "arm64_32"}
_FILE_TYPES: dict[int, MachOFileType] = {1: "object", 2: "execute", 6: "dylib", 8: "bundle",
                                        10: "dsym"}

_LC_REQ_DYLD = 0x80000000
_LC_SEGMENT = 0x1
_LC_SYMTAB = 0x2
_LC_DYSYMTAB = 0xB
_LC_LOAD_DYLIB = 0xC
_LC_ID_DYLIB = 0xD
_LC_SEGMENT_64 = 0x19
_LC_UUID = 0x1B
_LC_CODE_SIGNATURE = 0x1D
_LC_LAZY_LOAD_DYLIB = 0x20
_LC_DYLD_INFO = 0x22
_LC_VERSION_MIN_MACOSX = 0x24
_LC_VERSION_MIN_OTHER = frozenset({0x25, 0x2F, 0x30})  # iPhoneOS, tvOS, watchOS
_LC_BUILD_VERSION = 0x32
_LC_LOAD_WEAK_DYLIB = 0x18 | _LC_REQ_DYLD
_LC_RPATH = 0x1C | _LC_REQ_DYLD
_LC_REEXPORT_DYLIB = 0x1F | _LC_REQ_DYLD
_LC_DYLD_INFO_ONLY = 0x22 | _LC_REQ_DYLD
_LC_LOAD_UPWARD_DYLIB = 0x23 | _LC_REQ_DYLD
_LC_DYLD_EXPORTS_TRIE = 0x33 | _LC_REQ_DYLD

_DYLIB_KINDS: dict[int, DylibKind] = {
    _LC_LOAD_DYLIB: "load", _LC_LOAD_WEAK_DYLIB: "weak", _LC_REEXPORT_DYLIB: "reexport",
    _LC_LOAD_UPWARD_DYLIB: "upward", _LC_LAZY_LOAD_DYLIB: "lazy",
}
_PLATFORMS = {1: "macos", 2: "ios", 3: "tvos", 4: "watchos", 5: "bridgeos", 6: "maccatalyst",
              7: "ios-simulator", 8: "tvos-simulator", 9: "watchos-simulator", 10: "driverkit",
              11: "visionos", 12: "visionos-simulator"}

# nlist n_type bits (mach-o/nlist.h).
_N_STAB = 0xE0
_N_PEXT = 0x10
_N_TYPE = 0x0E
_N_EXT = 0x01
_N_UNDF = 0x0
_N_ABS = 0x2
_N_SECT = 0xE
_N_INDR = 0xA

# Code signing (Security/CSCommon.h, cs_blobs.h).
_CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
_CSMAGIC_CODEDIRECTORY = 0xFADE0C02
_CSMAGIC_BLOBWRAPPER = 0xFADE0B01
_CSSLOT_SIGNATURESLOT = 0x10000
_CS_ADHOC = 0x2
_CS_LINKER_SIGNED = 0x20000
_HASHES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}


class MachOParseError(ValueError):
    """The bytes carry Mach-O magic but are not a well-formed Mach-O file."""


def is_macho(head: bytes) -> bool:
    if head[:4] in _THIN:
        return True
    if head[:4] in (_FAT, _FAT64) and len(head) >= 8:
        # Java class files share 0xCAFEBABE; there the next word is a version >= 45,
        # while a fat header counts a handful of architectures.
        count = int.from_bytes(head[4:8], "big")
        return 0 < count < 20
    return False


def slice_ranges(data: Data) -> list[tuple[int, int]]:
    """``(offset, size)`` of each architecture of a Mach-O file: the whole file for a thin one,
    each ``fat_arch`` of a universal one. Also what the repair re-signs slice by slice."""
    head = bytes(data[:4])
    if head not in (_FAT, _FAT64):
        return [(0, len(data))]
    whole = Reader(data, 0, len(data), ">", MachOParseError)
    count = whole.u32(4, "fat header")
    if not 0 < count <= _MAX_SLICES:
        raise MachOParseError(f"universal header counts {count} architectures")
    ranges = []
    for i in range(count):
        if head == _FAT64:
            _cpu, _sub, offset, size, _align, _reserved = whole.unpack(
                "iiQQII", 8 + 32 * i, "fat_arch_64")
        else:
            _cpu, _sub, offset, size, _align = whole.unpack("iiIII", 8 + 20 * i, "fat_arch")
        whole.within(offset, size, f"architecture {i}")
        ranges.append((offset, size))
    return ranges


def fat_table_size(data: Data) -> int:
    """Bytes of the universal header and its architecture table; 0 for a thin file."""
    head = bytes(data[:8])
    if head[:4] not in (_FAT, _FAT64) or len(head) < 8:
        return 0
    count = min(int.from_bytes(head[4:8], "big"), _MAX_SLICES)
    return 8 + (32 if head[:4] == _FAT64 else 20) * count


_NAME_WINDOW = 2048
"""Bytes kept of the string table from each name a sparse image's decoder reads (C++ names
are rarely longer; a longer one is read again when the decoder finds it cut)."""


def table_ranges(
    data: Data, base: int, size: int, has: Callable[[int, int], bool]
) -> tuple[list[tuple[int, int]], bool, int]:
    """What the decoder reads of the slice at ``base``, as absolute ``[start, stop)`` ranges,
    as far as ``has`` says the bytes are there: the header, then its load commands, then the
    tables they point at (the symbols it names, the export trie, the code signature and the
    page before it), then, once the symbols are there, the names of those it reads. A sparse
    image (:class:`~wheelguard.formats.sparse.MachOImage`) keeps these while it streams and
    calls again as bytes arrive, until the list is complete (True). The third value is the
    page size the code signature most likely hashes (what to hash while streaming)."""
    header_end = base + min(size, 32)
    if not has(base, header_end):
        return [(base, header_end)], False, 4096
    reader = _SliceReader(data, base, size)
    _magic, _cpu, _sub, _ftype, ncmds, sizeofcmds, _flags = reader.r.unpack(
        "IiiIIII", 0, "mach header")
    header = 32 if reader.is64 else 28
    reader.r.within(header, sizeofcmds, "load commands")
    commands = (base, base + header + sizeofcmds)
    if not has(*commands):
        return [commands], False, 4096
    cmds = reader._commands(header, ncmds, header + sizeofcmds)
    out = [commands]
    page = 4096
    if cmds.exports_trie is not None:
        offset, length = cmds.exports_trie
        out.append((base + offset, base + offset + length))
    if cmds.signature is not None:
        dataoff, datasize = cmds.signature
        # The signed range ends where the signature starts; its last, partial page is
        # hashed from the bytes (whole pages from the digests taken while streaming).
        first = max(0, (dataoff - (16 << 10)) // 4096 * 4096)
        out.append((base + first, base + dataoff + datasize))
        # A signature too small to hold a 32-byte slot per 4 KiB page hashes 16 KiB pages
        # (ld64 on arm64); most hash 4 KiB pages.
        if datasize < -(-dataoff // 4096) * 20:
            page = 16384
    done = True
    if cmds.symtab is not None:
        symoff, nsyms, stroff, strsize = cmds.symtab
        stride = 16 if reader.is64 else 12
        rows = [(0, nsyms)]
        if cmds.dysymtab is not None:
            _ilocal, _nlocal, iext, next_, iundef, nundef = cmds.dysymtab
            rows = [(iext, next_), (iundef, nundef)]
        spans = [(base + symoff + stride * a, base + symoff + stride * (a + n)) for a, n in rows]
        out += spans
        if all(has(a, b) for a, b in spans if b > a):
            table_end = base + stroff + strsize
            names, _local = reader._named_rows(cmds)
            out += [(base + stroff + strx, min(table_end, base + stroff + strx + _NAME_WINDOW))
                    for strx, _undefined in names]
        else:
            done = False
    return [(a, min(b, base + size)) for a, b in out if b > a], done, page


def signature_range(data: Data, base: int, size: int) -> tuple[int, int] | None:
    """``(dataoff, datasize)`` of the ``LC_CODE_SIGNATURE`` of the slice at ``base`` (offsets
    relative to the slice), or None for an unsigned slice."""
    reader = _SliceReader(data, base, size)
    _magic, _cpu, _sub, _ftype, ncmds, sizeofcmds, _flags = reader.r.unpack(
        "IiiIIII", 0, "mach header")
    header = 32 if reader.is64 else 28
    return reader._commands(header, ncmds, header + sizeofcmds).signature


def parse_macho(path: ArchivePath, data: Data) -> Binary:
    """Read one thin or universal Mach-O file; :class:`MachOParseError` if it is malformed."""
    try:
        fat = bytes(data[:4]) in (_FAT, _FAT64)
        slices = [_Slice.read(data, offset, size) for offset, size in slice_ranges(data)]
    except (MissingBytes, MissingPages):
        raise  # a sparse image lacks bytes: the scanner reads them and parses again
    except MachOParseError as e:
        raise MachOParseError(f"{path}: unreadable Mach-O ({e})") from None
    except (ValueError, OverflowError, RecursionError) as e:
        raise MachOParseError(f"{path}: unreadable Mach-O ({type(e).__name__}: {e})") from None
    first = slices[0]
    facts = MachOFacts(slices=tuple(s.facts for s in slices), fat=fat)
    return Binary(
        path=path,
        format="macho",
        machine="+".join(sorted({s.facts.arch for s in slices})),
        bits=first.bits,
        soname=SoName(first.facts.install_name) if first.facts.install_name else None,
        needed=tuple(SoName(n) for n in _union(d.name for s in slices for d in s.facts.dylibs)),
        rpath=tuple(_union(e for s in slices for e in s.facts.rpaths)),
        runpath=(),
        build_id=first.facts.uuid,
        version_needs=(),
        exported=frozenset().union(*(s.exported for s in slices)),
        undefined=frozenset().union(*(s.undefined for s in slices)),
        has_debug_info=any(s.dwarf for s in slices),
        has_symtab=any(s.local_symbols for s in slices),
        is_shared_object=first.facts.file_type in ("dylib", "bundle"),
        macho=facts,
    )


def _union(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


@dataclass
class _Slice:
    facts: MachOSlice
    bits: int
    exported: frozenset[str] = frozenset()
    undefined: frozenset[str] = frozenset()
    dwarf: bool = False
    local_symbols: bool = False

    @classmethod
    def read(cls, data: Data, base: int, size: int) -> _Slice:
        return _SliceReader(data, base, size).run()


@dataclass
class _Commands:
    install_name: str | None = None
    dylibs: list[DylibLoad] = field(default_factory=list)
    rpaths: list[str] = field(default_factory=list)
    uuid: str | None = None
    platform: str | None = None
    min_os: tuple[int, int, int] | None = None
    sdk: tuple[int, int, int] | None = None
    min_os_command: MinOSCommand | None = None
    signature: tuple[int, int] | None = None
    symtab: tuple[int, int, int, int] | None = None
    dysymtab: tuple[int, ...] | None = None
    exports_trie: tuple[int, int] | None = None
    dwarf: bool = False


class _SliceReader:
    def __init__(self, data: Data, base: int, size: int) -> None:
        magic = int.from_bytes(bytes(data[base : base + 4]), "little")
        if magic in (_MH_MAGIC, _MH_MAGIC_64):
            order = "<"
        elif int.from_bytes(bytes(data[base : base + 4]), "big") in (_MH_MAGIC, _MH_MAGIC_64):
            order = ">"
        else:
            raise MachOParseError(f"no Mach-O header at offset {base}")
        self.r = Reader(data, base, size, order, MachOParseError)
        self.is64 = self.r.u32(0, "magic") == _MH_MAGIC_64

    def run(self) -> _Slice:
        r = self.r
        _magic, cputype, subtype, filetype, ncmds, sizeofcmds, _flags = r.unpack(
            "IiiIIII", 0, "mach header")
        header = 32 if self.is64 else 28
        r.check(header, sizeofcmds, "load commands")
        cmds = self._commands(header, ncmds, header + sizeofcmds)
        arch = _arch(cputype, subtype)
        file_type = _FILE_TYPES.get(filetype, "other")
        exported, undefined, local = self._symbols(cmds)
        signature, valid = self._signature(cmds.signature)
        facts = MachOSlice(
            arch=arch,
            file_type=file_type,
            install_name=cmds.install_name,
            dylibs=tuple(cmds.dylibs),
            rpaths=tuple(cmds.rpaths),
            uuid=cmds.uuid,
            platform=cmds.platform,
            min_os=cmds.min_os,
            sdk=cmds.sdk,
            min_os_command=cmds.min_os_command,
            signature=signature,
            signature_valid=valid,
        )
        return _Slice(facts=facts, bits=64 if self.is64 else 32, exported=exported,
                      undefined=undefined, dwarf=cmds.dwarf, local_symbols=local)

    # ---- load commands ---------------------------------------------------------------------

    def _commands(self, offset: int, ncmds: int, end: int) -> _Commands:
        r = self.r
        out = _Commands()
        for i in range(ncmds):
            cmd, size = r.unpack("II", offset, f"load command {i}")
            if size < 8 or offset + size > end:
                raise MachOParseError(f"load command {i} ({cmd:#x}) has size {size}")
            self._command(out, cmd, offset, size)
            offset += size
        return out

    def _command(self, out: _Commands, cmd: int, at: int, size: int) -> None:
        r = self.r
        if cmd in _DYLIB_KINDS or cmd == _LC_ID_DYLIB:
            name_off, _stamp, current, compat = r.unpack("IIII", at + 8, "dylib command")
            name = self._lc_str(at, size, name_off)
            if cmd == _LC_ID_DYLIB:
                out.install_name = name
            else:
                out.dylibs.append(DylibLoad(_DYLIB_KINDS[cmd], name, _version(current),
                                            _version(compat)))
        elif cmd == _LC_RPATH:
            out.rpaths.append(self._lc_str(at, size, r.u32(at + 8, "rpath command")))
        elif cmd == _LC_UUID:
            out.uuid = r.raw(at + 8, 16, "uuid").hex()
        elif cmd == _LC_BUILD_VERSION:
            platform, minos, sdk = r.unpack("III", at + 8, "build version")
            out.platform = _PLATFORMS.get(platform, f"platform-{platform}")
            out.min_os, out.sdk = _triple(minos), _triple(sdk)
            out.min_os_command = "LC_BUILD_VERSION"
        elif cmd == _LC_VERSION_MIN_MACOSX or cmd in _LC_VERSION_MIN_OTHER:
            version, sdk = r.unpack("II", at + 8, "version min")
            if out.min_os_command != "LC_BUILD_VERSION":  # the newer command wins
                macos = cmd == _LC_VERSION_MIN_MACOSX
                out.platform = "macos" if macos else {0x25: "ios", 0x2F: "tvos"}.get(
                    cmd, "watchos")
                out.min_os, out.sdk = _triple(version), _triple(sdk)
                out.min_os_command = "LC_VERSION_MIN_MACOSX" if macos else "LC_VERSION_MIN"
        elif cmd == _LC_CODE_SIGNATURE:
            dataoff, datasize = r.unpack("II", at + 8, "code signature command")
            out.signature = (dataoff, datasize)
        elif cmd == _LC_SYMTAB:
            symoff, nsyms, stroff, strsize = r.unpack("IIII", at + 8, "symtab command")
            out.symtab = (symoff, nsyms, stroff, strsize)
        elif cmd == _LC_DYSYMTAB:
            out.dysymtab = r.unpack("IIIIII", at + 8, "dysymtab command")
        elif cmd in (_LC_DYLD_INFO, _LC_DYLD_INFO_ONLY):
            export_off, export_size = r.unpack("II", at + 40, "dyld info command")
            if export_size:
                out.exports_trie = (export_off, export_size)
        elif cmd == _LC_DYLD_EXPORTS_TRIE:
            dataoff, datasize = r.unpack("II", at + 8, "exports trie command")
            if datasize:
                out.exports_trie = (dataoff, datasize)
        elif cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
            out.dwarf = self._segment_has_dwarf(cmd == _LC_SEGMENT_64, at, size) or out.dwarf

    def _lc_str(self, at: int, size: int, name_off: int) -> str:
        """An ``lc_str``: a string inside its own load command."""
        if not 0 < name_off < size:
            raise MachOParseError(f"name offset {name_off} outside its {size}-byte command")
        return self.r.cstring(at + name_off, at + size, "load command string")

    def _segment_has_dwarf(self, is64: bool, at: int, size: int) -> bool:
        """Sections with DWARF content: ``__DWARF,*`` (dSYM, some unstripped builds) or
        ``__debug_*`` (objects)."""
        r = self.r
        if is64:
            nsects = r.u32(at + 64, "segment")
            first, stride, fmt = 72, 80, "16s16sQQ"
        else:
            nsects = r.u32(at + 48, "segment")
            first, stride, fmt = 56, 68, "16s16sII"
        if first + stride * nsects > size:
            raise MachOParseError(f"segment declares {nsects} sections in {size} bytes")
        for k in range(nsects):
            sect, seg, _addr, sect_size = r.unpack(fmt, at + first + stride * k, "section")
            if sect_size and (seg.rstrip(b"\0") == b"__DWARF" or sect.startswith(b"__debug_")):
                return True
        return False

    # ---- symbols -----------------------------------------------------------------------------

    def _symbols(self, cmds: _Commands) -> tuple[frozenset[str], frozenset[str], bool]:
        exported: set[str] = set()
        undefined: set[str] = set()
        local = False
        if cmds.symtab is not None:
            _symoff, _nsyms, stroff, strsize = cmds.symtab
            self.r.within(stroff, strsize, "string table")
            rows, local = self._named_rows(cmds)
            for strx, is_undefined in rows:
                name = self._symbol_name(stroff, strsize, strx)
                (undefined if is_undefined else exported).add(name)
        if cmds.exports_trie is not None:
            exported = self._trie(*cmds.exports_trie)
        return frozenset(exported), frozenset(undefined), local

    def _named_rows(self, cmds: _Commands) -> tuple[list[tuple[int, bool]], bool]:
        """``(name offset, undefined?)`` of the symbols whose names the checks read (imports;
        exports too when no export trie lists them), and whether the file has local symbols.
        Also what a sparse image keeps of the string table (:func:`table_ranges`)."""
        assert cmds.symtab is not None
        symoff, nsyms, _stroff, _strsize = cmds.symtab
        local = False
        fmt = "IBBHQ" if self.is64 else "IBBhI"
        ranges: list[tuple[int, int]]
        if cmds.dysymtab is not None:
            _ilocal, nlocal, iext, next_, iundef, nundef = cmds.dysymtab
            local = nlocal > 0
            ranges = [(iext, next_), (iundef, nundef)]
            for start, count in ranges:
                if start + count > nsyms:
                    raise MachOParseError(f"symbol range {start}+{count} beyond {nsyms}")
        else:
            ranges = [(0, nsyms)]
        stride = 16 if self.is64 else 12
        exports = cmds.exports_trie is None
        out: list[tuple[int, bool]] = []
        for start, count in ranges:
            rows = self.r.iter_unpack(fmt, symoff + stride * start, count, "symbol table")
            for strx, ntype, _sect, _desc, value in rows:
                if ntype & _N_STAB:
                    continue
                if not ntype & _N_EXT:
                    local = True
                    continue
                kind = ntype & _N_TYPE
                if kind == _N_UNDF:
                    if value == 0:  # non-zero: a common symbol, defined here
                        out.append((strx, True))
                elif exports and kind in (_N_SECT, _N_ABS, _N_INDR) and not ntype & _N_PEXT:
                    out.append((strx, False))
        return out, local

    def _symbol_name(self, stroff: int, strsize: int, strx: int) -> str:
        if strx >= strsize:
            raise MachOParseError(f"symbol name {strx} outside the {strsize}-byte table")
        name = self.r.cstring(stroff + strx, stroff + strsize, "symbol name")
        return name[1:] if name.startswith("_") else name

    def _trie(self, offset: int, size: int) -> set[str]:
        """Every name of the export trie (what dyld binds against), re-exports included."""
        blob = self.r.raw(offset, size, "export trie")
        names: set[str] = set()
        stack: list[tuple[int, bytes]] = [(0, b"")]
        seen: set[int] = set()
        while stack:
            node, prefix = stack.pop()
            if node in seen or node >= size:
                raise MachOParseError(f"export trie node {node} repeats or is out of range")
            seen.add(node)
            terminal, pos = _uleb(blob, node)
            if terminal:
                raw = prefix[1:] if prefix.startswith(b"_") else prefix
                names.add(raw.decode("utf-8", "backslashreplace"))
            pos += terminal
            if pos >= size:
                raise MachOParseError("export trie node runs past the trie")
            children = blob[pos]
            pos += 1
            for _ in range(children):
                end = blob.find(b"\0", pos)
                if end < 0:
                    raise MachOParseError("unterminated export trie edge")
                edge = blob[pos:end]
                child, pos = _uleb(blob, end + 1)
                stack.append((child, prefix + edge))
        return names

    # ---- code signature ---------------------------------------------------------------------

    def _signature(
        self, where: tuple[int, int] | None
    ) -> tuple[CodeSignature | None, bool | None]:
        if where is None:
            return None, None
        dataoff, datasize = where
        r = self.r
        r.check(dataoff, datasize, "code signature")
        sig = Reader(r.data, r.base + dataoff, datasize, ">", MachOParseError)
        magic, _length, count = sig.unpack("III", 0, "signature superblob")
        if magic != _CSMAGIC_EMBEDDED_SIGNATURE:
            raise MachOParseError(f"code signature magic {magic:#x}")
        flags = 0
        certificate = False
        valid: bool | None = None
        for i in range(count):
            slot, blob = sig.unpack("II", 12 + 8 * i, "signature index")
            blob_magic, blob_length = sig.unpack("II", blob, "signature blob")
            if blob_magic == _CSMAGIC_CODEDIRECTORY:
                flags |= sig.u32(blob + 12, "code directory")
                ok = self._page_hashes_match(sig, blob)
                valid = ok if valid is None else (valid and ok)
            elif (slot == _CSSLOT_SIGNATURESLOT and blob_magic == _CSMAGIC_BLOBWRAPPER
                  and blob_length > 8):
                certificate = True
        kind: CodeSignature
        if certificate and not flags & _CS_ADHOC:
            kind = "certificate"
        elif flags & _CS_LINKER_SIGNED:
            kind = "linker-signed"
        else:
            kind = "adhoc"
        return kind, valid

    def _page_hashes_match(self, sig: Reader, base: int) -> bool:
        """Every code slot equals the hash of its page: what the kernel checks when it maps
        the page on Apple silicon."""
        fields = sig.unpack("9I4B", base, "code directory")
        hash_offset, n_code, code_limit = fields[4], fields[7], fields[8]
        hash_size, hash_type, page_shift = fields[9], fields[10], fields[12]
        algorithm = _HASHES.get(hash_type)
        if algorithm is None or algorithm[1] < hash_size:
            return False
        page = 1 << page_shift if page_shift else code_limit
        if page <= 0 or n_code != -(-code_limit // page):
            return False
        self.r.within(0, code_limit, "signed range")
        table = sig.raw(base + hash_offset, n_code * hash_size, "code slots")
        # Over a sparse image the pages were not kept: their digests were taken as the
        # member streamed (SHA-256 of 4 KiB pages), or are asked for (MissingPages).
        image = self.r.image
        digests = None
        if image is not None:
            digests = image.pages.get((self.r.base, algorithm[0], page))
            if digests is None:
                raise MissingPages(self.r.base, self.r.size, algorithm[0], page)
        for k in range(n_code):
            lo = k * page
            hi = min((k + 1) * page, code_limit)
            if digests is not None and hi - lo == page and k < len(digests):
                digest = digests[k][:hash_size]
            else:
                digest = hashlib.new(algorithm[0], self.r.raw(lo, hi - lo, "signed page")
                                     ).digest()[:hash_size]
            if digest != table[k * hash_size : (k + 1) * hash_size]:
                return False
        return True


def _arch(cputype: int, subtype: int) -> str:
    name = _CPU.get(cputype)
    if name is None:
        return f"cpu-{cputype:#x}"
    low = subtype & 0xFF
    if name == "arm64" and low == 2:
        return "arm64e"
    if name == "x86_64" and low == 8:
        return "x86_64h"
    return name


def _triple(value: int) -> tuple[int, int, int]:
    """``xxxx.yy.zz`` nibble-packed, as LC_BUILD_VERSION and LC_VERSION_MIN_* store it."""
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


def _version(value: int) -> str:
    major, minor, patch = _triple(value)
    return f"{major}.{minor}.{patch}"


def _uleb(blob: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(blob):
            raise MachOParseError("truncated ULEB128 in the export trie")
        byte = blob[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise MachOParseError("ULEB128 longer than 64 bits in the export trie")
