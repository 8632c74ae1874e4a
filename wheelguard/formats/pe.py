"""PE adapter: Windows DLLs, extension modules (``.pyd``) and executables, decoded with
:mod:`struct`.

What the checks need sits in a few tables the optional header points at: the import directory
(DLLs loaded with the module), the delay-load directory (DLLs loaded on the first call into
them), the export directory, the machine and the DLL flag. The adapter reads exactly those,
in place, from the bytes the scanner holds.

pefile or lief? Neither, for reading. lief is a wheelguard dependency already (it edits Mach-O
in :mod:`wheelguard.repair.macho`), and with a restricted ``ParserConfig`` it reads imports and
exports quickly, but ``import lief`` alone costs about 0.8 s on the CI machine, it copies the
whole image into C++ objects, and a malformed file can only be judged by what it returns or
how it crashes. pefile is pure Python and thorough, but it is an untyped extra dependency whose
full parse walks every directory (relocations, resources) and is slow on DLLs with large export
tables. The import, delay-import and export tables are fixed-layout structures; reading them
through a bounds-checked window (:class:`~wheelguard.formats._reader.Reader`) is about as much
code as configuring either library, costs nothing at import time, and turns any malformed
input into :class:`PEParseError`. Should wheelguard ever edit PE files, lief is the tool: it
is there already.

Names are kept as the linker wrote them (``KERNEL32.dll``, ``MSVCP140.dll``); the Windows loader
compares them case-insensitively, and so does :mod:`wheelguard.loader.windows`.
"""

from __future__ import annotations

from collections.abc import Callable

from wheelguard.formats._reader import Data, Reader
from wheelguard.formats.sparse import MissingBytes
from wheelguard.model import ArchivePath, Binary, PEFacts, SoName

__all__ = ["PEParseError", "is_pe", "parse_pe", "table_ranges"]

_MACHINES = {0x14C: "i686", 0x8664: "x86_64", 0xAA64: "arm64", 0x1C4: "armv7", 0x1C0: "arm",
             0x200: "ia64", 0xA641: "arm64ec", 0x5064: "riscv64"}
_SUBSYSTEMS = {1: "native", 2: "windows-gui", 3: "windows-cui", 9: "windows-ce-gui",
               10: "efi-application", 16: "windows-boot-application"}
_IMAGE_FILE_DLL = 0x2000
_PE32 = 0x10B
_PE32_PLUS = 0x20B
_DIR_EXPORT = 0
_DIR_IMPORT = 1
_DIR_SECURITY = 4
_DIR_DELAY_IMPORT = 13
_MAX_ENTRIES = 1 << 20
"""More descriptors or names than this is a corrupt table, not a DLL."""


class PEParseError(ValueError):
    """The bytes carry the ``MZ`` magic and a PE header, but the image is malformed."""


def is_pe(head: bytes) -> bool:
    return head[:2] == b"MZ"


def parse_pe(path: ArchivePath, data: Data) -> Binary | None:
    """Read one PE image; None for an ``MZ`` file without a PE header (a DOS program),
    :class:`PEParseError` for a malformed one."""
    try:
        return _Image(data).binary(path)
    except _NotPE:
        return None
    except MissingBytes:
        raise  # a sparse image lacks bytes: the scanner reads them and parses again
    except PEParseError as e:
        raise PEParseError(f"{path}: unreadable PE ({e})") from None
    except (ValueError, OverflowError) as e:
        raise PEParseError(f"{path}: unreadable PE ({type(e).__name__}: {e})") from None


def table_ranges(
    data: Data, has: Callable[[int, int], bool]
) -> tuple[list[tuple[int, int]], bool]:
    """What the decoder reads, as ``[start, stop)`` file ranges, as far as ``has`` says the
    bytes are there: the headers, then the sections that hold the import, delay-import and
    export directories (the names those tables point at are almost always in the same
    section), and the COFF string table's start (mingw's long section names). True once the
    headers were read, so the list is complete; the sparse image of a large PE
    (:class:`~wheelguard.formats.sparse.PEImage`) keeps these while it streams."""
    size = len(data)
    if not has(0, min(size, 0x40)):
        return [(0, min(size, 0x40))], False
    pe = int.from_bytes(bytes(data[0x3C:0x40]), "little")
    head = (0, min(size, pe + 24))
    if not has(*head):
        return [head], False
    opt_size = int.from_bytes(bytes(data[pe + 20 : pe + 22]), "little")
    nsections = int.from_bytes(bytes(data[pe + 6 : pe + 8]), "little")
    headers = (0, min(size, pe + 24 + opt_size + 40 * nsections))
    if not has(*headers):
        return [headers], False
    try:
        image = _Image(data)
    except _NotPE:
        return [headers], True
    out = [headers, (0, min(size, image.size_of_headers))]
    for index in (_DIR_EXPORT, _DIR_IMPORT, _DIR_DELAY_IMPORT):
        where = image._dir(index)
        if where is None:
            continue
        for _name, vsize, va, raw_size, raw_ptr in image.sections:
            if va <= where[0] < va + max(vsize, raw_size):
                out.append((raw_ptr, min(size, raw_ptr + raw_size)))
    if image.symtab:
        strtab = image.symtab + 18 * image.nsymbols
        out.append((strtab, min(size, strtab + (64 << 10))))
    return [(a, b) for a, b in out if b > a], True


class _NotPE(Exception):
    """An MZ file whose header names no PE image."""


class _Image:
    def __init__(self, data: Data) -> None:
        self.r = Reader(data, 0, len(data), "<", PEParseError)
        self.pe = self.r.u32(0x3C, "e_lfanew")
        self.r.check(self.pe, 24, "PE header")
        signature = self.r.raw(self.pe, 4, "PE signature")
        if signature[:2] != b"PE":  # NE, LE, LX (16-bit Windows, OS/2) or a plain DOS program
            raise _NotPE(signature[:2])
        if signature != b"PE\0\0":
            raise PEParseError(f"PE signature {signature!r}")
        (self.machine, self.nsections, _stamp, self.symtab, self.nsymbols, self.opt_size,
         self.characteristics) = self.r.unpack("HHIIIHH", self.pe + 4, "COFF header")
        opt = self.pe + 24
        self.magic = self.r.u16(opt, "optional header")
        if self.magic == _PE32:
            self.image_base = self.r.u32(opt + 28, "optional header")
            count_at, dirs_at = opt + 92, opt + 96
        elif self.magic == _PE32_PLUS:
            self.image_base = int(self.r.unpack("Q", opt + 24, "optional header")[0])
            count_at, dirs_at = opt + 108, opt + 112
        else:
            raise PEParseError(f"optional header magic {self.magic:#x}")
        self.size_of_headers = self.r.u32(opt + 60, "optional header")
        self.subsystem = self.r.u16(opt + 68, "optional header")
        ndirs = min(self.r.u32(count_at, "optional header"), 16)
        if dirs_at + 8 * ndirs > opt + self.opt_size:
            raise PEParseError(f"{ndirs} data directories do not fit the optional header")
        self.dirs = [tuple(self.r.unpack("II", dirs_at + 8 * i, "data directory"))
                     for i in range(ndirs)]
        sections_at = opt + self.opt_size
        self.sections = [
            self.r.unpack("8sIIII", sections_at + 40 * i, "section header")
            for i in range(self.nsections)
        ]

    def binary(self, path: ArchivePath) -> Binary:
        imports, imported = self._imports()
        delayed, delay_imported = self._delay_imports()
        export_name, exported = self._exports()
        dll = bool(self.characteristics & _IMAGE_FILE_DLL)
        security = self._dir(_DIR_SECURITY)
        facts = PEFacts(
            kind="dll" if dll else "exe",
            imports=tuple(imports),
            delay_imports=tuple(delayed),
            export_name=export_name,
            subsystem=_SUBSYSTEMS.get(self.subsystem),
            signed=security is not None and security[1] > 0,
        )
        return Binary(
            path=path,
            format="pe",
            machine=_MACHINES.get(self.machine, f"pe-{self.machine:#x}"),
            bits=64 if self.magic == _PE32_PLUS else 32,
            soname=None,
            needed=tuple(SoName(n) for n in dict.fromkeys([*imports, *delayed])),
            rpath=(),
            runpath=(),
            build_id=None,
            version_needs=(),
            exported=frozenset(exported),
            undefined=frozenset(imported | delay_imported),
            has_debug_info=self._has_dwarf(),
            has_symtab=self.symtab != 0 and self.nsymbols > 0,
            is_shared_object=dll,
            pe=facts,
        )

    # ---- addresses ---------------------------------------------------------------------------

    def _dir(self, index: int) -> tuple[int, int] | None:
        if index >= len(self.dirs):
            return None
        rva, size = self.dirs[index]
        return (rva, size) if rva else None

    def _offset(self, rva: int, what: str) -> int:
        """The file offset of ``rva``: inside a section's raw data, or inside the headers."""
        for _name, vsize, va, raw_size, raw_ptr in self.sections:
            if va <= rva < va + max(vsize, raw_size):
                if rva - va >= raw_size:
                    raise PEParseError(f"{what} at RVA {rva:#x} has no bytes in the file")
                return int(raw_ptr + rva - va)
        if rva < self.size_of_headers:
            return rva
        raise PEParseError(f"{what} at RVA {rva:#x} lies in no section")

    def _string(self, rva: int, what: str) -> str:
        return self.r.cstring(self._offset(rva, what), what=what)

    # ---- tables ------------------------------------------------------------------------------

    def _imports(self) -> tuple[list[str], set[str]]:
        where = self._dir(_DIR_IMPORT)
        if where is None:
            return [], set()
        at = self._offset(where[0], "import directory")
        dlls: list[str] = []
        names: set[str] = set()
        for i in range(_MAX_ENTRIES):
            lookup, _stamp, _chain, name_rva, iat = self.r.unpack(
                "IIIII", at + 20 * i, "import descriptor")
            if not name_rva and not iat:
                return dlls, names
            dlls.append(self._string(name_rva, "imported DLL name"))
            names |= self._thunk_names(lookup or iat, 0)
        raise PEParseError("import directory does not end")

    def _delay_imports(self) -> tuple[list[str], set[str]]:
        where = self._dir(_DIR_DELAY_IMPORT)
        if where is None:
            return [], set()
        at = self._offset(where[0], "delay-load directory")
        dlls: list[str] = []
        names: set[str] = set()
        for i in range(_MAX_ENTRIES):
            attrs, name, _hmod, _iat, lookup, *_rest = self.r.unpack(
                "8I", at + 32 * i, "delay-load descriptor")
            if not name:
                return dlls, names
            # Version 1 descriptors (attribute bit 0 clear) hold virtual addresses.
            bias = 0 if attrs & 1 else self.image_base
            dlls.append(self._string(name - bias, "delay-loaded DLL name"))
            if lookup:
                names |= self._thunk_names(lookup - bias, bias)
        raise PEParseError("delay-load directory does not end")

    def _thunk_names(self, rva: int, bias: int) -> set[str]:
        """Names an import lookup table imports by name (ordinal imports have none)."""
        wide = self.magic == _PE32_PLUS
        fmt, step, flag = ("Q", 8, 1 << 63) if wide else ("I", 4, 1 << 31)
        at = self._offset(rva, "import lookup table")
        names: set[str] = set()
        for k in range(_MAX_ENTRIES):
            entry = int(self.r.unpack(fmt, at + step * k, "import lookup entry")[0])
            if entry == 0:
                return names
            if entry & flag:
                continue
            hint_rva = (entry & 0x7FFFFFFF) - bias
            names.add(self._string(hint_rva + 2, "imported symbol name"))
        raise PEParseError("import lookup table does not end")

    def _exports(self) -> tuple[str | None, set[str]]:
        where = self._dir(_DIR_EXPORT)
        if where is None:
            return None, set()
        at = self._offset(where[0], "export directory")
        fields = self.r.unpack("IIHHIIIIIII", at, "export directory")
        name_rva, count, names_rva = fields[4], fields[7], fields[9]
        if count > _MAX_ENTRIES:
            raise PEParseError(f"export directory names {count} symbols")
        dll_name = self._string(name_rva, "export directory name") if name_rva else None
        if not count:
            return dll_name, set()
        table = self.r.iter_unpack("I", self._offset(names_rva, "export name table"), count,
                                   "export name table")
        return dll_name, {self._string(row[0], "exported symbol name") for row in table}

    def _has_dwarf(self) -> bool:
        """mingw keeps DWARF in ``.debug_*`` sections, named through the COFF string table
        (``/4``) because the names are longer than eight bytes."""
        strtab = self.symtab + 18 * self.nsymbols if self.symtab else None
        for name, _vsize, _va, raw_size, _ptr in self.sections:
            text = name.rstrip(b"\0")
            if text.startswith(b"/") and text[1:].isdigit() and strtab is not None:
                text = self.r.cstring(strtab + int(text[1:]), what="section name").encode()
            if text.startswith((b".debug_", b".zdebug_")) and raw_size:
                return True
        return False

