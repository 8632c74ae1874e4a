"""Every rule wheelguard can report, in one table.

A rule is the stable identity of a kind of finding: a ``WGnnn`` code that never changes
meaning, a readable name (either may be used in ``--select``, ``--ignore`` and policy files),
a default severity and a one-line summary. It also says what its findings are about (the
subject kind), which policy actions can handle them and which release-checklist item they
decide: the policy, the plan and the checklist read those here, so a new check touches only
its own module and this table. ``docs/checks.md`` documents each rule; a test keeps the two in
step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wheelguard.model import Action, Finding, Severity, Subject, SubjectKind, freeze

__all__ = [
    "ITEMS", "RULES", "UNIVERSAL_ACTIONS", "ChecklistItem", "Needs", "Rule", "lookup_rule"
]


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One line of the release checklist; every rule belongs to exactly one."""

    id: str
    title: str


ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem("integrity", "The archive is a well-formed wheel and RECORD matches every "
                  "member"),
    ChecklistItem("one-runtime", "One copy of each runtime: nothing bundled or embedded that a "
                  "dependency provides"),
    ChecklistItem("search-paths", "RPATH/RUNPATH entries are relative to $ORIGIN and stay "
                  "inside the wheel"),
    ChecklistItem("loader", "Every needed library resolves, from the wheel, the platform or a "
                  "declared dependency, within the tag's symbol versions"),
    ChecklistItem("contents", "No source or build trees, foreign binaries or debug info"),
    ChecklistItem("size", "Within the size budget"),
    ChecklistItem("policy", "Nothing the project's policy forbids"),
)
_ITEM_IDS = frozenset(i.id for i in ITEMS)

Needs = Literal["linkage", "size-budget", "policy"]
"""What a check needs beyond the wheel to run at all: dependency wheels (``--wheelhouse`` or
``--download``), a size budget, or a policy. Without it the check is *not run*, which reports
must say ("not checked"), never "no findings"."""

UNIVERSAL_ACTIONS = frozenset({Action.FAIL, Action.WAIVE})
"""Actions every rule accepts: a project may forbid or waive any finding."""


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    subject: SubjectKind
    """What its findings are about; the policy matches and the plan acts on that."""
    item: str
    """The release-checklist item (:data:`ITEMS`) its findings decide."""
    actions: frozenset[Action]
    """Policy actions beyond fail/waive that can handle its findings."""
    summary: str
    hint: str
    needs: Needs | None = None
    """What the check needs beyond the wheel; None: it runs on every audit."""
    unchecked: bool = False
    """Its findings say that part of the check could not be done (a provider wheel that
    could not be read): the checklist item is then *not checked*, whatever the severity."""
    blocks_repair: bool = False
    """An error finding of this rule means no installer can take the wheel, and nothing a
    repair does fixes it: ``repair`` refuses such a wheel instead of writing it anew."""

    def __post_init__(self) -> None:
        assert self.item in _ITEM_IDS, self.item

    def accepts(self, action: Action) -> bool:
        return action in UNIVERSAL_ACTIONS or action in self.actions

    def finding(
        self,
        subject: Subject,
        message: str,
        *,
        data: Mapping[str, Any] | None = None,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        assert subject.kind == self.subject, (self.code, subject.kind)
        return Finding(
            check=self.code,
            name=self.name,
            severity=severity or self.severity,
            subject=subject,
            message=message,
            hint=self.hint if hint is None else hint,
            data=freeze(data),
        )


E, W, N, A = Severity.ERROR, Severity.WARNING, Severity.INFO, Action
# The actions each kind of finding can be handled by, beyond fail and waive.
_NONE: frozenset[Action] = frozenset()
_PIP = frozenset({A.DEPEND_ON_PIP})
_RELINK = frozenset({A.RELINK})
_SIBLING = frozenset({A.RELINK, A.DEPEND_ON_PIP})
_NEEDED = frozenset({A.RELINK, A.DEPEND_ON_PIP, A.GRAFT})
_PROVIDED = frozenset({A.DEPEND_ON_PIP, A.GRAFT})
_REMOVABLE = frozenset({A.KEEP, A.STRIP})
_BUNDLED = frozenset({A.KEEP, A.STRIP, A.DEPEND_ON_PIP})

_ALL = (
    # 1xx: one runtime, loaded once
    Rule("WG101", "duplicate-soname", E, "copies", "one-runtime", _PIP,
         "Two different builds carry one SONAME and the package loads both: either both are "
         "mapped (one opened by path) or the first one loaded serves every user of the other.",
         "Ship one copy; point every user at it through $ORIGIN-relative RUNPATH entries."),
    Rule("WG102", "duplicate-content", W, "copies", "one-runtime", _PIP,
         "Two native members are byte-identical (a symlink turned into a copy, or a graft) "
         "and the loader maps only one of them: wasted space.",
         "Keep one file; wheels cannot hold symlinks, so make the loader find the single copy."),
    Rule("WG103", "duplicate-build-id", E, "copies", "one-runtime", _PIP,
         "Two members with one GNU build-id (one build, shipped twice) can both be mapped into "
         "one process.",
         "Ship one copy of the library."),
    Rule("WG104", "embedded-runtime-abi", E, "member", "one-runtime", _NONE,
         "A library exports a runtime's C ABI (the tvm-ffi TVMFFI* functions) while another "
         "member that carries it too, or a required distribution, is loaded into the same "
         "process: a second runtime.",
         "Link against tvm_ffi::shared from apache-tvm-ffi instead of compiling tvm-ffi "
         "sources in; stripping files cannot fix this."),
    Rule("WG105", "bundled-provided-library", E, "member", "one-runtime", _BUNDLED,
         "The wheel bundles, under the provider's own SONAME, a library a required "
         "distribution ships (or a renamed copy of a runtime such as libtvm_ffi): two copies, "
         "or the wrong one, in one process.",
         "Drop the bundled copy (exclude libtvm_ffi.so from auditwheel/delocate grafting) and "
         "import tvm_ffi before loading your libraries."),
    Rule("WG120", "duplicate-install-name", E, "copies", "one-runtime", _PIP,
         "Two different Mach-O dylibs of the wheel carry the same install name (LC_ID_DYLIB).",
         "Ship one copy; let every user load it through @rpath or @loader_path."),
    Rule("WG121", "duplicate-uuid", E, "copies", "one-runtime", _PIP,
         "Two different Mach-O files share an LC_UUID: one build shipped twice (the .dSYM "
         "debug companion of a library is not counted).",
         "Ship one copy of the library."),
    Rule("WG122", "duplicate-dll-name", E, "copies", "one-runtime", _PIP,
         "Two different DLLs of the wheel have one file name: Windows keeps one module per name, "
         "so the first one loaded serves every later import of that name.",
         "Ship one copy, or give private copies distinct names (delvewheel's name mangling)."),
    Rule("WG106", "duplicate-apart", W, "copies", "one-runtime", _PIP,
         "Different builds of one library (one SONAME, one build-id, or one runtime's C ABI) "
         "that the loader cannot map into one process: alternatives the package opens one at "
         "a time, or copies nothing in the wheel loads.",
         "Nothing breaks today; ship one build if the copies are not alternatives."),
    # 2xx: RPATH / RUNPATH hygiene
    Rule("WG201", "rpath-absolute", E, "search-path", "search-paths", _RELINK,
         "An RPATH/RUNPATH entry is an absolute path, valid only on the build machine.",
         "Replace it by an $ORIGIN-relative entry (CMake: INSTALL_RPATH \"$ORIGIN\", "
         "BUILD_WITH_INSTALL_RPATH, or CMAKE_SKIP_INSTALL_RPATH)."),
    Rule("WG202", "rpath-cwd-relative", E, "search-path", "search-paths", _RELINK,
         "An RPATH/RUNPATH entry is empty or relative without $ORIGIN: it resolves against the "
         "process's current directory (a library-hijack risk).",
         "Remove the entry or anchor it with $ORIGIN."),
    Rule("WG203", "rpath-escapes-root", W, "search-path", "search-paths", _RELINK,
         "An $ORIGIN-relative entry climbs out of the install root (above site-packages).",
         "Point entries only at directories the wheel or a declared dependency installs."),
    Rule("WG204", "rpath-other-distribution", W, "search-path", "search-paths", _SIBLING,
         "An entry reaches into another distribution's directory; it works only when both "
         "sit in one site-packages (breaks with --system-site-packages, --target, --user).",
         "Depend on the provider and import it before loading your library (it loads its "
         "library globally), or declare the dependency the entry relies on."),
    Rule("WG205", "rpath-missing-dir", W, "search-path", "search-paths", _RELINK,
         "An $ORIGIN-relative entry names a directory of this wheel that does not exist.",
         "Drop the stale entry."),
    Rule("WG206", "rpath-executable-relative", W, "search-path", "search-paths", _RELINK,
         "An LC_RPATH entry starts with @executable_path: for a wheel that is the directory of "
         "the Python interpreter, not of the wheel.",
         "Use @loader_path-relative entries."),
    Rule("WG207", "install-name-absolute", W, "member", "search-paths", _NONE,
         "A dylib's install name (LC_ID_DYLIB) is an absolute path outside the OS (a build "
         "tree, a Homebrew prefix): whatever links against it records that path.",
         "Link with -install_name @rpath/<name> (CMake: INSTALL_NAME_DIR @rpath)."),
    # 3xx: what the loader will find
    Rule("WG301", "needed-unresolved", E, "needed", "loader", _NEEDED,
         "A DT_NEEDED library is neither in the wheel (through the library's own search path), "
         "nor allowed by the platform tag, nor provided by a declared dependency.",
         "Bundle it (auditwheel repair), or depend on the pip package that provides it."),
    Rule("WG302", "symbol-version-too-new", E, "member", "loader", _NONE,
         "A library requires a symbol version above the ceiling of the wheel's platform tag.",
         "Build in the manylinux image that matches the tag, or raise the tag."),
    Rule("WG320", "dylib-unresolved", E, "needed", "loader", _NEEDED,
         "A Mach-O load command names a dylib that dyld will not find: not in the wheel through "
         "@loader_path or LC_RPATH, not part of macOS, not provided by a declared dependency "
         "(a weak load is only a warning: dyld tolerates it missing).",
         "Bundle it (delocate-wheel), point the load at it with @rpath/@loader_path, or depend "
         "on the pip package that provides it."),
    Rule("WG321", "macos-version-above-tag", E, "member", "loader", _NONE,
         "A Mach-O slice's minimum macOS (LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX) is above "
         "the release the wheel's platform tag promises for that architecture.",
         "Build with MACOSX_DEPLOYMENT_TARGET at the tag's version, or raise the tag (delocate "
         "retags the wheel this way)."),
    Rule("WG322", "macho-arch-missing", E, "member", "loader", _NONE,
         "A Mach-O binary lacks an architecture the wheel's platform tag promises (a universal2 "
         "wheel with a thin arm64 or x86_64 library): it will not load on that machine.",
         "Build every binary for every architecture of the tag (lipo -create), or tag the "
         "wheel for the architecture it has."),
    Rule("WG323", "dll-unresolved", E, "needed", "loader", _PROVIDED,
         "A PE binary imports a DLL that Windows will not find: not beside it or in the wheel's "
         "<dist>.libs, not part of Windows or CPython, not shipped by a declared dependency "
         "(a delay-loaded DLL is only a warning: it is needed at the first call).",
         "Bundle it (delvewheel repair), or depend on the pip package that ships it and import "
         "that package first."),
    Rule("WG324", "dll-redistributable", W, "needed", "loader", _PROVIDED,
         "A PE binary imports part of the Visual C++ runtime (msvcp140.dll, vcomp140.dll ...) "
         "that the wheel does not ship and neither Windows nor CPython provides.",
         "Bundle it (delvewheel does by default), or document the Visual C++ "
         "Redistributable as a requirement."),
    Rule("WG325", "macho-unsigned-arm64", E, "member", "loader", _NONE,
         "An arm64 Mach-O slice carries no code signature: macOS on Apple silicon refuses to "
         "map unsigned code.",
         "Sign it, at least ad hoc (codesign -s - FILE), after the last edit."),
    Rule("WG326", "macho-signature-invalid", E, "member", "loader", _NONE,
         "A Mach-O slice's code signature does not match its bytes (edited after signing): "
         "macOS kills the process that maps the page.",
         "Re-sign after the last edit (codesign -f -s - FILE); wheelguard repair re-seals ad "
         "hoc signatures when the layout did not move."),
    Rule("WG327", "macos-version-minor", Severity.INFO, "wheel", "loader", _NONE,
         "Binaries need a later minor release of macOS than the tag names (12.3 under "
         "macosx_12_0): pip matches macOS 11 and later by major version only, so the wheel "
         "installs on the earlier minor releases too.",
         "Build with MACOSX_DEPLOYMENT_TARGET=<major>.0 if those releases matter; delocate "
         "tags such wheels the same way and warns."),
    Rule("WG306", "needs-gpu-driver", N, "needed", "loader", _NONE,
         "A library needs a GPU driver library (libcuda.so.1, libnvidia-ml.so.1 ...): it "
         "loads only where that driver is installed.",
         "Nothing to bundle or declare: driver libraries come with the driver. Say so in the "
         "install notes."),
    Rule("WG307", "needed-unresolved-optional", W, "needed", "loader", _NEEDED,
         "A NEEDED library will not be found, in a binary the package loads only optionally "
         "(an import inside try/except) or that nothing in the wheel loads (a plugin opened "
         "on demand): that feature fails, the import does not.",
         "Declare the provider (perhaps under an extra), or document what the user installs "
         "to use the feature."),
    Rule("WG308", "needed-preloaded", N, "needed", "loader", _NONE,
         "A NEEDED library is found only because a library of this wheel with that SONAME is "
         "loaded first (import triton maps libtriton.so before its plugins): the binary "
         "cannot be loaded on its own.",
         "Add an $ORIGIN-relative RUNPATH entry to the directory of that library."),
    Rule("WG309", "needed-extra-only", W, "needed", "loader", _PIP,
         "A NEEDED library is provided by a distribution the wheel declares only under an "
         "extra: installed without it, the library must come from the system.",
         "Declare the provider unconditionally, or document the extra."),
    # 4xx: what should not ship
    Rule("WG401", "vendored-artifacts", E, "tree", "contents", _REMOVABLE,
         "A vendored tree (3rdparty/, third_party/ ...) ships sources, CMake files, objects, "
         "build directories, tests or docs.",
         "Strip them (wheelguard repair with a policy), keeping only what runs: headers a JIT "
         "compiles against, Python packages."),
    Rule("WG402", "build-artifacts", W, "tree", "contents", _REMOVABLE,
         "The wheel ships build or source artifacts outside vendored trees.",
         "Exclude them from the wheel (scikit-build-core: wheel.exclude / install components)."),
    Rule("WG403", "foreign-arch", E, "member", "contents", _REMOVABLE,
         "A native binary is built for another architecture than the wheel's platform tag.",
         "Remove it or build the wheel for that architecture."),
    Rule("WG404", "debug-info", W, "debug-info", "contents", _REMOVABLE,
         "A native library carries DWARF debug sections.",
         "Build Release (or strip with `strip --strip-debug`); ship debug info separately."),
    Rule("WG405", "unreadable-binary", E, "member", "integrity", _NONE,
         "A member has native magic bytes but cannot be parsed (truncated, corrupt, or tables "
         "that point outside the file or loop): the loader would refuse it too.",
         "Check the build; a truncated library fails at import time."),
    Rule("WG420", "dsym-bundle", W, "tree", "contents", _REMOVABLE,
         "The wheel ships a .dSYM bundle: the DWARF debug companion of a library, which dyld "
         "never loads.",
         "Keep .dSYM bundles out of the wheel (publish them as a separate artifact) or strip "
         "them with a policy."),
    Rule("WG421", "foreign-platform", E, "member", "contents", _REMOVABLE,
         "A native binary is built for another operating system than the wheel's platform tag "
         "(a Windows DLL in a macOS wheel, a Mach-O file in a Linux wheel).",
         "Remove it from the wheel; build per-platform wheels from per-platform build trees."),
    Rule("WG406", "tag-not-uploadable", E, "wheel", "integrity", frozenset({A.RETAG}),
         "The wheel carries a platform tag the package index rejects (linux_x86_64: built "
         "for one machine, not for a manylinux/musllinux baseline).",
         "Repair it into a manylinux wheel (auditwheel repair, or wheelguard repair) or "
         "build in a manylinux image."),
    Rule("WG408", "deliberate-tree", N, "tree", "contents", _REMOVABLE,
         "A tree of sources or build files that the package ships on purpose: sources its "
         "Python code compiles at run time, a CMake package for downstream builds, static "
         "archives and headers of a library wheel.",
         "Nothing to do if the project needs them; a policy can keep or strip them."),
    # 5xx: archive integrity
    Rule("WG501", "record-mismatch", E, "member", "integrity", _NONE,
         "RECORD does not match the archive: a missing or extra entry, or a wrong hash or size.",
         "Regenerate RECORD from the bytes written (wheelguard repair does)."),
    # 502-529: installability, as pip and pypa/installer judge it (checks/validity.py)
    Rule("WG502", "metadata-invalid", E, "member", "integrity", _NONE,
         "METADATA cannot be read as core metadata: empty, not UTF-8, or its Metadata-Version, "
         "Name or Version is missing or invalid.",
         "Rebuild with a current build backend; check what writes METADATA.",
         blocks_repair=True),
    Rule("WG503", "metadata-field-invalid", W, "member", "integrity", _NONE,
         "A METADATA field other than Name and Version is invalid for packaging's validating "
         "parser (a field newer than the declared Metadata-Version, a malformed value).",
         "Update the build backend, or declare the Metadata-Version the fields need."),
    Rule("WG504", "metadata-mismatch", E, "member", "integrity", _NONE,
         "METADATA's Name or Version is not the one in the wheel's file name.",
         "Rename nothing by hand: rebuild, so that file name and metadata come from one source.",
         blocks_repair=True),
    Rule("WG505", "wheel-file-invalid", E, "member", "integrity", _NONE,
         "The WHEEL file is unreadable, its Wheel-Version major is not 1, or Root-Is-Purelib "
         "is missing or neither true nor false.",
         "Rebuild with a current build backend (it writes WHEEL); do not edit WHEEL by hand.",
         blocks_repair=True),
    Rule("WG506", "wheel-tags-mismatch", W, "member", "integrity", _NONE,
         "The Tag lines of WHEEL are not the tags of the wheel's file name.",
         "Retag with `wheel tags` or auditwheel (they rewrite both), not by renaming the file."),
    Rule("WG507", "dist-info-mismatch", E, "wheel", "integrity", _NONE,
         "The .dist-info (or .data) directory is named for another project or version than "
         "the wheel's file name.",
         "Rebuild; a renamed wheel file keeps the old directory names.",
         blocks_repair=True),
    Rule("WG508", "data-scheme-unknown", E, "member", "integrity", _NONE,
         "A member under <name>.data/ names a scheme other than purelib, platlib, headers, "
         "scripts or data; pip and installer refuse the wheel.",
         "Install the file under one of the five schemes.",
         blocks_repair=True),
    Rule("WG509", "entry-points-invalid", E, "member", "integrity", _NONE,
         "entry_points.txt cannot be parsed, or a console or GUI script is not "
         "module:attribute; pip and installer fail on it.",
         "Declare scripts as `name = package.module:function`.",
         blocks_repair=True),
    Rule("WG510", "path-conflict", E, "member", "integrity", _NONE,
         "A member's path is also a directory of other members: installing one fails on the "
         "other.",
         "Rename one of them in the build.",
         blocks_repair=True),
    Rule("WG511", "path-case-collision", E, "member", "integrity", _NONE,
         "Two member paths differ only in case or Unicode normalization: on macOS and Windows "
         "they are one file and one is lost (a warning for wheels only Linux installs).",
         "Rename one of them in the build.",
         blocks_repair=True),
    Rule("WG512", "record-unreadable", E, "member", "integrity", _NONE,
         "RECORD is not UTF-8, or a row reads differently line by line (as pip and installer "
         "read it) than as CSV.",
         "Regenerate RECORD (wheelguard repair does).",
         blocks_repair=False),
    # 6xx: size
    Rule("WG601", "size-budget", E, "wheel", "size", _NONE,
         "The wheel is larger than the size budget.",
         "See the largest trees in the finding's data; strip what does not run.",
         needs="size-budget"),
    # 7xx: linkage across wheels (only with --wheelhouse/--download: real provider wheels)
    Rule("WG701", "provider-undeclared", E, "needed", "loader", _PIP,
         "A library is found only through an RPATH/RUNPATH entry into a distribution the wheel "
         "does not declare, or declares only under an extra.",
         "Declare the provider in Requires-Dist (unconditionally, with a version range).",
         needs="linkage"),
    Rule("WG702", "provider-soname-missing", E, "needed", "loader", _NONE,
         "A version the declared range admits does not ship the SONAME the wheel needs "
         "(the provider changed or versioned its SONAME).",
         "Narrow the range to versions that ship it, or rebuild against the SONAME all of "
         "them ship.",
         needs="linkage"),
    Rule("WG703", "provider-symbols-missing", E, "needed", "loader", _NONE,
         "A version the declared range admits does not export symbols the wheel imports from "
         "it (symbol versions compared where the provider defines them).",
         "Narrow the range to versions that export them, or stop using the removed API.",
         needs="linkage"),
    Rule("WG704", "provider-duplicate", E, "provider", "one-runtime", _NONE,
         "One SONAME, or one runtime's C ABI (TVMFFI*), is provided by more than one "
         "distribution of the install (the wheel and a dependency, or two dependencies).",
         "Keep one provider: drop the bundled or statically linked copy and depend on the "
         "distribution that owns the runtime.",
         needs="linkage"),
    Rule("WG705", "provider-range-unbounded", W, "provider", "loader", _NONE,
         "Mangled C++ symbols are imported from a provider whose declared range has no upper "
         "bound: C++ ABIs change in minor releases and the loader cannot tell.",
         "Cap the range (e.g. <0.2) and raise the cap only after checking the new version.",
         needs="linkage"),
    Rule("WG706", "preload-dependent", Severity.INFO, "needed", "loader", _NONE,
         "A library is found only because an object with its SONAME is already loaded (the "
         "package imports the provider first): in every layout, or in the layouts where the "
         "wheel and the provider sit in different directories.",
         "Prove the import order with `wheelguard smoke`; keep the provider import ahead of "
         "loading the library.",
         needs="linkage"),
    Rule("WG707", "layout-unresolved", W, "needed", "loader", _NONE,
         "A dependency's library is found when everything shares one site-packages, but not "
         "at all (not even by preloading) when the wheel and the provider are installed apart "
         "(--system-site-packages, --target, --user).",
         "Load the provider's library before yours (import the provider), or make the NEEDED "
         "name match the SONAME the provider's library carries.",
         needs="linkage"),
    Rule("WG708", "manylinux-verdict", Severity.INFO, "wheel", "loader", _NONE,
         "The platform tag recomputed with the declared providers' libraries counted as "
         "present; an error when the tag the wheel carries does not hold.",
         "Build in the manylinux image of the tag, or declare the providers of the libraries "
         "outside the tag's whitelist.",
         needs="linkage"),
    Rule("WG709", "provider-unchecked", Severity.INFO, "provider", "loader", _NONE,
         "A provider of a needed library could not be checked: skipped, too large, no "
         "compatible wheel in the declared range, or the download failed.",
         "Put its wheels in the --wheelhouse, or allow --download; a range no wheel satisfies "
         "cannot be installed from binaries.",
         needs="linkage", unchecked=True),
    # 8xx: what the project's own policy forbids
    Rule("WG801", "policy-fail", E, "member", "policy", _NONE,
         "A member matches a `fail` rule of the policy (or a waiver on it expired) while no "
         "check reports it: the project forbids shipping it.",
         "Remove the member from the build, or change the policy rule (its reason says why).",
         needs="policy"),
)

RULES: Mapping[str, Rule] = {r.code: r for r in _ALL}
_BY_NAME: Mapping[str, Rule] = {r.name: r for r in _ALL}


def lookup_rule(key: str) -> Rule:
    """A rule by code (``WG201``) or name (``rpath-absolute``); KeyError with a suggestion."""
    rule = RULES.get(key.upper()) or _BY_NAME.get(key.lower())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(key, [*RULES, *_BY_NAME], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        msg = f"unknown check {key!r}{hint}"
        raise KeyError(msg)
    return rule

