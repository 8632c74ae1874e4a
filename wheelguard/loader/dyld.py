"""How dyld finds each dylib a Mach-O binary of the wheel loads.

dyld's rules, as far as a wheel can see them (man dyld, "Dynamic library search"):

- ``/usr/lib/...`` and ``/System/...``: the OS (today served from the shared cache).
- ``@loader_path/X``: relative to the directory of the binary carrying the load command.
- ``@rpath/X``: tried under each ``LC_RPATH`` of the binary, then under those of the images
  that loaded it (:attr:`~wheelguard.loader.layout.Layout.inherited`); an image already loaded
  with the install name ``@rpath/X`` satisfies it too, which is how ``import tvm_ffi`` makes
  ``@rpath/libtvm_ffi.dylib`` resolvable for a later library.
- ``@executable_path/X``: relative to the main executable, the Python interpreter for a wheel.
- any other absolute path: that file, which exists on the build machine.

What lies outside the wheel is judged against the declared providers (by the file name of the
install name: ``libtvm_ffi.dylib``), never against the host running the audit.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from packaging.requirements import Requirement

from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import KnownProvider, find_requirement, provider_for_soname
from wheelguard.loader.layout import (
    Entry,
    Layout,
    build_host_path,
    classify_entry,
    find_dylib_in_wheel,
)
from wheelguard.loader.origin import origin_dir
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolution import Resolution
from wheelguard.model import Binary, SoName

__all__ = ["is_macos_system", "resolve_dylibs"]

_SYSTEM = ("/usr/lib/", "/System/")


def is_macos_system(name: str) -> bool:
    """An install name the OS provides (``/usr/lib/libSystem.B.dylib``, a framework)."""
    return name.startswith(_SYSTEM)


def resolve_dylibs(
    layout: Layout,
    binary: Binary,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> tuple[Resolution, ...]:
    """One resolution per dylib load command of ``binary`` (every kind, in order)."""
    here = install_path(binary.path)
    search = [classify_entry(binary, e, "LC_RPATH", layout) for e in binary.rpath]
    search += layout.inherited.get(here, ())
    return tuple(_resolve(layout, binary, name, search, providers=providers,
                          requirements=requirements)
                 for name in binary.needed)


def _resolve(
    layout: Layout,
    binary: Binary,
    name: SoName,
    search: list[Entry],
    *,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution:
    if is_macos_system(name):
        return Resolution(name, "platform")
    hit = find_dylib_in_wheel(name, binary.path, search, layout.files)
    if hit is not None:
        return Resolution(name, "wheel", path=hit[0], entry=hit[1])
    if name.startswith("@executable_path/"):
        return Resolution(name, "unresolved", reason="@executable_path is the directory of the "
                          "Python interpreter, not of the wheel")
    if name.startswith("/"):
        where = build_host_path(name)
        return Resolution(name, "unresolved", reason="absolute path outside the OS"
                          + (f" ({where} of the build machine)" if where else ""))
    relative = name.startswith(("@rpath/", "@loader_path/"))
    if not relative:
        return Resolution(name, "unresolved", reason="a bare name: dyld looks for it relative "
                          "to the current directory")
    provided = _provider(binary, name, search, providers, requirements)
    if provided is not None:
        return provided
    if name.startswith("@loader_path/"):
        return Resolution(name, "unresolved", reason="no such file next to the binary")
    tried = ", ".join(e.raw for e in search) or "none"
    return Resolution(name, "unresolved", reason=f"no LC_RPATH entry finds it (tried: {tried})")


def _provider(
    binary: Binary,
    name: str,
    search: list[Entry],
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution | None:
    """A load a declared (or known) distribution satisfies: through an entry into its
    directory, or by install name once it is loaded."""
    provider = provider_for_soname(loader_name(name), providers)
    if provider is None:
        return None
    via: tuple[str | None, str | None] = (None, None)
    if name.startswith("@loader_path/"):
        target = posixpath.normpath(posixpath.join(origin_dir(binary.path),
                                                   posixpath.dirname(name)[len("@loader_path/"):]))
        if target.split("/", 1)[0] in provider.top_level:
            via = (target, "@loader_path")
    else:
        entry = next((e for e in search
                      if e.kind == "other-distribution" and e.directory is not None
                      and e.directory.split("/", 1)[0] in provider.top_level), None)
        if entry is not None:
            via = (entry.directory, entry.raw)
    req = find_requirement(requirements, provider)
    return Resolution(
        SoName(name),
        "dependency" if req is not None else "undeclared",
        path=via[0],
        entry=via[1],
        provider=str(req.name) if req is not None else provider.distribution,
        requirement=str(req) if req is not None else None,
        reason=None if via[0] else "found by install name once the provider has loaded it "
        "(import it first)",
    )
