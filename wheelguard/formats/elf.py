"""ELF adapter: the only module that imports pyelftools.

It turns bytes into a :class:`~wheelguard.model.Binary` and nothing else reaches past it.
Dynamic tags come from ``PT_DYNAMIC`` (what the loader reads), falling back to ``.dynamic``.
The dynamic symbol table is decoded here with :mod:`struct` rather than through pyelftools'
per-symbol objects: compiler runtimes export hundreds of thousands of symbols and the object
route costs seconds per library where the flat decode costs a fraction of one.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from typing import IO, Any, cast

from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.sections import NoteSection, Section

from wheelguard.formats.budget import BoundedStream, BudgetExceeded
from wheelguard.model import ArchivePath, Binary, SoName, VersionNeed

__all__ = ["ELF_MAGIC", "ElfParseError", "is_elf", "parse_elf"]

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

_SHN_UNDEF = 0
_STB_LOCAL = 0
_STV_HIDDEN = 2
_STV_INTERNAL = 1


class ElfParseError(ValueError):
    """The bytes carry ELF magic but cannot be read as an ELF object."""


def is_elf(head: bytes) -> bool:
    return head.startswith(ELF_MAGIC)


def parse_elf(path: ArchivePath, data: bytes | mmap.mmap) -> Binary:
    """Read what the checks need from one ELF object held in memory.

    ``data`` may be an mmap (the scanner's sparse image of a large library); it is read in
    place, because copying it into a BytesIO would allocate every page the image left out.
    """
    try:
        with BoundedStream(data) as stream:
            return _parse(path, data, stream)
    except ElfParseError:
        raise
    except BudgetExceeded as e:
        raise ElfParseError(f"{path}: unreadable ELF ({e})") from None
    except Exception as e:
        # pyelftools follows the file's offsets and counts; on crafted input it raises
        # whatever its parsing hits (construct's errors, struct.error, IndexError, TypeError,
        # OverflowError, UnicodeDecodeError ...). Every one means the same: unreadable.
        raise ElfParseError(f"{path}: unreadable ELF ({type(e).__name__}: {e})") from None


def _parse(path: ArchivePath, data: bytes | mmap.mmap, stream: BoundedStream) -> Binary:
    # The metered stream reads the bytes or the mmap in place (no copy of the image).
    elf = ELFFile(cast("IO[bytes]", stream))
    header = elf.header
    machine = _MACHINES.get(str(header["e_machine"]), str(header["e_machine"]))
    if machine == "ppc64le" and not elf.little_endian:
        machine = "ppc64"
    bits = int(elf.elfclass)

    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    for tag in _dynamic_tags(elf):
        kind = str(tag.entry.d_tag)
        # pyelftools creates these attributes at run time; only this adapter touches them.
        if kind == "DT_NEEDED":
            needed.append(str(tag.needed))
        elif kind == "DT_SONAME":
            soname = str(tag.soname)
        elif kind == "DT_RPATH":
            rpath.extend(_split_path(str(tag.rpath)))
        elif kind == "DT_RUNPATH":
            runpath.extend(_split_path(str(tag.runpath)))

    sections = {s.name: s for s in elf.iter_sections()}
    has_debug = any(
        (name.startswith((".debug_", ".zdebug_")) and s["sh_type"] != "SHT_NOBITS"
         and s["sh_size"] > 0)
        for name, s in sections.items()
    )
    has_symtab = ".symtab" in sections

    version_needs, need_index = _version_needs(sections)
    def_index = _version_defs(sections)
    exported, undefined, undef_ver, export_ver = _dynamic_symbols(
        elf, data, sections, need_index, def_index
    )

    return Binary(
        path=path,
        format="elf",
        machine=machine,
        bits=bits,
        soname=SoName(soname) if soname else None,
        needed=tuple(SoName(n) for n in needed),
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        build_id=_build_id(elf, sections),
        version_needs=version_needs,
        exported=exported,
        undefined=undefined,
        undefined_versioned=undef_ver,
        exported_versioned=export_ver,
        has_debug_info=has_debug,
        has_symtab=has_symtab,
        is_shared_object=str(header["e_type"]) == "ET_DYN",
    )


def _split_path(value: str) -> list[str]:
    # An empty string is itself an entry (the current directory), so split keeps it.
    return value.split(":")


def _dynamic_tags(elf: ELFFile) -> Iterator[Any]:
    """Dynamic tags; typed Any because pyelftools sets needed/soname/rpath at run time."""
    for seg in elf.iter_segments():
        if isinstance(seg, DynamicSegment):
            yield from _bounded_tags(seg.iter_tags(), int(seg["p_filesz"]), elf)
            return
    dyn = elf.get_section_by_name(".dynamic")
    if dyn is not None and hasattr(dyn, "iter_tags"):
        yield from _bounded_tags(dyn.iter_tags(), int(dyn["sh_size"]), elf)


def _bounded_tags(tags: Iterator[Any], size: int, elf: ELFFile) -> Iterator[Any]:
    """The tags of a table of ``size`` bytes; pyelftools reads on until a DT_NULL, past the
    table's end and through the rest of the file when the table lacks one."""
    room = size // (16 if elf.elfclass == 64 else 8)
    for i, tag in enumerate(tags):
        if i >= room:
            msg = "the dynamic table has no DT_NULL within its size"
            raise ElfParseError(msg)
        yield tag


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


def _build_id(elf: ELFFile, sections: dict[str, Section]) -> str | None:
    candidates = [s for s in sections.values() if isinstance(s, NoteSection)]
    for sec in candidates:
        for note in sec.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return str(note["n_desc"])
    return None
