"""How each NEEDED of a binary resolves: in the wheel, from the platform, from a provider.

The search follows glibc over the wheel's :class:`~wheelguard.loader.layout.Layout`; what lies
outside the wheel is judged against the platform tag's whitelist and the declared providers,
never against the host. Mach-O binaries go to the dyld emulation
(:mod:`wheelguard.loader.dyld`), PE binaries to the Windows loader's
(:mod:`wheelguard.loader.windows`): :func:`resolve_binary` is the one entry point for all three.
"""

from __future__ import annotations

from collections.abc import Mapping

from packaging.requirements import Requirement

from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.knowledge.providers import KnownProvider, find_requirement, provider_for_soname
from wheelguard.loader.dyld import resolve_dylibs
from wheelguard.loader.layout import Entry, Layout, classify_entry, find_in_wheel
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolution import Resolution, ResolutionKind
from wheelguard.loader.windows import resolve_dlls
from wheelguard.model import ArchivePath, Binary, SoName

__all__ = ["Resolution", "ResolutionKind", "resolve_binary"]


def resolve_binary(
    layout: Layout,
    binary: Binary,
    platform: PlatformPolicy | None,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> tuple[Resolution, ...]:
    if binary.format == "macho":
        return resolve_dylibs(layout, binary, providers, requirements)
    if binary.format == "pe":
        return resolve_dlls(layout, binary, providers, requirements)
    search = [classify_entry(binary, e, binary.search_path_tag, layout) for e in binary.search_path]
    here = install_path(binary.path)
    if not binary.runpath:
        search += layout.inherited.get(here, ())
    first = layout.loaded_first.get(here, {})
    return tuple(
        _resolve_one(needed, search, layout.files, platform, first=first, providers=providers,
                     requirements=requirements)
        for needed in binary.needed
    )


def _resolve_one(
    needed: SoName,
    search: list[Entry],
    files: Mapping[str, ArchivePath],
    platform: PlatformPolicy | None,
    *,
    first: Mapping[str, str],
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution:
    if "/" in needed:
        return Resolution(needed, "unresolved")
    hit = find_in_wheel(needed, search, files)
    if hit is not None:
        return Resolution(needed, "wheel", path=hit[0], entry=hit[1].raw)
    if needed in first:  # mapped by a loader before this object's NEEDED are looked up
        return Resolution(needed, "wheel", path=first[needed], entry=None)
    if platform is not None and platform.allows_library(needed):
        return Resolution(needed, "platform")
    provider = provider_for_soname(needed, providers)
    if provider is not None:
        via = next(
            (e for e in search
             if e.kind == "other-distribution" and e.directory is not None
             and e.directory.split("/", 1)[0] in provider.top_level),
            None,
        )
        req = find_requirement(requirements, provider)
        return Resolution(
            needed,
            "dependency" if req is not None else "undeclared",
            path=via.directory if via else None,
            entry=via.raw if via else None,
            provider=str(req.name) if req is not None else provider.distribution,
            requirement=str(req) if req is not None else None,
        )
    return Resolution(needed, "unresolved")
