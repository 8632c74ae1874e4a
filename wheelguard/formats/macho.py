"""Mach-O adapter: the only module that imports lief.

macOS wheels carry the same defects as Linux ones (an ``LC_RPATH`` into a build tree, a
bundled ``libtvm_ffi.dylib``), so they map onto the same :class:`~wheelguard.model.Binary`.
Install names stand in for SONAME/NEEDED and ``LC_RPATH`` for RUNPATH; ``@loader_path`` is
rewritten to ``$ORIGIN`` so the checks reason about one spelling.
"""

from __future__ import annotations

from wheelguard.model import ArchivePath, Binary, SoName

__all__ = ["MachOParseError", "is_macho", "parse_macho"]

_THIN = {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe"}
_FAT = b"\xca\xfe\xba\xbe"
_CPU = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 12: "arm"}


class MachOParseError(ValueError):
    """The bytes carry Mach-O magic but lief cannot read them."""


def is_macho(head: bytes) -> bool:
    if head[:4] in _THIN:
        return True
    if head[:4] == _FAT and len(head) >= 8:
        # Java class files share 0xCAFEBABE; there the next word is a version >= 45,
        # while a fat header counts a handful of architectures.
        count = int.from_bytes(head[4:8], "big")
        return 0 < count < 20
    return False


def _loader(entry: str) -> str:
    return entry.replace("@loader_path", "$ORIGIN")


def parse_macho(path: ArchivePath, data: bytes) -> Binary:
    import lief

    lief.logging.disable()
    try:
        fat = lief.MachO.parse(data)
    except Exception as e:  # lief raises its own unrelated types on corrupt input
        raise MachOParseError(f"{path}: unreadable Mach-O ({e})") from None
    if fat is None or fat.size == 0:
        raise MachOParseError(f"{path}: unreadable Mach-O")
    binary = fat.at(0)
    if binary is None:
        raise MachOParseError(f"{path}: empty fat Mach-O")
    machines = sorted(
        # A CPU type lief has no enum member for comes back as a plain int.
        {_CPU.get(int(getattr(b.header.cpu_type, "value", b.header.cpu_type)), "unknown")
         for b in fat}
    )
    soname: str | None = None
    needed: list[str] = []
    rpaths: list[str] = []
    for cmd in binary.commands:
        if isinstance(cmd, lief.MachO.DylibCommand):
            kind = cmd.command
            if kind == lief.MachO.LoadCommand.TYPE.ID_DYLIB:
                soname = str(cmd.name)
            else:
                needed.append(str(cmd.name))
        elif isinstance(cmd, lief.MachO.RPathCommand):
            rpaths.append(_loader(str(cmd.path)))
    exported = frozenset(str(s.name).removeprefix("_") for s in binary.exported_symbols)
    undefined = frozenset(str(s.name).removeprefix("_") for s in binary.imported_symbols)
    has_debug = any(str(s.name).startswith("__debug_") for s in binary.sections)
    uuid = None
    uuid_cmd = binary.uuid if binary.has_uuid else None
    if uuid_cmd is not None:
        uuid = bytes(uuid_cmd.uuid).hex()
    return Binary(
        path=path,
        format="macho",
        machine="+".join(machines),
        bits=64 if binary.header.is_64bit else 32,
        soname=SoName(soname) if soname else None,
        needed=tuple(SoName(n) for n in needed),
        rpath=(),
        runpath=tuple(rpaths),
        build_id=uuid,
        version_needs=(),
        exported=exported,
        undefined=undefined,
        has_debug_info=has_debug,
        has_symtab=True,
        is_shared_object=True,
    )
