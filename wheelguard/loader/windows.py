"""How the Windows loader finds each DLL a PE binary of the wheel imports.

Windows has no RPATH. Python (3.8 and later) loads an extension module with
``LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR``, so the DLLs it imports
are searched, by file name and case-insensitively:

1. among the modules already loaded (a package that loaded ``tvm_ffi.dll`` by path, or a
   provider imported first, satisfies every later import of that name);
2. in the directory of the module being loaded;
3. in the directories added with ``os.add_dll_directory`` (delvewheel's patch adds the wheel's
   ``<dist>.libs``);
4. in ``System32`` (Windows' own DLLs, API sets) and the interpreter's directory
   (``python3XX.dll``, ``vcruntime140.dll``).

``PATH`` is not searched. What lies outside the wheel is judged against
:mod:`wheelguard.knowledge.windows` and the declared providers, never against the host.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from packaging.requirements import Requirement

from wheelguard.knowledge.providers import KnownProvider, find_requirement, provider_for_soname
from wheelguard.knowledge.windows import dll_origin
from wheelguard.loader.layout import Layout
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolution import Resolution
from wheelguard.model import Binary, SoName

__all__ = ["resolve_dlls"]

_ORIGIN_REASONS = {
    "windows": None,
    "interpreter": "shipped with CPython",
    "driver": "installed with the GPU driver",
}


def resolve_dlls(
    layout: Layout,
    binary: Binary,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> tuple[Resolution, ...]:
    """One resolution per imported and delay-imported DLL of ``binary``, in order."""
    files: dict[str, str] = {}
    for f in layout.files:
        files.setdefault(f.lower(), f)
    here = posixpath.dirname(install_path(binary.path))
    libs_dirs = sorted(t for t in layout.tops if t.lower().endswith(".libs"))
    delayed = {n.lower() for n in binary.pe.delay_imports} if binary.pe else set()
    out = []
    for name in binary.needed:
        r = _resolve(name, here, libs_dirs, files, providers=providers,
                     requirements=requirements)
        if name.lower() in delayed and r.kind != "wheel" and r.reason is None:
            r = Resolution(r.needed, r.kind, r.path, r.entry, r.provider, r.requirement,
                           r.version, reason="delay-loaded: needed at the first call into it")
        out.append(r)
    return tuple(out)


def _resolve(
    name: SoName,
    here: str,
    libs_dirs: list[str],
    files: Mapping[str, str],
    *,
    providers: tuple[KnownProvider, ...],
    requirements: Mapping[str, Requirement],
) -> Resolution:
    lower = name.lower()
    own = posixpath.join(here.lower(), lower) if here else lower
    if own in files:
        return Resolution(name, "wheel", path=files[own], entry=here or ".")
    for d in libs_dirs:
        hit = files.get(f"{d.lower()}/{lower}")
        if hit is not None:
            return Resolution(name, "wheel", path=hit, entry=f"{d} (os.add_dll_directory)")
    origin = dll_origin(name)
    elsewhere = sorted(f for k, f in files.items() if posixpath.basename(k) == lower)
    if origin == "redistributable":
        # A copy elsewhere in the wheel serves this binary only if something loaded it first;
        # the redistributable is what a clean machine lacks either way.
        return Resolution(name, "redistributable", path=elsewhere[0] if elsewhere else None,
                          reason="Visual C++ runtime: not part of Windows or CPython"
                          + (f"; the wheel's copy {elsewhere[0]} is not on this binary's "
                             "search path" if elsewhere else ""))
    if origin is not None:
        return Resolution(name, "platform", reason=_ORIGIN_REASONS[origin])
    if elsewhere:
        return Resolution(name, "preload", path=elsewhere[0],
                          reason="found only once the package has loaded that file (by path, "
                          "or after os.add_dll_directory on its directory)")
    provider = provider_for_soname(name, providers) or provider_for_soname(lower, providers)
    if provider is not None:
        req = find_requirement(requirements, provider)
        return Resolution(
            name, "dependency" if req is not None else "undeclared",
            provider=str(req.name) if req is not None else provider.distribution,
            requirement=str(req) if req is not None else None,
            reason="found by name once the provider has loaded it (import it first)")
    return Resolution(name, "unresolved", reason="not in the wheel, not a Windows or CPython "
                      "DLL, and no declared dependency is known to ship it")
