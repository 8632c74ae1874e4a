"""The only module that edits Mach-O files: lief, on bytes in memory, on any host.

What it does is what ``install_name_tool`` does: rename dylib load commands (kind and position
kept, so the library ordinals the bind opcodes use stay valid), set the install name, and
rewrite the ``LC_RPATH`` list, in every slice of a universal file. What it refuses is what
``install_name_tool`` refuses or what lief cannot do safely:

- removing a dylib load command (lief does not renumber the ordinals in the bind info, so the
  symbols of every later dylib would bind to the wrong library): the plan never asks;
- an edit that does not fit the padding after the load commands: lief would shift segments to
  make room, which moves code the signature and every absolute reference describe. The output
  is compared with the input segment by segment and the edit refused if anything moved.

Every write invalidates an arm64 signature (the header page changes). The signature is then
re-sealed ad hoc (:mod:`wheelguard.repair.codesign`); where that is impossible the result says
the file must be re-signed on macOS, and the repair reports it.

lief is imported here only, and only when a repair edits a Mach-O file (``import lief`` costs
about 0.8 s): the audit reads Mach-O with :mod:`wheelguard.formats.macho`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wheelguard.errors import RepairError
from wheelguard.repair.codesign import ResealError, reseal
from wheelguard.repair.edits import MachOEdit

__all__ = ["MachOEdited", "apply_macho_edit"]

_FAT = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")


@dataclass(frozen=True, slots=True)
class MachOEdited:
    data: bytes
    signature: str | None
    """None: no slice was signed. ``re-sealed``: every ad-hoc signature was recomputed and is
    valid. Otherwise why the file must be re-signed on macOS before release."""


def apply_macho_edit(path: str, data: bytes, edit: MachOEdit) -> MachOEdited:
    """``data`` with ``edit`` applied to every slice; :class:`RepairError` if lief cannot
    read it or the edit would move the layout."""
    import lief

    lief.logging.disable()
    fat = lief.MachO.parse(data)
    if fat is None or fat.size == 0:
        raise RepairError(f"{path}: lief cannot read this Mach-O file")
    signed = False
    before = []
    # Slices stay owned by ``fat``: a slice outliving its FatBinary dangles (lief/nanobind).
    for i in range(fat.size):
        binary = fat.at(i)
        if binary is None:
            raise RepairError(f"{path}: lief lost slice {i}")
        before.append(_layout(binary))
        signed = signed or bool(binary.has_code_signature)
        _edit_slice(lief, path, binary, edit)
    if data[:4] in _FAT:
        out = bytes(fat.raw())
    else:
        thin = fat.at(0)
        assert thin is not None
        out = bytes(thin.write_to_bytes())
    again = lief.MachO.parse(out)
    if again is None or again.size != len(before):
        raise RepairError(f"{path}: lief wrote a file it cannot read back")
    for i in range(again.size):
        if _layout(again.at(i)) != before[i]:  # None at i fails the comparison too
            raise RepairError(
                f"{path}: the new load commands do not fit the padding before the first "
                "section; lief would move segments (install_name_tool refuses the same edit). "
                "Relink with -headerpad_max_install_names, or use shorter names")
    if not signed:
        return MachOEdited(out, None)
    try:
        return MachOEdited(reseal(out), "re-sealed")
    except ResealError as e:
        return MachOEdited(out, f"must be re-signed on macOS before release "
                                f"(codesign -f -s - or the release identity): {e}")


def _edit_slice(lief: Any, path: str, binary: Any, edit: MachOEdit) -> None:
    kinds = lief.MachO.LoadCommand.TYPE
    renames = dict(edit.replace_dylibs)
    for cmd in binary.commands:
        if not isinstance(cmd, lief.MachO.DylibCommand):
            continue
        if cmd.command == kinds.ID_DYLIB:
            if edit.install_name is not None:
                cmd.name = edit.install_name
        elif cmd.name in renames:
            cmd.name = renames[cmd.name]
    if edit.rpaths is None:
        return
    # Rewrite in place where possible (the fewest bytes moved), then trim or append. Removal
    # goes by index: a Python handle to a removed command dangles.
    current = [i for i, c in enumerate(binary.commands) if c.command == kinds.RPATH]
    for index, entry in zip(current, edit.rpaths, strict=False):
        binary.commands[index].path = entry
    for index in reversed(current[len(edit.rpaths):]):
        if not binary.remove_command(index):
            raise RepairError(f"{path}: lief could not remove LC_RPATH #{index}")
    for entry in edit.rpaths[len(current):]:
        binary.add(lief.MachO.RPathCommand.create(entry))


def _layout(binary: Any) -> list[tuple[Any, ...]]:
    """Where every segment and section starts: what must not move. ``__LINKEDIT`` may grow at
    its end (lief pads it), which moves nothing."""
    if binary is None:
        return [("lost",)]
    out: list[tuple[Any, ...]] = []
    for seg in binary.segments:
        size = None if seg.name == "__LINKEDIT" else seg.file_size
        out.append((seg.name, seg.file_offset, size))
        out.extend((seg.name, s.name, s.offset, s.size) for s in seg.sections)
    return out
