"""The core model every check, policy, repair step and reporter shares.

Values here are immutable: a wheel is scanned once into a :class:`Wheel` and every later
stage reads it. Sequences are tuples, sets are frozensets and mappings are read-only views
built once, so that "frozen" means frozen all the way down (a frozen dataclass holding a dict
is only shallowly immutable).

A :class:`Finding` says *what* it is about through a typed :data:`Subject` (a member, a tree,
copies of one library, a binary's debug sections, a search-path entry, a NEEDED entry, a
provider distribution, or the wheel). The policy matches subjects and the plan acts on them;
``Finding.data`` is for JSON readers only and nothing downstream of the checks reads it.

Why this module is long: it is the whole shared vocabulary (wheel, member, binary, finding and
the eight subject kinds) in one place, so that every stage imports its nouns from one module
and a reader sees every field any stage may rely on. Each class is small and behaviour-free.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NewType

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
    "CodeSignature",
    "CopiesSubject",
    "DebugInfoSubject",
    "DropKind",
    "DylibKind",
    "DylibLoad",
    "EntryKind",
    "Finding",
    "MachOFacts",
    "MachOFileType",
    "MachOSlice",
    "Member",
    "MemberSubject",
    "MinOSCommand",
    "NeededSubject",
    "PEFacts",
    "ProviderSubject",
    "PythonFacts",
    "RecordEntry",
    "SearchPathSubject",
    "SearchTag",
    "Severity",
    "Site",
    "SoName",
    "Subject",
    "SubjectKind",
    "TreeSubject",
    "VersionNeed",
    "Wheel",
    "WheelSubject",
    "freeze",
    "freeze_mapping",
]

ArchivePath = NewType("ArchivePath", str)
"""A member path inside a wheel: '/'-separated, relative, already checked for '..' and '/'."""

SoName = NewType("SoName", str)
"""A shared-library name as the loader matches it (DT_SONAME or DT_NEEDED)."""

BinaryFormat = Literal["elf", "macho", "pe"]

SearchTag = Literal["RPATH", "RUNPATH", "LC_RPATH"]
"""Where a search-path entry comes from: ELF DT_RPATH/DT_RUNPATH, Mach-O LC_RPATH."""

EntryKind = Literal["absolute", "cwd-relative", "escapes-root", "in-wheel", "missing-dir",
                    "other-distribution", "executable-relative"]
"""What the loader makes of one RPATH/RUNPATH (or LC_RPATH) entry, from the wheel's layout.
``executable-relative``: an ``@executable_path`` LC_RPATH entry, the Python interpreter's
directory for a wheel."""

DropKind = Literal["absolute", "cwd-relative", "escapes-root", "missing-dir",
                   "other-distribution", "undeclared-distribution", "executable-relative"]
"""The entry kinds a ``relink`` rule can drop: an ``other-distribution`` entry into a
distribution the wheel does not declare is ``undeclared-distribution``."""


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
    RETAG = "retag"
    FAIL = "fail"
    WAIVE = "waive"


def freeze(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a finding's structured data, so findings stay hashable in spirit.

    Nested lists become tuples; JSON renderers turn them back into arrays.
    """
    if not data:
        return types.MappingProxyType({})
    return types.MappingProxyType({k: _freeze_value(v) for k, v in data.items()})


def freeze_mapping(data: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """A read-only copy of a mapping whose values are already immutable."""
    return types.MappingProxyType(dict(data))


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



DylibKind = Literal["load", "weak", "reexport", "upward", "lazy"]
"""How a Mach-O load command loads a dylib: ``LC_LOAD_DYLIB``, ``LC_LOAD_WEAK_DYLIB`` (a
missing one is tolerated), ``LC_REEXPORT_DYLIB``, ``LC_LOAD_UPWARD_DYLIB``,
``LC_LAZY_LOAD_DYLIB``."""

MachOFileType = Literal["dylib", "bundle", "execute", "dsym", "object", "other"]
"""``MH_DYLIB``, ``MH_BUNDLE`` (what a Python extension is), ``MH_EXECUTE``, ``MH_DSYM`` (a debug
companion dyld never loads), ``MH_OBJECT``."""

MinOSCommand = Literal["LC_BUILD_VERSION", "LC_VERSION_MIN_MACOSX", "LC_VERSION_MIN"]
"""The load command a slice's minimum OS version comes from."""

CodeSignature = Literal["adhoc", "linker-signed", "certificate"]
"""An embedded signature: ad hoc (``codesign -s -``), ad hoc written by the linker (what ld64
and zig leave on arm64), or one that carries a certificate (Developer ID)."""


@dataclass(frozen=True, slots=True)
class DylibLoad:
    """One dylib load command, verbatim."""

    kind: DylibKind
    name: str
    """The install name as written: ``@rpath/libtvm_ffi.dylib``, ``/usr/lib/libSystem.B.dylib``."""
    current_version: str | None = None
    compatibility_version: str | None = None


@dataclass(frozen=True, slots=True)
class MachOSlice:
    """One architecture of a thin or universal Mach-O file: its load commands as written."""

    arch: str
    """``arm64``, ``x86_64``, ``arm64e``, ``i386`` ...: the names wheel tags and lipo use."""
    file_type: MachOFileType
    install_name: str | None
    """``LC_ID_DYLIB``; None for bundles and executables."""
    dylibs: tuple[DylibLoad, ...]
    rpaths: tuple[str, ...]
    """``LC_RPATH`` entries verbatim (``@loader_path/...`` is not rewritten)."""
    uuid: str | None
    platform: str | None = None
    """``macos``, ``ios`` ... from ``LC_BUILD_VERSION``, ``macos`` for ``LC_VERSION_MIN_MACOSX``;
    None when neither is present."""
    min_os: tuple[int, int, int] | None = None
    """The minimum OS version the slice was built for (``minos``); None when not recorded."""
    sdk: tuple[int, int, int] | None = None
    min_os_command: MinOSCommand | None = None
    signature: CodeSignature | None = None
    """None: no ``LC_CODE_SIGNATURE``."""
    signature_valid: bool | None = None
    """Whether every code page hash of the signature matches the bytes (None: unsigned, or a
    signature wheelguard does not verify)."""

    @property
    def min_os_text(self) -> str | None:
        if self.min_os is None:
            return None
        major, minor, patch = self.min_os
        return f"{major}.{minor}" + (f".{patch}" if patch else "")


@dataclass(frozen=True, slots=True)
class MachOFacts:
    """What the Mach-O adapter read beyond the format-neutral fields of :class:`Binary`."""

    slices: tuple[MachOSlice, ...]
    fat: bool
    """A universal file (``FAT_MAGIC``), even with a single slice."""

    @property
    def file_type(self) -> MachOFileType:
        return self.slices[0].file_type

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(s.arch for s in self.slices)

    def load_kind(self, name: str) -> DylibKind | None:
        """How the first slice that loads ``name`` loads it."""
        for s in self.slices:
            for d in s.dylibs:
                if d.name == name:
                    return d.kind
        return None


@dataclass(frozen=True, slots=True)
class PEFacts:
    """What the PE adapter read beyond the format-neutral fields of :class:`Binary`."""

    kind: Literal["dll", "exe"]
    imports: tuple[str, ...]
    """DLL names of the import directory, as written (case as the linker left it)."""
    delay_imports: tuple[str, ...]
    """DLL names of the delay-load directory: loaded on the first call, not at load time."""
    export_name: str | None
    """The name in the export directory (what the DLL was linked as; a grafted copy keeps it)."""
    subsystem: str | None = None
    signed: bool = False
    """An Authenticode certificate table is present (not verified)."""


@dataclass(frozen=True, slots=True)
class Binary:
    """What wheelguard knows of one native library or executable in a wheel.

    Produced by the format adapters (``elf``, ``macho``, ``pe``) and never by anything else,
    so that a check can trust every field. The format-neutral fields say the same thing for
    each format: ``soname`` is the name other objects load it by (ELF ``DT_SONAME``, Mach-O
    ``LC_ID_DYLIB``; None for PE, which is loaded by file name), ``needed`` the libraries it
    loads (``DT_NEEDED``; every dylib load command; imported and delay-imported DLLs), ``rpath``
    the search path it carries (``DT_RPATH``; ``LC_RPATH`` verbatim; nothing for PE).
    ``macho``/``pe`` hold what only that format has; the ELF adapter leaves both None.
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
    """A full (non-dynamic) symbol table: ELF ``.symtab``, Mach-O ``LC_SYMTAB`` with local
    symbols, a COFF symbol table in a PE file."""
    is_shared_object: bool = True
    """Loadable as a library: ELF ``ET_DYN``, Mach-O dylib or bundle, a PE DLL."""
    macho: MachOFacts | None = None
    pe: PEFacts | None = None
    debug_bytes: int = 0
    """Bytes of those DWARF sections in the file (0 where the adapter does not measure them)."""

    @property
    def search_path(self) -> tuple[str, ...]:
        """The entries the loader searches for this object's NEEDED, in order.

        DT_RPATH counts only when DT_RUNPATH is absent; that is glibc's rule. Mach-O keeps its
        ``LC_RPATH`` entries in ``rpath``.
        """
        return self.runpath if self.runpath else self.rpath

    @property
    def search_path_tag(self) -> SearchTag:
        if self.format == "macho":
            return "LC_RPATH"
        return "RUNPATH" if self.runpath else "RPATH"

    @property
    def is_debug_companion(self) -> bool:
        """A ``.dSYM`` DWARF file: debug data with a library's UUID, never loaded."""
        return self.macho is not None and self.macho.file_type == "dsym"

    def exports_prefix(self, prefix: str) -> tuple[str, ...]:
        """Exported symbols starting with ``prefix`` (e.g. ``TVMFFI`` for the tvm-ffi C ABI)."""
        return tuple(sorted(s for s in self.exported if s.startswith(prefix)))

    @property
    def name(self) -> str:
        """The name other objects use to find this one: SONAME, else the file name."""
        return self.soname or self.path.rsplit("/", 1)[-1]



@dataclass(frozen=True, slots=True)
class Site:
    """Where a statement or literal was seen in the wheel's Python code."""

    file: ArchivePath
    line: int
    guarded: bool
    """Inside a ``try`` whose handlers catch a failed import or load."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" + (" (in try/except)" if self.guarded else "")


@dataclass(frozen=True, slots=True)
class PythonFacts:
    """What the wheel's own Python code says about loading its native parts (read by
    :mod:`wheelguard.reading.pysource`)."""

    imports: Mapping[str, tuple[Site, ...]] = field(
        default_factory=lambda: types.MappingProxyType({}))
    """Dotted module name -> where the package imports it (unguarded sites first, a few at
    most); only the wheel's extension modules, and test modules do not count."""
    libraries: Mapping[str, tuple[Site, ...]] = field(
        default_factory=lambda: types.MappingProxyType({}))
    """String literal of a module that loads libraries itself -> where it appears."""
    fragments: frozenset[str] = frozenset()
    """Relative paths ('data/csrc', 'driver.c') the code builds from literals."""
    on_import: frozenset[str] = frozenset()
    """Dotted names of the wheel's modules (Python and extension) that importing its
    top-level packages runs."""
    alternatives: frozenset[str] = frozenset()
    """``file:line`` sites whose library literals are alternatives of one conditional
    expression (``"a" if flag else "b"``): one of them is loaded."""


# ---- subjects: what a finding is about --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSubject:
    """One member of the archive: a library, an extension module, any file."""

    kind: ClassVar[Literal["member"]] = "member"
    path: ArchivePath
    library: str | None = None
    """For a native member: the name the loader knows it by (SONAME, else the file name)."""
    provider: str | None = None
    """The distribution the finding ties the member to (the pip provider of a bundled copy,
    the owner of an embedded runtime), canonical name."""

    @property
    def anchor(self) -> str | None:
        return self.path

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return (self.path,)

    @property
    def libraries(self) -> tuple[str, ...]:
        return _names(self.path, self.library)


@dataclass(frozen=True, slots=True, kw_only=True)
class CopiesSubject:
    """Several members that are copies of one library (same SONAME, content or build-id)."""

    kind: ClassVar[Literal["copies"]] = "copies"
    members: tuple[ArchivePath, ...]
    names: tuple[str, ...] = ()
    """The loader names of the copies and the key they share."""

    @property
    def anchor(self) -> str | None:
        return min(self.members) if self.members else None

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return self.members

    @property
    def libraries(self) -> tuple[str, ...]:
        names = [n for p in self.members for n in _names(p, None)]
        return tuple(dict.fromkeys([*self.names, *names]))

    @property
    def provider(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeSubject:
    """A directory tree of the wheel, with the members the finding stands for."""

    kind: ClassVar[Literal["tree"]] = "tree"
    tree: str
    vendored: bool
    members: tuple[tuple[ArchivePath, str], ...]
    """(member, category) for every member counted: ``source``, ``cmake``, ``object`` ..."""

    @property
    def anchor(self) -> str | None:
        return self.tree

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return tuple(p for p, _c in self.members)

    @property
    def libraries(self) -> tuple[str, ...]:
        return ()

    @property
    def provider(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class DebugInfoSubject:
    """The debug sections of one binary (stripping them keeps the binary)."""

    kind: ClassVar[Literal["debug-info"]] = "debug-info"
    binary: ArchivePath
    library: str | None = None

    @property
    def anchor(self) -> str | None:
        return self.binary

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return (self.binary,)

    @property
    def libraries(self) -> tuple[str, ...]:
        return _names(self.binary, self.library)

    @property
    def provider(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPathSubject:
    """One RPATH/RUNPATH (LC_RPATH) entry of one binary, classified."""

    kind: ClassVar[Literal["search-path"]] = "search-path"
    binary: ArchivePath
    library: str | None = None
    tag: SearchTag
    entry: str
    """The entry verbatim, as the binary stores it."""
    entry_kind: EntryKind
    directory: str | None = None
    """Install-root-relative directory it reaches ($ORIGIN entries only)."""
    owner: str | None = None
    """For an entry into another distribution's directory: the distribution known to own it."""
    declared: bool = False
    """Whether the wheel declares ``owner`` (Requires-Dist in force)."""

    @property
    def anchor(self) -> str | None:
        return self.binary

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return (self.binary,)

    @property
    def libraries(self) -> tuple[str, ...]:
        return _names(self.binary, self.library)

    @property
    def provider(self) -> str | None:
        return self.owner

    @property
    def drop_kind(self) -> DropKind | None:
        """The kind a relink rule's ``drop`` names for this entry; None: not droppable."""
        match self.entry_kind:
            case "in-wheel":
                return None
            case "other-distribution":
                return "other-distribution" if self.declared else "undeclared-distribution"
            case _:
                return self.entry_kind


@dataclass(frozen=True, slots=True, kw_only=True)
class NeededSubject:
    """A DT_NEEDED (load command, imported DLL) of one or more binaries."""

    kind: ClassVar[Literal["needed"]] = "needed"
    binaries: tuple[ArchivePath, ...]
    needed: str
    provider: str | None = None
    """The distribution expected to provide it, where one is known (canonical name)."""

    @property
    def anchor(self) -> str | None:
        return self.binaries[0] if self.binaries else None

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return self.binaries

    @property
    def libraries(self) -> tuple[str, ...]:
        return (self.needed,)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSubject:
    """A distribution the wheel depends on (or should), as a whole."""

    kind: ClassVar[Literal["provider"]] = "provider"
    distribution: str
    binaries: tuple[ArchivePath, ...] = ()
    """The wheel's binaries concerned, if any."""
    library: str | None = None
    """The library (SONAME) or runtime the finding is about, if one."""

    @property
    def anchor(self) -> str | None:
        return self.binaries[0] if self.binaries else None

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return self.binaries

    @property
    def libraries(self) -> tuple[str, ...]:
        if self.library is not None:
            return (self.library,)
        return tuple(n for b in self.binaries for n in _names(b, None))

    @property
    def provider(self) -> str | None:
        return self.distribution


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelSubject:
    """The wheel as a whole (its size, its tag)."""

    kind: ClassVar[Literal["wheel"]] = "wheel"

    @property
    def anchor(self) -> str | None:
        return None

    @property
    def paths(self) -> tuple[ArchivePath, ...]:
        return ()

    @property
    def libraries(self) -> tuple[str, ...]:
        return ()

    @property
    def provider(self) -> str | None:
        return None


Subject = (MemberSubject | CopiesSubject | TreeSubject | DebugInfoSubject | SearchPathSubject
           | NeededSubject | ProviderSubject | WheelSubject)
SubjectKind = Literal["member", "copies", "tree", "debug-info", "search-path", "needed",
                      "provider", "wheel"]


def _names(path: str, library: str | None) -> tuple[str, ...]:
    base = path.rsplit("/", 1)[-1]
    return (library, base) if library and library != base else (base,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One defect (or note) found in one wheel.

    ``check`` is the stable ``WGnnn`` code and ``name`` its readable alias; ``subject`` is what
    the finding is about, typed, and the only part the policy and the plan read. ``data`` holds
    the facts a JSON reader wants (paths, entries, byte counts) beside the message written for
    people; it is output only.
    """

    check: str
    name: str
    severity: Severity
    subject: Subject
    message: str
    hint: str = ""
    data: Mapping[str, Any] = field(default_factory=freeze)
    action: str | None = None
    """The policy action assigned to this finding, if a policy was applied."""
    waived: str | None = None
    """The waiver's reason when a policy waived this finding."""

    @property
    def path(self) -> str | None:
        """Where the finding points in the wheel (None: the wheel as a whole)."""
        return self.subject.anchor

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
    """METADATA as :func:`packaging.metadata.parse_email` understood it (raw, lenient), frozen
    (lists as tuples)."""
    requires_dist: tuple[Requirement, ...]
    wheel_fields: Mapping[str, tuple[str, ...]]
    record: tuple[RecordEntry, ...]
    members: tuple[Member, ...]
    binaries: tuple[Binary, ...]
    unreadable_binaries: tuple[tuple[ArchivePath, str], ...] = ()
    """Members with native magic that the adapter could not parse, with the reason."""
    file_size: int = 0
    """Bytes of the wheel file itself (what an index's upload limit and a size budget count);
    more than the compressed members, by the zip's headers and central directory."""
    debug_companions: tuple[Binary, ...] = ()
    """Native files that are debug data, not code: the DWARF files of ``.dSYM`` bundles
    (Mach-O ``MH_DSYM``). Kept out of ``binaries`` because no loader ever maps them, so no
    check about libraries (duplicates, runtimes, search paths) may count them."""
    python: PythonFacts = field(default_factory=PythonFacts)
    record_digests: Mapping[str, str] = field(default_factory=lambda: freeze_mapping({}))
    """For members RECORD hashes with another algorithm than sha256: ``algo=digest`` of the
    member's bytes in that algorithm (urlsafe base64, no padding), as RECORD writes it."""
    dist_info_files: Mapping[str, bytes] = field(default_factory=lambda: freeze_mapping({}))
    """The bytes of METADATA, WHEEL, RECORD and entry_points.txt (when present), by file name,
    as the archive holds them: the installability checks parse them as installers do."""

    _index: Mapping[str, Member] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once with the value; frozen dataclasses allow this only through object.
        object.__setattr__(self, "metadata_fields", freeze(self.metadata_fields))
        object.__setattr__(self, "wheel_fields", freeze_mapping(self.wheel_fields))
        object.__setattr__(self, "dist_info_files", freeze_mapping(self.dist_info_files))
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

