"""The edits a repair plan is made of: values the plan builds and the writer applies.

Kept apart from the plan's logic (:mod:`wheelguard.repair.plan`) so that the writer, the
format editors (:mod:`wheelguard.repair.patchelf`, :mod:`wheelguard.repair.macho`) and
``fix-source`` read the same values without importing the planner.
"""

from __future__ import annotations

from dataclasses import dataclass

from wheelguard.errors import RepairError
from wheelguard.model import ArchivePath, SearchTag
from wheelguard.repair.retag import TagEdit

__all__ = [
    "ElfEdit",
    "MachOEdit",
    "PlanConflict",
    "PreloadEdit",
    "RepairPlan",
    "RequirementEdit",
    "Step",
]


class PlanConflict(RepairError):
    """Two rules ask for incompatible edits of one member or one requirement."""


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the repair does, as printed and recorded in ``.dist-info/wheelguard.json``."""

    action: str
    path: str | None
    detail: str
    rule: str
    """``policy#n``: the rule that asked for it."""
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfEdit:
    """Everything done to one ELF member, applied in one strip and one patchelf call."""

    path: ArchivePath
    strip_debug: bool = False
    tag: SearchTag = "RUNPATH"
    search_path: tuple[str, ...] | None = None
    """The new entries of ``tag`` (None: unchanged; empty: remove the tag)."""
    replace_needed: tuple[tuple[str, str], ...] = ()
    remove_needed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MachOEdit:
    """Everything done to one Mach-O member (every slice alike), applied through lief by
    :mod:`wheelguard.repair.macho` and re-signed ad hoc where the signature allows it."""

    path: ArchivePath
    install_name: str | None = None
    """The new ``LC_ID_DYLIB`` (None: unchanged)."""
    replace_dylibs: tuple[tuple[str, str], ...] = ()
    """Dylib load commands renamed, kind and position kept (their ordinals stay valid)."""
    rpaths: tuple[str, ...] | None = None
    """The new ``LC_RPATH`` entries (None: unchanged; empty: all removed)."""


@dataclass(frozen=True, slots=True)
class RequirementEdit:
    provider: str
    old: str | None
    """The Requires-Dist as METADATA has it (None: add a new one)."""
    new: str


@dataclass(frozen=True, slots=True)
class PreloadEdit:
    init: ArchivePath
    """The package's ``__init__.py`` member."""
    module: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairPlan:
    drops: tuple[ArchivePath, ...] = ()
    elf: tuple[ElfEdit, ...] = ()
    macho: tuple[MachOEdit, ...] = ()
    requirements: tuple[RequirementEdit, ...] = ()
    preloads: tuple[PreloadEdit, ...] = ()
    steps: tuple[Step, ...] = ()
    failures: tuple[str, ...] = ()
    """Why the repair cannot be done (fail rules, expired waivers, unsafe drops)."""
    retag: TagEdit | None = None

    @property
    def changes(self) -> bool:
        return bool(self.drops or self.elf or self.macho or self.requirements or self.preloads
                    or self.retag)
