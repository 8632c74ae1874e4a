"""Who provides a native library or a top-level directory, and does the wheel declare them.

The audit is hermetic: it never looks at the host's libraries. What lies outside the wheel
is judged against the wheel's own ``Requires-Dist`` and a table of distributions known to ship
native libraries (``data/providers.toml``). Dependency wheels read from a wheelhouse refine
this in the linkage analysis.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wheelguard._compat import tomllib
from wheelguard.knowledge.tags import parse_platform
from wheelguard.model import Binary, Wheel

__all__ = [
    "KnownProvider",
    "declared",
    "find_requirement",
    "known_providers",
    "marker_environment",
    "provider_for_soname",
    "provider_for_top_level",
]


@dataclass(frozen=True, slots=True)
class KnownProvider:
    distribution: str
    """Canonical name, or a glob ending in ``*`` for families (``nvidia-*``)."""
    top_level: tuple[str, ...]
    sonames: tuple[str, ...]
    abi_prefixes: tuple[str, ...] = ()
    abi_symbols: frozenset[str] = frozenset()
    """The runtime's C ABI functions; when empty, any export with an ABI prefix counts."""
    cmake_package: str | None = None
    """The CMake package (``find_package``) that exports the runtime's imported target."""
    cmake_target: str | None = None
    """The imported target that links the shared runtime (``tvm_ffi::shared``)."""

    def abi_exports(self, binary: Binary) -> tuple[str, ...]:
        """The runtime's C ABI functions ``binary`` defines itself (a second runtime if any)."""
        if self.abi_symbols:
            return tuple(sorted(binary.exported & self.abi_symbols))
        return tuple(s for p in self.abi_prefixes for s in binary.exports_prefix(p))

    def provides(self, soname: str) -> bool:
        return any(fnmatch.fnmatchcase(soname, pat) for pat in self.sonames)

    def matches_distribution(self, name: str) -> bool:
        return fnmatch.fnmatchcase(canonicalize_name(name), self.distribution)


def known_providers() -> tuple[KnownProvider, ...]:
    text = resources.files("wheelguard").joinpath("data/providers.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return tuple(
        KnownProvider(
            distribution=str(p["distribution"]),
            top_level=tuple(p.get("top_level", ())),
            sonames=tuple(p.get("sonames", ())),
            abi_prefixes=tuple(p.get("abi_prefixes", ())),
            abi_symbols=frozenset(p.get("abi_symbols", ())),
            cmake_package=p.get("cmake_package"),
            cmake_target=p.get("cmake_target"),
        )
        for p in data.get("provider", [])
    )


def provider_for_soname(
    soname: str, providers: Iterable[KnownProvider]
) -> KnownProvider | None:
    return next((p for p in providers if p.provides(soname)), None)


def provider_for_top_level(
    top: str, providers: Iterable[KnownProvider]
) -> KnownProvider | None:
    return next((p for p in providers if top in p.top_level), None)


def marker_environment(wheel: Wheel, python: str | None = None) -> dict[str, str]:
    """Marker variables for the platform the wheel targets, not the host running the audit."""
    tags = [parse_platform(p) for p in sorted(wheel.platforms)]
    families = {t.family for t in tags}
    if "macosx" in families:
        system, sys_platform, os_name = "Darwin", "darwin", "posix"
    elif "win" in families:
        system, sys_platform, os_name = "Windows", "win32", "nt"
    else:
        system, sys_platform, os_name = "Linux", "linux", "posix"
    machine = next((sorted(t.machines)[0] for t in tags if t.machines), "x86_64")
    py = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    return {
        "platform_system": system,
        "sys_platform": sys_platform,
        "os_name": os_name,
        "platform_machine": machine,
        "python_version": py,
        "python_full_version": py + ".0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def declared(
    wheel: Wheel, *, extras: Iterable[str] = (), python: str | None = None
) -> Mapping[str, Requirement]:
    """Requirements in force for the target platform, by canonical name; extras off by default."""
    env = marker_environment(wheel, python)
    result: dict[str, Requirement] = {}
    for req in wheel.requires_dist:
        if req.marker is not None and not _marker_holds(req.marker, env, extras):
            continue
        result.setdefault(canonicalize_name(req.name), req)
    return result


def _marker_holds(marker: Marker, env: dict[str, str], extras: Iterable[str]) -> bool:
    if marker.evaluate({**env, "extra": ""}):
        return True
    return any(marker.evaluate({**env, "extra": e}) for e in extras)


def find_requirement(
    reqs: Mapping[str, Requirement], provider: KnownProvider
) -> Requirement | None:
    return next((r for n, r in reqs.items() if provider.matches_distribution(n)), None)
