"""ELF adapter: the only module that imports pyelftools.

It turns bytes into a :class:`~wheelguard.model.Binary` and nothing else reaches past it.
SONAME, NEEDED and the search paths come from ``PT_DYNAMIC`` as the loader reads it
(:mod:`~wheelguard.formats.elf_dynamic`); pyelftools reads the section-level facts.
The dynamic symbol table is decoded here with :mod:`struct` rather than through pyelftools'
per-symbol objects: compiler runtimes export hundreds of thousands of symbols and the object
route costs seconds per library where the flat decode costs a fraction of one.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from typing import IO, cast

from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_E_MACHINE
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.sections import NoteSection, Section

from wheelguard.formats.budget import BoundedStream, BudgetExceeded
from wheelguard.formats.elf_dynamic import DynamicView, LoaderViewError, read_dynamic
from wheelguard.model import ArchivePath, Binary, SoName, VersionNeed

__all__ = ["ELF_MAGIC", "ElfParseError", "PartialElf", "is_elf", "parse_elf"]

ELF_MAGIC = b"\x7fELF"

# e_machine -> the architecture name used in wheel platform tags.
_MACHINES = {
    "EM_X86_64": "x86_64",
    "EM_386": "i686",
    "EM_AARCH64": "aarch64",
    "EM_ARM": "armv7l",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
    "EM_LOONGARCH": "loongarch64",
}

_ET_DYN = 3
_EM_CUDA = 190
_SHT_NOBITS = 8
_NT_GNU_BUILD_ID = 3
_SHN_UNDEF = 0
_STB_LOCAL = 0
_STV_HIDDEN = 2
_STV_INTERNAL = 1


class ElfParseError(ValueError):
    """The bytes carry ELF magic but cannot be read as an ELF object."""


def is_elf(head: bytes) -> bool:
    return head.startswith(ELF_MAGIC)


class PartialElf(ElfParseError):
    """The loader's view of the object reads (``binary`` holds it: SONAME, NEEDED, search
    paths) but its section headers or the tables behind them do not: the symbol, version,
    debug and build-id facts are missing. The member is unreadable (WG405) and its loader
    facts are still checked, so broken section headers cannot hide a NEEDED entry."""

    def __init__(self, message: str, binary: Binary) -> None:
        super().__init__(message)
        self.binary = binary

    def __reduce__(self) -> tuple[type[PartialElf], tuple[str, Binary]]:
        return (type(self), (str(self), self.binary))


def parse_elf(path: ArchivePath, data: bytes | mmap.mmap) -> Binary:
    """Read what the checks need from one ELF object held in memory.

    ``data`` may be an mmap (the scanner's sparse image of a large library); it is read in
    place, because copying it into a BytesIO would allocate every page the image left out.
    The loader's view (:mod:`~wheelguard.formats.elf_dynamic`) comes first and must read;
    the section-level facts come from pyelftools on a metered stream
    (:mod:`~wheelguard.formats.budget`), and their failure is a :class:`PartialElf`.
    """
    try:
        view = read_dynamic(data)
    except LoaderViewError as e:
        raise ElfParseError(f"{path}: unreadable ELF ({e})") from None
    try:
        if view.machine == _EM_CUDA:
            facts = _device_code_facts(data)
        else:
            with BoundedStream(data) as stream:
                facts = _section_facts(data, stream)
    except BudgetExceeded as e:
        why = str(e)
    except Exception as e:
        # pyelftools follows the file's offsets and counts; on crafted input it raises
        # whatever its parsing hits (construct's errors, struct.error, IndexError, TypeError,
        # OverflowError, UnicodeDecodeError ...). Every one means the same: unreadable.
        why = f"{type(e).__name__}: {e}" if not isinstance(e, ElfParseError) else str(e)
    else:
        return _binary(path, view, facts)
    raise PartialElf(f"{path}: unreadable ELF sections ({why})", _binary(path, view, None))


_MACHINE_NAMES = {int(v): str(k) for k, v in ENUM_E_MACHINE.items() if k != "_default_"}


def _binary(path: ArchivePath, view: DynamicView, facts: _Facts | None) -> Binary:
    name = _MACHINE_NAMES.get(view.machine, str(view.machine))
    machine = _MACHINES.get(name, name)
    if machine == "ppc64le" and not view.little_endian:
        machine = "ppc64"
    f = facts or _Facts()
    return Binary(
        path=path,
        format="elf",
        machine=machine,
        bits=view.bits,
        soname=SoName(view.soname) if view.soname else None,
        needed=tuple(SoName(n) for n in view.needed),
        rpath=view.rpath,
        runpath=view.runpath,
        build_id=f.build_id,
        version_needs=f.version_needs,
        exported=f.exported,
        undefined=f.undefined,
        undefined_versioned=f.undefined_versioned,
        exported_versioned=f.exported_versioned,
        has_debug_info=f.has_debug_info,
        has_symtab=f.has_symtab,
        is_shared_object=view.elf_type == _ET_DYN,
        debug_bytes=f.debug_bytes,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Facts:
    """What the section headers tell: symbols, versions, debug sections, build-id."""

    build_id: str | None = None
    version_needs: tuple[VersionNeed, ...] = ()
    exported: frozenset[str] = frozenset()
    undefined: frozenset[str] = frozenset()
    undefined_versioned: tuple[tuple[str, str], ...] = ()
    exported_versioned: tuple[tuple[str, str], ...] = ()
    has_debug_info: bool = False
    has_symtab: bool = False
    debug_bytes: int = 0


def _section_facts(data: bytes | mmap.mmap, stream: BoundedStream) -> _Facts:
    # The metered stream reads the bytes or the mmap in place (no copy of the image).
    elf = ELFFile(cast("IO[bytes]", stream))
    sections = {s.name: s for s in elf.iter_sections()}
    debug_bytes = sum(
        int(s["sh_size"]) for name, s in sections.items()
        if name.startswith((".debug_", ".zdebug_")) and s["sh_type"] != "SHT_NOBITS"
    )
    version_needs, need_index = _version_needs(sections)
    def_index = _version_defs(sections)
    exported, undefined, undef_ver, export_ver = _dynamic_symbols(
        elf, data, sections, need_index, def_index
    )
    return _Facts(
        build_id=_build_id(elf, data, sections),
        version_needs=version_needs,
        exported=exported,
        undefined=undefined,
        undefined_versioned=undef_ver,
        exported_versioned=export_ver,
        has_debug_info=debug_bytes > 0,
        has_symtab=".symtab" in sections,
        debug_bytes=debug_bytes,
    )


def _device_code_facts(data: bytes | mmap.mmap) -> _Facts:
    """The section facts of CUDA device code (a ``.cubin``), read from the section table with
    :mod:`struct`. No loader maps it, so its symbols and versions matter to no check; what
    does (debug sections, a symbol table) is in the section headers. pyelftools' per-section
    objects cost about 1.2 ms a cubin: 19 s of flashinfer-cubin's 16,000."""
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        entsize, count, names_at = struct.unpack_from(end + "HHH", data, 0x3A)
        row = struct.Struct(end + "IIQQQQIIQQ")
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        entsize, count, names_at = struct.unpack_from(end + "HHH", data, 0x2E)
        row = struct.Struct(end + "IIIIIIIIII")
    i_type, i_offset, i_size = 1, 4, 5  # sh_type, sh_offset, sh_size: same places in both
    if count == 0:
        return _Facts()
    if entsize < row.size or shoff + count * entsize > len(data) or names_at >= count:
        msg = f"{count} section headers of {entsize} bytes at {shoff} do not fit in the file"
        raise ElfParseError(msg)
    headers = [row.unpack_from(data, shoff + i * entsize) for i in range(count)]
    names = headers[names_at]
    start, size = int(names[i_offset]), int(names[i_size])
    if start + size > len(data):
        msg = "the section name table lies past the end of the file"
        raise ElfParseError(msg)
    table = bytes(data[start:start + size])
    debug_bytes = 0
    has_symtab = False
    for h in headers:
        if not 0 <= h[0] < len(table):
            msg = f"a section name offset ({h[0]}) is past the name table"
            raise ElfParseError(msg)
        stop = table.find(b"\0", h[0])
        name = table[h[0]:stop if stop >= 0 else None]
        if name == b".symtab":
            has_symtab = True
        elif name.startswith((b".debug_", b".zdebug_")) and h[i_type] != _SHT_NOBITS:
            debug_bytes += int(h[i_size])
    return _Facts(has_debug_info=debug_bytes > 0, has_symtab=has_symtab, debug_bytes=debug_bytes)


def _version_needs(
    sections: dict[str, Section],
) -> tuple[tuple[VersionNeed, ...], dict[int, tuple[str, str]]]:
    """Every (library, version) a .gnu.version_r names, and its index -> pair map."""
    needs: list[VersionNeed] = []
    index: dict[int, tuple[str, str]] = {}
    for sec in sections.values():
        if not isinstance(sec, GNUVerNeedSection):
            continue
        for verneed, auxes in sec.iter_versions():
            lib = str(verneed.name)
            for aux in auxes:
                ver = str(aux.name)
                needs.append(VersionNeed(library=lib, version=ver))
                index[int(aux["vna_other"]) & 0x7FFF] = (lib, ver)
    return tuple(needs), index


def _version_defs(sections: dict[str, Section]) -> dict[int, str]:
    index: dict[int, str] = {}
    for sec in sections.values():
        if not isinstance(sec, GNUVerDefSection):
            continue
        for verdef, auxes in sec.iter_versions():
            names = [str(a.name) for a in auxes]
            if names and not (int(verdef["vd_flags"]) & 0x1):  # VER_FLG_BASE names the file
                index[int(verdef["vd_ndx"])] = names[0]
    return index


_Symbols = tuple[
    frozenset[str], frozenset[str], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]
]


def _dynamic_symbols(
    elf: ELFFile,
    data: bytes | mmap.mmap,
    sections: dict[str, Section],
    need_index: dict[int, tuple[str, str]],
    def_index: dict[int, str],
) -> _Symbols:
    dynsym = sections.get(".dynsym")
    if dynsym is None or dynsym["sh_type"] == "SHT_NOBITS":
        return frozenset(), frozenset(), (), ()
    strtab = elf.get_section(int(dynsym["sh_link"]))
    str_off = int(strtab["sh_offset"])
    strings = data[str_off : str_off + int(strtab["sh_size"])]
    off = int(dynsym["sh_offset"])
    size = int(dynsym["sh_size"])
    end = "<" if elf.little_endian else ">"
    if elf.elfclass == 64:
        fmt = struct.Struct(end + "IBBHQQ")
        fields = (0, 1, 2, 3)
    else:
        fmt = struct.Struct(end + "IIIBBH")
        fields = (0, 3, 4, 5)
    entsize = int(dynsym["sh_entsize"]) or fmt.size
    if entsize != fmt.size:
        raise ElfParseError(f"unexpected .dynsym entry size {entsize}")
    # The table as far as the file holds it: sh_size is the file's word, not a promise.
    count = max(0, min(size, len(data) - off)) // entsize
    versym = _versym_table(sections, data, end, count)

    exported: set[str] = set()
    undefined: set[str] = set()
    undef_ver: list[tuple[str, str]] = []
    export_ver: list[tuple[str, str]] = []
    i_name, i_info, i_other, i_shndx = fields
    # Bytes the name lookups may scan: a string table without NULs would make every lookup
    # scan to its end (quadratic), real tables cost about their own size once.
    scan_left = 4 * len(strings) + (1 << 20)
    for i, row in enumerate(fmt.iter_unpack(data[off : off + count * entsize])):
        if i == 0:
            continue
        name_off = row[i_name]
        if not name_off:
            continue
        stop = strings.find(b"\0", name_off)
        scan_left -= max(0, (stop if stop >= 0 else len(strings)) - name_off)
        if scan_left < 0:
            msg = "the dynamic string table does not end its names"
            raise ElfParseError(msg)
        name = strings[name_off : stop if stop >= 0 else None].decode("utf-8", "replace")
        ver = versym[i] if versym is not None else 0
        if row[i_shndx] == _SHN_UNDEF:
            undefined.add(name)
            pair = need_index.get(ver & 0x7FFF)
            if pair is not None:
                undef_ver.append((name, pair[1]))
            continue
        if (row[i_info] >> 4) == _STB_LOCAL or (row[i_other] & 0x3) in (_STV_HIDDEN, _STV_INTERNAL):
            continue
        # A hidden (non-default) version still binds imports that ask for it by version.
        exported.add(name)
        vname = def_index.get(ver & 0x7FFF)
        if vname is not None:
            export_ver.append((name, vname))
    return frozenset(exported), frozenset(undefined), tuple(sorted(undef_ver)), tuple(
        sorted(export_ver)
    )


def _versym_table(
    sections: dict[str, Section], data: bytes | mmap.mmap, end: str, count: int
) -> tuple[int, ...] | None:
    sec = sections.get(".gnu.version")
    if sec is None:
        return None
    off = int(sec["sh_offset"])
    n = max(0, min(count, int(sec["sh_size"]) // 2, (len(data) - off) // 2))
    return struct.unpack_from(f"{end}{n}H", data, off) + (0,) * (count - n)


def _build_id(elf: ELFFile, data: bytes | mmap.mmap, sections: dict[str, Section]) -> str | None:
    """NT_GNU_BUILD_ID, read from the note sections with every size checked against the
    section (pyelftools stops quietly at a note that claims more than its section holds)."""
    end = "<" if elf.little_endian else ">"
    found: str | None = None
    for sec in sections.values():
        if not isinstance(sec, NoteSection):
            continue
        start, size = int(sec["sh_offset"]), int(sec["sh_size"])
        if start + size > len(data):
            msg = f"note section {sec.name} runs past the end of the file"
            raise ElfParseError(msg)
        align = 8 if int(sec["sh_addralign"]) == 8 else 4
        at, stop = start, start + size
        while at + 12 <= stop:
            namesz, descsz, kind = struct.unpack_from(end + "III", data, at)
            name_at = at + 12
            # Name and descriptor each start at the section's alignment (8 for the 64-bit
            # .note.gnu.property): padding is to offsets, not to the field lengths.
            desc_at = start + _padded(name_at + namesz - start, align)
            after = start + _padded(desc_at + descsz - start, align)
            if desc_at + descsz > stop:  # the last note's padding may be left out
                msg = f"a note in {sec.name} claims {namesz + descsz} bytes past its section"
                raise ElfParseError(msg)
            if found is None and kind == _NT_GNU_BUILD_ID and \
                    bytes(data[name_at:name_at + namesz]) == b"GNU\0":
                found = bytes(data[desc_at:desc_at + descsz]).hex()
            at = after
    return found


def _padded(n: int, align: int) -> int:
    return (n + align - 1) // align * align
