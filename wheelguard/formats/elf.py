"""ELF adapter: the only module that imports pyelftools.

It turns bytes into a :class:`~wheelguard.model.Binary` and nothing else reaches past it.
Dynamic tags come from ``PT_DYNAMIC`` (what the loader reads), falling back to ``.dynamic``.
When the section headers are stripped or damaged (the loader never reads them), the file is
still read as the loader sees it, through the program headers alone (:func:`_loader_view`):
its dependencies, search path, SONAME, symbol-version needs and build-id, with the damage
noted; only a file whose ELF header or program headers cannot be read is unreadable.
The dynamic symbol table is decoded here with :mod:`struct` rather than through pyelftools'
per-symbol objects: compiler runtimes export hundreds of thousands of symbols and the object
route costs seconds per library where the flat decode costs a fraction of one.
"""

from __future__ import annotations

import io
import mmap
import struct
from collections.abc import Iterator
from typing import IO, Any, cast

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.sections import NoteSection, Section

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
        return _parse(path, data)
    except (ELFError, struct.error, ValueError, IndexError, KeyError, AttributeError) as e:
        first = e
    try:
        return _loader_view(path, data, _section_damage(data))
    except (struct.error, ValueError, IndexError, KeyError) as e:
        raise ElfParseError(f"{path}: unreadable ELF: {e} (section view: {first})") from None


def _section_damage(data: bytes | mmap.mmap) -> str:
    """Why the section view failed, in words that do not depend on the toolchain."""
    try:
        big = data[4] == 2
        end = "<" if data[5] == 1 else ">"
        shoff, = struct.unpack_from(end + ("Q" if big else "I"), data, 0x28 if big else 0x20)
        entsize, count = struct.unpack_from(end + "HH", data, 0x3A if big else 0x2E)
    except (struct.error, IndexError):
        return "section headers unreadable"
    if shoff + entsize * count > len(data):
        return "section header table lies past the end of the file"
    return "section headers unreadable"


def _parse(path: ArchivePath, data: bytes | mmap.mmap) -> Binary:
    # An mmap has the file methods pyelftools calls (seek, read, tell).
    stream = io.BytesIO(data) if isinstance(data, bytes) else cast("IO[bytes]", data)
    elf = ELFFile(stream)
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
    debug_bytes = sum(
        int(s["sh_size"]) for name, s in sections.items()
        if name.startswith((".debug_", ".zdebug_")) and s["sh_type"] != "SHT_NOBITS"
    )
    has_debug = debug_bytes > 0
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
        debug_bytes=debug_bytes,
    )


_PT_LOAD, _PT_DYNAMIC, _PT_NOTE = 1, 2, 4
_DT = {"NULL": 0, "NEEDED": 1, "STRTAB": 5, "STRSZ": 10, "SONAME": 14, "RPATH": 15,
       "RUNPATH": 29, "VERNEED": 0x6FFFFFFE, "VERNEEDNUM": 0x6FFFFFFF}
_E_MACHINE = {62: "x86_64", 3: "i686", 183: "aarch64", 40: "armv7l", 21: "ppc64le",
              22: "s390x", 243: "riscv64", 258: "loongarch64"}


def _loader_view(path: ArchivePath, data: bytes | mmap.mmap, damage: str) -> Binary:
    """What ld.so reads: the ELF header, the program headers, ``PT_DYNAMIC`` and the tables it
    points at by address, and ``PT_NOTE`` for the build-id. Symbols need the section headers
    (or a hash-table walk the loader does lazily) and are left empty."""
    head = bytes(data[:64])
    if head[:4] != ELF_MAGIC or head[4] not in (1, 2) or head[5] not in (1, 2):
        raise ValueError("not an ELF header")
    bits = 64 if head[4] == 2 else 32
    end = "<" if head[5] == 1 else ">"
    if bits == 64:
        e_type, e_machine, _v, _entry, e_phoff, _shoff, _flags, _eh, e_phentsize, e_phnum = \
            struct.unpack_from(end + "HHIQQQIHHH", head, 16)
        phdr = struct.Struct(end + "IIQQQQQQ")  # type flags offset vaddr paddr filesz memsz al
        fields = (0, 2, 3, 5)
        dyn = struct.Struct(end + "qQ")
    else:
        e_type, e_machine, _v, _entry, e_phoff, _shoff, _flags, _eh, e_phentsize, e_phnum = \
            struct.unpack_from(end + "HHIIIIIHHH", head, 16)
        phdr = struct.Struct(end + "IIIIIIII")  # type offset vaddr paddr filesz memsz flags al
        fields = (0, 1, 2, 4)
        dyn = struct.Struct(end + "iI")
    if e_phnum == 0 or e_phentsize < phdr.size:
        raise ValueError("no program headers")
    if e_phoff + e_phnum * e_phentsize > len(data):
        raise ValueError("its program headers end past the end of the file")
    segments: list[tuple[int, int, int, int]] = []
    for i in range(e_phnum):
        row = phdr.unpack_from(data, e_phoff + i * e_phentsize)
        p_type, p_offset, p_vaddr, p_filesz = (int(row[f]) for f in fields)
        segments.append((p_type, p_offset, p_vaddr, p_filesz))

    def at(vaddr: int) -> int:
        for p_type, offset, base, filesz in segments:
            if p_type == _PT_LOAD and base <= vaddr < base + filesz:
                return offset + vaddr - base
        raise ValueError(f"address {vaddr:#x} is in no PT_LOAD segment")

    tags: list[tuple[int, int]] = []
    for p_type, offset, _vaddr, filesz in segments:
        if p_type != _PT_DYNAMIC:
            continue
        for i in range(filesz // dyn.size):
            tag, value = dyn.unpack_from(data, offset + i * dyn.size)
            if tag == _DT["NULL"]:
                break
            tags.append((int(tag), int(value)))
    values = dict(tags)
    strtab = at(values[_DT["STRTAB"]]) if _DT["STRTAB"] in values else None

    def string(offset: int) -> str:
        if strtab is None:
            raise ValueError("DT_STRTAB missing")
        stop = data.find(b"\0", strtab + offset)
        return bytes(data[strtab + offset: stop]).decode("utf-8", "replace")

    needed = [SoName(string(v)) for t, v in tags if t == _DT["NEEDED"]]
    soname = next((SoName(string(v)) for t, v in tags if t == _DT["SONAME"]), None)
    rpath = [e for t, v in tags if t == _DT["RPATH"] for e in _split_path(string(v))]
    runpath = [e for t, v in tags if t == _DT["RUNPATH"] for e in _split_path(string(v))]
    needs: list[VersionNeed] = []
    if _DT["VERNEED"] in values:
        pos = at(values[_DT["VERNEED"]])
        for _ in range(values.get(_DT["VERNEEDNUM"], 0)):
            _ver, cnt, file_off, aux_off, next_off = struct.unpack_from(end + "HHIII", data, pos)
            aux = pos + aux_off
            for _ in range(cnt):
                _hash, _flags, _other, name_off, aux_next = struct.unpack_from(
                    end + "IHHII", data, aux)
                needs.append(VersionNeed(string(file_off), string(name_off)))
                if not aux_next:
                    break
                aux += aux_next
            if not next_off:
                break
            pos += next_off
    return Binary(
        path=path, format="elf", machine=_E_MACHINE.get(e_machine, str(e_machine)), bits=bits,
        soname=soname, needed=tuple(needed), rpath=tuple(rpath), runpath=tuple(runpath),
        build_id=_note_build_id(data, segments, end), version_needs=tuple(needs),
        exported=frozenset(), undefined=frozenset(), is_shared_object=e_type == 3,
        damage=damage,
    )


def _note_build_id(
    data: bytes | mmap.mmap, segments: list[tuple[int, int, int, int]], end: str
) -> str | None:
    for p_type, offset, _vaddr, filesz in segments:
        if p_type != _PT_NOTE:
            continue
        pos, stop = offset, offset + filesz
        while pos + 12 <= stop:
            namesz, descsz, n_type = (int(x) for x in struct.unpack_from(end + "III", data, pos))
            name_at = pos + 12
            desc_at = name_at + ((namesz + 3) & ~3)
            if n_type == 3 and bytes(data[name_at: name_at + namesz]).rstrip(b"\0") == b"GNU":
                return bytes(data[desc_at: desc_at + descsz]).hex()
            pos = desc_at + ((descsz + 3) & ~3)
    return None


def _split_path(value: str) -> list[str]:
    # An empty string is itself an entry (the current directory), so split keeps it.
    return value.split(":")


def _dynamic_tags(elf: ELFFile) -> Iterator[Any]:
    """Dynamic tags; typed Any because pyelftools sets needed/soname/rpath at run time."""
    for seg in elf.iter_segments():
        if isinstance(seg, DynamicSegment):
            yield from seg.iter_tags()
            return
    dyn = elf.get_section_by_name(".dynamic")
    if dyn is not None and hasattr(dyn, "iter_tags"):
        yield from dyn.iter_tags()


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
    count = size // entsize
    versym = _versym_table(sections, data, end, count)

    exported: set[str] = set()
    undefined: set[str] = set()
    undef_ver: list[tuple[str, str]] = []
    export_ver: list[tuple[str, str]] = []
    i_name, i_info, i_other, i_shndx = fields
    for i, row in enumerate(fmt.iter_unpack(data[off : off + count * entsize])):
        if i == 0:
            continue
        name_off = row[i_name]
        if not name_off:
            continue
        stop = strings.find(b"\0", name_off)
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
    n = min(count, int(sec["sh_size"]) // 2)
    return struct.unpack_from(f"{end}{n}H", data, off) + (0,) * (count - n)


def _build_id(elf: ELFFile, sections: dict[str, Section]) -> str | None:
    candidates = [s for s in sections.values() if isinstance(s, NoteSection)]
    for sec in candidates:
        for note in sec.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return str(note["n_desc"])
    return None
