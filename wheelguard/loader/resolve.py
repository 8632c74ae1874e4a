"""How each NEEDED of a binary resolves: in the wheel, from the platform, from a provider.

The search follows glibc (and dyld for Mach-O install names) over the wheel's
:class:`~wheelguard.loader.layout.Layout`; what lies outside the wheel is judged against the
platform tag's whitelist and the declared providers, never against the host.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import Requirement

from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.knowledge.providers import KnownProvider, find_requirement, provider_for_soname
from wheelguard.loader.layout import Entry, Layout, classify_entry, find_in_wheel
from wheelguard.loader.paths import install_path
from wheelguard.model import ArchivePath, Binary, SoName

__all__ = ["Resolution", "ResolutionKind", "resolve_binary"]


ResolutionKind = Literal["wheel", "platform", "dependency", "undeclared", "unresolved", "preload"]
"""``preload``: no search-path entry finds it; an already loaded object with that SONAME
(loaded by importing its provider first) satisfies it. Only the linkage analysis says so."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one DT_NEEDED of one binary is satisfied."""

    needed: SoName
    kind: ResolutionKind
    path: str | None = None
    """Install-root-relative file for ``wheel``; for dependencies the directory reached."""
    entry: str | None = None
    """The RPATH/RUNPATH entry that found it; None when found by SONAME preload or policy."""
    provider: str | None = None
    """Distribution that provides it (``dependency``/``undeclared``)."""
    requirement: str | None = None
    version: str | None = None
    """The provider's version, where a real wheel of it was read (linkage analysis)."""

    def to_json(self) -> dict[str, str | None]:
        """The one JSON shape of a resolution (``show``, ``show --deps``, reports)."""
        return {"needed": self.needed, "kind": self.kind, "path": self.path,
                "entry": self.entry, "provider": self.provider, "version": self.version,
                "requirement": self.requirement}


def resolve_binary(
    layout: Layout,
    binary: Binary,
    platform: PlatformPolicy | None,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> tuple[Resolution, ...]:
    search = [classify_entry(binary, e, binary.search_path_tag, layout) for e in binary.search_path]
    if binary.format == "macho":
        return tuple(_resolve_install_name(binary, n, search, layout.files) for n in binary.needed)
    here = install_path(binary.path)
    if not binary.runpath:
        search += layout.inherited.get(here, ())
    first = layout.loaded_first.get(here, {})
    return tuple(
        _resolve_one(needed, search, layout.files, platform, first=first, providers=providers,
                     requirements=requirements)
        for needed in binary.needed
    )


_MACOS_SYSTEM = ("/usr/lib/", "/System/Library/")


def _resolve_install_name(
    binary: Binary, name: SoName, search: list[Entry], files: Mapping[str, ArchivePath]
) -> Resolution:
    """dyld's view: ``@loader_path/`` is $ORIGIN, ``@rpath/`` walks LC_RPATH, and the OS
    libraries under /usr/lib and /System are the platform's."""
    if name.startswith(_MACOS_SYSTEM):
        return Resolution(name, "platform")
    if name.startswith("@loader_path/"):
        origin = posixpath.dirname(install_path(binary.path)) or "."
        candidate = posixpath.normpath(posixpath.join(origin, name.removeprefix("@loader_path/")))
        if candidate in files:
            return Resolution(name, "wheel", path=candidate, entry="@loader_path")
    elif name.startswith("@rpath/"):
        hit = find_in_wheel(name.removeprefix("@rpath/"), search, files)
        if hit is not None:
            return Resolution(name, "wheel", path=hit[0], entry=hit[1].raw)
    return Resolution(name, "unresolved")


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
