"""How each NEEDED of a binary resolves: in the wheel, from the platform, from a provider.

The search follows glibc over the wheel's :class:`~wheelguard.loader.layout.Layout`; what lies
outside the wheel is judged against the platform tag's whitelist, the GPU driver and the
declared providers, never against the host. Mach-O binaries go to the dyld emulation
(:mod:`wheelguard.loader.dyld`), PE binaries to the Windows loader's
(:mod:`wheelguard.loader.windows`): :func:`resolve_binary` is the one entry point for all three.

GPU driver libraries (``libcuda.so.1``, ``libnvidia-ml.so.1``, the other ``libnvidia-*``) are
their own class: they come with the installed driver, must never be bundled, and no pip
distribution provides them; a wheel that needs one needs a driver at run time, which is a fact
to report, not a defect.
"""

from __future__ import annotations

from collections.abc import Mapping

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.knowledge.providers import KnownProvider, find_requirement, providers_for_soname
from wheelguard.loader.dyld import resolve_dylibs
from wheelguard.loader.layout import Entry, Layout, classify_entry, find_in_wheel
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolution import Resolution, ResolutionKind
from wheelguard.loader.windows import resolve_dlls
from wheelguard.model import ArchivePath, Binary, SoName

__all__ = ["Resolution", "ResolutionKind", "driver_of", "resolve_binary", "with_preloads"]


_DRIVER_NAMES = {
    "libcuda.so.1": "NVIDIA", "libcuda.so": "NVIDIA", "libnvcuvid.so.1": "NVIDIA",
    "libnvoptix.so.1": "NVIDIA", "libcudadebugger.so.1": "NVIDIA",
}
_DRIVER_PREFIXES = (("libnvidia-", "NVIDIA"),)


def driver_of(needed: str) -> str | None:
    """The GPU driver whose installation provides ``needed`` (``NVIDIA``), or None."""
    if needed in _DRIVER_NAMES:
        return _DRIVER_NAMES[needed]
    return next((d for prefix, d in _DRIVER_PREFIXES
                 if needed.startswith(prefix) and ".so" in needed), None)


def resolve_binary(
    layout: Layout,
    binary: Binary,
    platform: PlatformPolicy | None,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
    *,
    own: str | None = None,
    extras: Mapping[str, tuple[str, Requirement]] | None = None,
) -> tuple[Resolution, ...]:
    """Each NEEDED of ``binary`` as the loader finds it. ``own`` is the wheel's canonical
    name (a table entry for the wheel itself never makes it "undeclared"); ``extras`` the
    requirements in force only with an extra (:func:`~wheelguard.knowledge.providers.
    under_extras`)."""
    if binary.format == "macho":
        return resolve_dylibs(layout, binary, providers, requirements)
    if binary.format == "pe":
        return resolve_dlls(layout, binary, providers, requirements)
    search = [classify_entry(binary, e, binary.search_path_tag, layout) for e in binary.search_path]
    here = install_path(binary.path)
    if not binary.runpath:
        search += layout.inherited.get(here, ())
    first = layout.loaded_first.get(here, {})
    others = tuple(p for p in providers if p.distribution != own)
    return tuple(
        _resolve_one(needed, search, layout.files, platform, first=first, providers=others,
                     requirements=requirements, extras=extras or {})
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
    extras: Mapping[str, tuple[str, Requirement]],
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
    driver = driver_of(needed)
    if driver is not None:
        return Resolution(needed, "driver", provider=driver)
    candidates = providers_for_soname(needed, providers)
    if not candidates:
        return Resolution(needed, "unresolved")
    # Several distributions may ship one SONAME (a CUDA component and a framework bundling
    # it): the declared one is the one that counts, then one declared under an extra.
    found = next(((p, req) for p in candidates
                  if (req := find_requirement(requirements, p)) is not None), None)
    extra = next(((p, held) for p in candidates
                  if (held := _under_extra(extras, p)) is not None), None)
    provider = found[0] if found else extra[0] if extra else candidates[0]
    via = next(
        (e for e in search
         if e.kind == "other-distribution" and e.directory is not None
         and (e.directory in provider.directories
              or e.directory.split("/", 1)[0] in provider.top_level)),
        None,
    )
    where = {"path": via.directory if via else None, "entry": via.raw if via else None}
    if found is not None:
        return Resolution(needed, "dependency", provider=found[0].distribution,
                          requirement=str(found[1]), **where)
    if extra is not None:
        name, req = extra[1]
        return Resolution(needed, "extra", provider=extra[0].distribution,
                          requirement=f"{req} (extra {name!r})", **where)
    return Resolution(needed, "undeclared", provider=provider.distribution, **where)


def _under_extra(
    extras: Mapping[str, tuple[str, Requirement]], provider: KnownProvider
) -> tuple[str, Requirement] | None:
    for extra, req in extras.values():
        if find_requirement({canonicalize_name(req.name): req}, provider) is not None:
            return extra, req
    return None


def with_preloads(
    resolutions: tuple[Resolution, ...],
    loaded: Mapping[str, str],
    own: str,
) -> tuple[Resolution, ...]:
    """Unresolved NEEDED that an object of the wheel itself satisfies by SONAME once it is
    loaded (``import triton`` maps ``triton/_C/libtriton.so`` before any plugin needing
    ``libtriton.so`` is opened). ``loaded``: SONAME -> install path of the wheel's libraries
    that something loads."""
    return tuple(
        Resolution(r.needed, "preload", path=loaded[r.needed], provider=own)
        if r.kind in ("unresolved", "undeclared") and r.needed in loaded else r
        for r in resolutions
    )
