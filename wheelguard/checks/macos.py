"""macOS wheels judged by dyld's rules, in Mach-O words.

- one runtime: two different dylibs with one install name (WG120) or one LC_UUID (WG121);
- search paths: ``@executable_path`` LC_RPATH entries (WG206, with the other LC_RPATH classes
  in checks/rpath.py), install names that are build-machine paths (WG207);
- loader: load commands dyld will not satisfy (WG320, the same resolutions ``show`` prints),
  minimum macOS above the tag (WG321, WG327), a universal2 binary missing a slice (WG322), an
  unsigned or stale signature on arm64 (WG325, WG326);
- contents: ``.dSYM`` bundles, which are debug data and never libraries (WG420).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.tags import PlatformTag, parse_platform
from wheelguard.loader.dyld import is_macos_system, resolve_dylibs
from wheelguard.loader.layout import build_host_path
from wheelguard.model import (
    ArchivePath,
    Binary,
    CopiesSubject,
    Finding,
    MemberSubject,
    NeededSubject,
    Severity,
    TreeSubject,
    WheelSubject,
)
from wheelguard.rules import RULES
from wheelguard.util.units import format_bytes

__all__ = ["run"]

_ARM64_FIRST = (11, 0)
"""The first macOS for Apple silicon: an arm64 slice needs it whatever the tag says."""
_DELOCATED = "/DLC/"
"""delocate gives each library it copies into ``.dylibs`` the install name
``/DLC/<package>/.dylibs/<name>``, a path that exists nowhere, so that nothing links against the
copy by accident; its users load it through ``@loader_path``."""
_SIGNATURE_WORDS = {"adhoc": "ad-hoc", "linker-signed": "ad-hoc (linker)",
                    "certificate": "certificate"}
_LOAD_COMMAND = {"load": "LC_LOAD_DYLIB", "weak": "LC_LOAD_WEAK_DYLIB",
                 "reexport": "LC_REEXPORT_DYLIB", "upward": "LC_LOAD_UPWARD_DYLIB",
                 "lazy": "LC_LAZY_LOAD_DYLIB"}


def run(ctx: AuditContext) -> Iterator[Finding]:
    machos = [b for b in ctx.wheel.iter_binaries("macho") if b.macho is not None]
    yield from _dsym_bundles(ctx)
    if not machos:
        return
    yield from _duplicates(ctx, machos)
    yield from _install_names(machos)
    yield from _loads(ctx, machos)
    yield from _signatures(machos)
    tags = [parse_platform(p) for p in ctx.wheel.platforms]
    mac_tags = [t for t in tags if t.family == "macosx" and t.level is not None]
    if mac_tags:
        yield from _versions(ctx, machos, mac_tags)
        yield from _missing_slices(machos, mac_tags)


# ---- one runtime -----------------------------------------------------------------------------


def _duplicates(ctx: AuditContext, machos: list[Binary]) -> Iterator[Finding]:
    """Different bytes under one install name or one UUID. Byte-identical copies (a symlink
    the zip format expanded) are WG102's: dyld matches the install name and maps one."""
    sha = {m.path: m.sha256 for m in ctx.wheel.members}
    by_name: dict[str, list[Binary]] = defaultdict(list)
    by_uuid: dict[str, list[Binary]] = defaultdict(list)
    for b in machos:
        assert b.macho is not None
        if b.soname is not None:
            by_name[b.soname].append(b)
        for uuid in dict.fromkeys(s.uuid for s in b.macho.slices if s.uuid):
            by_uuid[uuid].append(b)
    reported: set[frozenset[str]] = set()
    for code, groups, label in (("WG120", by_name, "install name"),
                                ("WG121", by_uuid, "LC_UUID")):
        for key, group in sorted(groups.items()):
            paths = frozenset(b.path for b in group)
            if len(paths) < 2 or len({sha[p] for p in paths}) < 2 or paths in reported:
                continue
            reported.add(paths)
            names = tuple(dict.fromkeys([key, *(posixpath.basename(p) for p in sorted(paths))]))
            yield RULES[code].finding(
                CopiesSubject(members=tuple(sorted(paths)), names=names),
                f"{label} {key} at {len(paths)} paths with different contents: "
                f"{', '.join(sorted(paths))}",
                data={"key": key, "paths": sorted(paths)},
            )


# ---- search paths and install names ----------------------------------------------------------


def _install_names(machos: list[Binary]) -> Iterator[Finding]:
    for b in machos:
        name = b.soname
        if name is None or not name.startswith("/") or is_macos_system(name):
            continue
        if name.startswith(_DELOCATED):
            continue  # delocate's deliberate placeholder for the copies it grafts
        where = build_host_path(name)
        yield RULES["WG207"].finding(
            MemberSubject(path=b.path, library=name),
            f"install name {name} is an absolute path"
            + (f" ({where} of the build machine)" if where else "")
            + ": anything linked against this dylib will look for it there",
            data={"install_name": name, "build_host": where},
        )


# ---- loader ----------------------------------------------------------------------------------


def _loads(ctx: AuditContext, machos: list[Binary]) -> Iterator[Finding]:
    for b in machos:
        assert b.macho is not None
        if b.macho.file_type == "object":
            continue  # an object file is not loaded (WG402 reports it as a build artifact)
        for r in resolve_dylibs(ctx.layout, b, ctx.providers, ctx.requirements):
            if r.kind not in ("unresolved", "undeclared"):
                continue
            kind = b.macho.load_kind(r.needed) or "load"
            command = _LOAD_COMMAND[kind]
            data = {"needed": r.needed, "load_command": command, "rpaths": list(b.rpath),
                    "reason": r.reason, "provider": r.provider}
            if r.kind == "undeclared":
                yield RULES["WG320"].finding(
                    NeededSubject(binaries=(b.path,), needed=r.needed, provider=r.provider),
                    f"{command} {r.needed}: {r.provider} provides it, but the wheel does not "
                    "declare that dependency", data=data,
                    hint=f"Add a Requires-Dist on {r.provider} (with a version range).")
                continue
            weak = kind == "weak"
            yield RULES["WG320"].finding(
                NeededSubject(binaries=(b.path,), needed=r.needed),
                f"{command} {r.needed} is not found: {r.reason}"
                + ("; dyld tolerates a missing weak dylib, but its symbols are then null"
                   if weak else ""),
                data=data, severity=Severity.WARNING if weak else None,
            )


def _signatures(machos: list[Binary]) -> Iterator[Finding]:
    for b in machos:
        assert b.macho is not None
        for s in b.macho.slices:
            if s.arch not in ("arm64", "arm64e") or s.file_type in ("object", "dsym"):
                continue
            if s.signature is None:
                yield RULES["WG325"].finding(
                    MemberSubject(path=b.path, library=b.name),
                    f"the {s.arch} slice has no code signature: Apple silicon refuses to map it",
                    data={"arch": s.arch})
            elif s.signature_valid is False:
                yield RULES["WG326"].finding(
                    MemberSubject(path=b.path, library=b.name),
                    f"the {s.arch} slice's {_SIGNATURE_WORDS[s.signature]} signature does not "
                    "match its bytes (edited after signing)",
                    data={"arch": s.arch, "signature": s.signature})


def _versions(
    ctx: AuditContext, machos: list[Binary], tags: list[PlatformTag]
) -> Iterator[Finding]:
    """delocate's rule: per architecture, the lowest tag level that covers it; arm64 never
    below 11.0; from macOS 11 on only the major version counts (pip's tags say ``X_0``)."""
    minor_only: dict[str, list[str]] = defaultdict(list)
    for b in machos:
        assert b.macho is not None
        for s in b.macho.slices:
            floor = _tag_floor(s.arch, tags)
            if floor is None or s.min_os is None or s.platform not in (None, "macos"):
                continue
            need = s.min_os[:2]
            if _above(need, floor):
                yield RULES["WG321"].finding(
                    MemberSubject(path=b.path, library=b.name),
                    f"the {s.arch} slice needs macOS {s.min_os_text} ({s.min_os_command}), but "
                    f"the tag promises {floor[0]}.{floor[1]}",
                    data={"arch": s.arch, "min_os": s.min_os_text, "tag": f"{floor[0]}.{floor[1]}",
                          "command": s.min_os_command})
            elif need > floor:
                minor_only[f"{need[0]}.{need[1]}"].append(b.path)
    for version, paths in sorted(minor_only.items()):
        shown = sorted(set(paths))
        many = "binaries need" if len(shown) > 1 else "binary needs"
        yield RULES["WG327"].finding(
            WheelSubject(),
            f"{len(shown)} {many} macOS {version} while the tag names "
            f"{version.split('.')[0]}.0 (e.g. {shown[0]}); pip installs the wheel on "
            f"{version.split('.')[0]}.0 as well", data={"min_os": version, "paths": shown})


def _tag_floor(arch: str, tags: list[PlatformTag]) -> tuple[int, int] | None:
    levels = [t.level for t in tags if arch in t.machines and t.level is not None]
    if not levels:
        return None
    floor: tuple[int, int] = min(levels)
    if arch in ("arm64", "arm64e"):
        floor = max(floor, _ARM64_FIRST)
    return floor


def _above(need: tuple[int, ...], floor: tuple[int, int]) -> bool:
    if need[0] >= _ARM64_FIRST[0]:
        return need[0] > floor[0]
    return (need[0], need[1]) > floor


def _missing_slices(machos: list[Binary], tags: list[PlatformTag]) -> Iterator[Finding]:
    """A multi-architecture tag promises every architecture in every loadable binary."""
    multi = [t for t in tags if len(t.machines) > 1]
    if not multi:
        return
    wanted = frozenset().union(*(t.machines for t in multi))
    for b in machos:
        assert b.macho is not None
        if b.macho.file_type not in ("dylib", "bundle", "execute"):
            continue
        have = set(b.macho.arches)
        missing = sorted(wanted - have)
        if missing and have & wanted:
            yield RULES["WG322"].finding(
                MemberSubject(path=b.path, library=b.name),
                f"has {', '.join(sorted(have))} but not {', '.join(missing)}, which the tag "
                f"{multi[0].raw} promises", data={"has": sorted(have), "missing": missing})


# ---- contents --------------------------------------------------------------------------------


def _dsym_bundles(ctx: AuditContext) -> Iterator[Finding]:
    """Each ``X.dSYM`` directory as one tree: what it is the companion of, and whether its
    UUIDs still match that library."""
    bundles: dict[str, list[ArchivePath]] = defaultdict(list)
    for m in ctx.wheel.members:
        parts = m.path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part.endswith(".dSYM"):
                bundles["/".join(parts[: i + 1])].append(m.path)
                break
    if not bundles:
        return
    sizes = {m.path: m.size for m in ctx.wheel.members}
    companions = {b.path: b for b in ctx.wheel.debug_companions}
    libraries = {b.path: b for b in ctx.wheel.binaries}
    for bundle, paths in sorted(bundles.items()):
        total = sum(sizes[p] for p in paths)
        library_path = bundle.removesuffix(".dSYM")
        library = libraries.get(ArchivePath(library_path))
        dwarf = [companions[p] for p in paths if p in companions]
        match = _uuid_match(library, dwarf)
        of = f"of {library_path}" if library is not None else "whose library the wheel lacks"
        note = {"match": "; its UUID matches the library's",
                "stale": "; its UUID does not match the library's (a stale companion)",
                None: ""}[match]
        yield RULES["WG420"].finding(
            TreeSubject(tree=bundle, vendored=False, members=tuple((p, "dsym") for p in paths)),
            f"{bundle}/ is the .dSYM debug bundle {of} ({len(paths)} files, "
            f"{format_bytes(total)}): DWARF that dyld never loads{note}",
            data={"tree": bundle, "library": library_path if library else None,
                  "files": len(paths), "bytes": total, "uuid_match": match,
                  "dwarf": [c.path for c in dwarf]},
        )


def _uuid_match(library: Binary | None, dwarf: list[Binary]) -> str | None:
    if library is None or library.macho is None or not dwarf:
        return None
    lib = {s.uuid for s in library.macho.slices if s.uuid}
    dbg = {s.uuid for d in dwarf if d.macho is not None for s in d.macho.slices if s.uuid}
    if not lib or not dbg:
        return None
    return "match" if dbg <= lib else "stale"

