"""Every rule wheelguard can report, in one table.

A rule is the stable identity of a kind of finding: a ``WGnnn`` code that never changes
meaning, a readable name (either may be used in ``--select``, ``--ignore`` and policy files),
a default severity and a one-line summary. ``docs/checks.md`` documents each; a test keeps the
two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import Finding, Severity, freeze

__all__ = ["RULES", "Rule", "lookup_rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    hint: str

    def finding(
        self,
        path: str | None,
        message: str,
        *,
        data: Mapping[str, Any] | None = None,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            check=self.code,
            name=self.name,
            severity=severity or self.severity,
            path=path,
            message=message,
            hint=self.hint if hint is None else hint,
            data=freeze(data),
        )


E, W = Severity.ERROR, Severity.WARNING

_ALL = (
    # 1xx: one runtime, loaded once
    Rule("WG101", "duplicate-soname", E,
         "Two members of the wheel carry the same SONAME.",
         "Ship one copy; point every user at it through $ORIGIN-relative RUNPATH entries."),
    Rule("WG102", "duplicate-content", W,
         "Two native members are byte-identical (a symlink turned into a copy, or a graft).",
         "Keep one file; wheels cannot hold symlinks, so make the loader find the single copy."),
    Rule("WG103", "duplicate-build-id", E,
         "Two different native members share a GNU build-id: one build, shipped twice.",
         "Ship one copy of the library."),
    Rule("WG104", "embedded-runtime-abi", E,
         "A library exports a runtime's C ABI (the tvm-ffi TVMFFI* functions) while the runtime "
         "library is provided elsewhere (another member, or a required distribution): a second "
         "runtime in one process.",
         "Link against tvm_ffi::shared from apache-tvm-ffi instead of compiling tvm-ffi "
         "sources in; stripping files cannot fix this."),
    Rule("WG105", "bundled-provided-library", E,
         "The wheel bundles a library that a required distribution provides (libtvm_ffi while "
         "requiring apache-tvm-ffi): two copies can load into one process.",
         "Drop the bundled copy (exclude libtvm_ffi.so from auditwheel/delocate grafting) and "
         "import tvm_ffi before loading your libraries."),
    # 2xx: RPATH / RUNPATH hygiene
    Rule("WG201", "rpath-absolute", E,
         "An RPATH/RUNPATH entry is an absolute path, valid only on the build machine.",
         "Replace it by an $ORIGIN-relative entry (CMake: INSTALL_RPATH \"$ORIGIN\", "
         "BUILD_WITH_INSTALL_RPATH, or CMAKE_SKIP_INSTALL_RPATH)."),
    Rule("WG202", "rpath-cwd-relative", E,
         "An RPATH/RUNPATH entry is empty or relative without $ORIGIN: it resolves against the "
         "process's current directory (a library-hijack risk).",
         "Remove the entry or anchor it with $ORIGIN."),
    Rule("WG203", "rpath-escapes-root", E,
         "An $ORIGIN-relative entry climbs out of the install root (above site-packages).",
         "Point entries only at directories the wheel or a declared dependency installs."),
    Rule("WG204", "rpath-other-distribution", W,
         "An entry reaches into another distribution's directory; it works only when both "
         "sit in one site-packages (breaks with --system-site-packages, --target, --user).",
         "Depend on the provider and import it before loading your library (it loads its "
         "library globally), or declare the dependency the entry relies on."),
    Rule("WG205", "rpath-missing-dir", W,
         "An $ORIGIN-relative entry names a directory of this wheel that does not exist.",
         "Drop the stale entry."),
    # 3xx: what the loader will find
    Rule("WG301", "needed-unresolved", E,
         "A DT_NEEDED library is neither in the wheel (through the library's own search path), "
         "nor allowed by the platform tag, nor provided by a declared dependency.",
         "Bundle it (auditwheel repair), or depend on the pip package that provides it."),
    Rule("WG302", "symbol-version-too-new", E,
         "A library requires a symbol version above the ceiling of the wheel's platform tag.",
         "Build in the manylinux image that matches the tag, or raise the tag."),
    # 4xx: what should not ship
    Rule("WG401", "vendored-artifacts", E,
         "A vendored tree (3rdparty/, third_party/ ...) ships sources, CMake files, objects, "
         "build directories, tests or docs.",
         "Strip them (wheelguard repair with a policy), keeping only what runs: headers a JIT "
         "compiles against, Python packages."),
    Rule("WG402", "build-artifacts", W,
         "The wheel ships build or source artifacts outside vendored trees.",
         "Exclude them from the wheel (scikit-build-core: wheel.exclude / install components)."),
    Rule("WG403", "foreign-arch", E,
         "A native binary is built for another architecture than the wheel's platform tag.",
         "Remove it or build the wheel for that architecture."),
    Rule("WG404", "debug-info", W,
         "A native library carries DWARF debug sections.",
         "Build Release (or strip with `strip --strip-debug`); ship debug info separately."),
    Rule("WG405", "unreadable-binary", W,
         "A member has native magic bytes but cannot be parsed.",
         "Check the build; a truncated library fails at import time."),
    # 5xx: archive integrity
    Rule("WG501", "record-mismatch", E,
         "RECORD does not match the archive: a missing or extra entry, or a wrong hash or size.",
         "Regenerate RECORD from the bytes written (wheelguard repair does)."),
    # 6xx: size
    Rule("WG601", "size-budget", E,
         "The wheel is larger than the size budget.",
         "See the largest trees in the finding's data; strip what does not run."),
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

