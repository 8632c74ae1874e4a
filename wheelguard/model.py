"""The core model every check, policy, repair step and reporter shares.

Values here are immutable: a wheel is scanned once into a :class:`Wheel` and every later
stage reads it. Sequences are tuples and sets are frozensets so that "frozen" means frozen all
the way down (a frozen dataclass holding a dict is only shallowly immutable).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NewType

if TYPE_CHECKING:  # annotations only: the CLI imports this module before parsing arguments
    from packaging.requirements import Requirement
    from packaging.tags import Tag
    from packaging.utils import NormalizedName
    from packaging.version import Version

__all__ = [
    "Action",
    "ArchivePath",
    "Binary",
    "BinaryFormat",
    "Finding",
    "Member",
    "RecordEntry",
    "Severity",
    "SoName",
    "VersionNeed",
    "Wheel",
    "freeze",
]

ArchivePath = NewType("ArchivePath", str)
"""A member path inside a wheel: '/'-separated, relative, already checked for '..' and '/'."""

SoName = NewType("SoName", str)
"""A shared-library name as the loader matches it (DT_SONAME or DT_NEEDED)."""

BinaryFormat = Literal["elf", "macho", "pe"]


class Severity(enum.IntEnum):
    """Ordered so that ``--fail-on`` can compare: a finding fails the run at or above it."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            msg = f"unknown severity {text!r} (choose from {choices})"
            raise ValueError(msg) from None


class Action(enum.Enum):
    """What a policy says must happen to whatever a rule matches."""

    KEEP = "keep"
    STRIP = "strip"
    RELINK = "relink"
    DEPEND_ON_PIP = "depend-on-pip"
    GRAFT = "graft"
    FAIL = "fail"
    WAIVE = "waive"


def freeze(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a finding's structured data, so findings stay hashable in spirit.

    Nested lists become tuples; JSON renderers turn them back into arrays.
    """
    if not data:
        return types.MappingProxyType({})
    return types.MappingProxyType({k: _freeze_value(v) for k, v in data.items()})


def _freeze_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze_value(v) for v in value)
    if isinstance(value, dict):
        return freeze(value)
    return value


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One RECORD row as written; hash and size are None where the row leaves them empty."""

    path: str
    hash: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the wheel archive, with the digest taken while it was read once."""

    path: ArchivePath
    size: int
    compressed_size: int
    sha256: str
    """urlsafe base64 without padding, the form RECORD uses."""
    magic: bytes
    """The first bytes, enough to tell native binaries from everything else."""


@dataclass(frozen=True, slots=True)
class VersionNeed:
    """A ``.gnu.version_r`` requirement: ``library`` must define ``version`` (e.g. GLIBC_2.28)."""

    library: str
    version: str


@dataclass(frozen=True, slots=True)
class Binary:
    """What wheelguard knows of one native library or executable in a wheel.

    Produced by the format adapters (``elf``, ``macho``) and never by anything else, so that a
    check can trust every field.
    """

    path: ArchivePath
    format: BinaryFormat
    machine: str
    """Architecture as wheel platform tags spell it: x86_64, aarch64, i686, ppc64le ..."""
    bits: int
    soname: SoName | None
    needed: tuple[SoName, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    build_id: str | None
    version_needs: tuple[VersionNeed, ...]
    exported: frozenset[str]
    """Defined dynamic symbols visible to other objects (global or weak, default visibility)."""
    undefined: frozenset[str]
    """Dynamic symbols this object imports."""
    undefined_versioned: tuple[tuple[str, str], ...] = ()
    """(symbol, version) for imports that name a version, e.g. ('memcpy', 'GLIBC_2.14')."""
    exported_versioned: tuple[tuple[str, str], ...] = ()
    has_debug_info: bool = False
    """Real DWARF ``.debug_*``/``.zdebug_*`` sections with content, not a mere ``.symtab``."""
    has_symtab: bool = False
    is_shared_object: bool = True

    @property
    def search_path(self) -> tuple[str, ...]:
        """The entries the loader searches for this object's NEEDED, in order.

        DT_RPATH counts only when DT_RUNPATH is absent; that is glibc's rule.
        """
        return self.runpath if self.runpath else self.rpath

    @property
    def search_path_tag(self) -> str:
        return "RUNPATH" if self.runpath else "RPATH"

    def exports_prefix(self, prefix: str) -> tuple[str, ...]:
        """Exported symbols starting with ``prefix`` (e.g. ``TVMFFI`` for the tvm-ffi C ABI)."""
        return tuple(sorted(s for s in self.exported if s.startswith(prefix)))

    @property
    def name(self) -> str:
        """The name other objects use to find this one: SONAME, else the file name."""
        return self.soname or self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One defect (or note) found in one wheel.

    ``check`` is the stable ``WGnnn`` code and ``name`` its readable alias; ``data`` holds the
    structured facts a machine consumer needs (paths, entries, byte counts) beside the message
    written for people.
    """

    check: str
    name: str
    severity: Severity
    path: str | None
    message: str
    hint: str = ""
    data: Mapping[str, Any] = field(default_factory=freeze)
    action: str | None = None
    """The policy action assigned to this finding, if a policy was applied."""
    waived: str | None = None
    """The waiver's reason when a policy waived this finding."""

    @property
    def sort_key(self) -> tuple[int, str, str, str]:
        return (-self.severity, self.check, self.path or "", self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Wheel:
    """A scanned wheel: names, metadata and every member read once."""

    path: str
    filename: str
    name: NormalizedName
    version: Version
    build_tag: tuple[int, str] | tuple[()]
    tags: frozenset[Tag]
    dist_info: str
    """The ``<name>-<version>.dist-info`` directory inside the archive."""
    metadata_fields: Mapping[str, Any]
    """METADATA as :func:`packaging.metadata.parse_email` understood it (raw, lenient)."""
    requires_dist: tuple[Requirement, ...]
    wheel_fields: Mapping[str, tuple[str, ...]]
    record: tuple[RecordEntry, ...]
    members: tuple[Member, ...]
    binaries: tuple[Binary, ...]
    unreadable_binaries: tuple[tuple[ArchivePath, str], ...] = ()
    """Members with native magic that the adapter could not parse, with the reason."""

    _index: Mapping[str, Member] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once with the value; frozen dataclasses allow this only through object.
        object.__setattr__(
            self, "_index", types.MappingProxyType({m.path: m for m in self.members})
        )

    def member(self, path: str) -> Member | None:
        return self._index.get(path)

    def has_dir(self, directory: str) -> bool:
        """True when some member lies under ``directory`` (wheels store no directory entries)."""
        prefix = directory.rstrip("/") + "/"
        return any(m.path.startswith(prefix) for m in self.members)

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(t.platform for t in self.tags)

    @property
    def top_levels(self) -> frozenset[str]:
        """First path components of the wheel's payload, excluding its .dist-info and .data."""
        tops = set()
        for m in self.members:
            top = m.path.split("/", 1)[0]
            if top.endswith((".dist-info", ".data")):
                continue
            tops.add(top.removesuffix(".py"))
        return frozenset(tops)

    def iter_binaries(self, fmt: BinaryFormat | None = None) -> Iterator[Binary]:
        for b in self.binaries:
            if fmt is None or b.format == fmt:
                yield b

    @property
    def total_size(self) -> int:
        return sum(m.size for m in self.members)

    @property
    def total_compressed(self) -> int:
        return sum(m.compressed_size for m in self.members)

