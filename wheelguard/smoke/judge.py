"""Judging what the probe reported: the checks of one layout, as pure functions of its data.

The probe (a standalone script inside the environment) reports facts; the checks run here,
where they are typed and unit-tested:

- ``install``: pip installed the wheel and its dependencies from the wheelhouses alone;
- ``probe``: the probe process ended normally;
- ``wheel-location``: the wheel under test is the copy that was imported;
- ``import``: every top-level module of the wheel imports;
- ``duplicate-soname``: no SONAME is mapped from two different files;
- ``provider-runtime``: a library a strict provider owns (``libtvm_ffi`` of apache-tvm-ffi) is
  mapped only from that provider's distribution;
- ``gemm:<driver>``: each GEMM driver passed or was skipped (a skip is never a pass).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import KnownProvider
from wheelguard.model import Wheel
from wheelguard.smoke.options import Layout
from wheelguard.smoke.process import exit_text, headline, last_line
from wheelguard.smoke.result import Check, LayoutResult, MappedLibrary, Step

__all__ = [
    "duplicate_sonames",
    "gemm_check",
    "import_names",
    "judge_layout",
    "loader_log_libraries",
    "origin",
    "provider_runtimes",
    "setup_failed",
]

_CALLING_INIT = re.compile(r"^\s*(\d+):\s+calling init: (/.+?)\s*$", re.MULTILINE)

# The probe records the last phase it finished; a crash happened in the one after it.
_RUNNING_AFTER = {"start": "startup", "environment": "import", "import": "the GEMM drivers",
                  "gemm": "the GEMM drivers", "done": "exit"}


def import_names(wheel: Wheel) -> tuple[str, ...]:
    """Top-level modules a user can import from the wheel: packages, ``.py`` modules and
    extension modules at the root (``foo.libs`` and other non-identifiers are not modules)."""
    names: set[str] = set()
    for member in wheel.members:
        top, sep, _rest = member.path.partition("/")
        if top.endswith((".dist-info", ".data")):
            continue
        name = top if sep else top.split(".", 1)[0]
        if not sep and not top.endswith((".py", ".so", ".pyd")):
            continue
        if name.isidentifier():
            names.add(name)
    return tuple(sorted(names))


def duplicate_sonames(libraries: Sequence[MappedLibrary]) -> Check:
    """Two different files (device and inode) mapped under one SONAME: two copies of one
    runtime in one process, each with its own globals (FIELD.md: dlopen by path)."""
    by_soname: dict[str, list[MappedLibrary]] = {}
    for lib in libraries:
        if lib.soname:
            by_soname.setdefault(lib.soname, []).append(lib)
    dups = {name: libs for name, libs in sorted(by_soname.items()) if len(libs) > 1}
    if not dups:
        return Check(id="duplicate-soname", status="passed",
                     message=f"{len(by_soname)} SONAMEs, each mapped from one file")
    detail = {
        name: [{"path": lib.path, "distribution": lib.distribution, "origin": lib.origin}
               for lib in libs]
        for name, libs in dups.items()
    }
    names = ", ".join(f"{n} ({len(v)} files)" for n, v in dups.items())
    return Check(id="duplicate-soname", status="failed",
                 message=f"SONAME mapped from more than one file: {names}",
                 details=MappingProxyType({"duplicates": detail}))


def provider_runtimes(
    libraries: Sequence[MappedLibrary],
    providers: Sequence[KnownProvider],
    strict: frozenset[str],
    installed: Iterable[str] = (),
) -> tuple[Check, list[str]]:
    """Libraries a known provider ships, mapped from another distribution (or from no
    distribution at all). For a strict provider this fails; for the others it warns, but only
    where that provider is present too (tilelang's own libtvm_runtime is no second copy while
    apache-tvm is not installed)."""
    foreign: list[dict[str, Any]] = []
    warnings: list[str] = []
    present = {canonicalize_name(d) for d in installed}
    present |= {canonicalize_name(lib.distribution) for lib in libraries if lib.distribution}
    for lib in libraries:
        names = {loader_name(lib.name), loader_name(lib.path.rsplit("/", 1)[-1])}
        provider = next((p for p in providers if any(p.provides(n) for n in names)), None)
        if provider is None:
            continue
        if lib.distribution is not None and provider.matches_distribution(lib.distribution):
            continue
        owner = lib.distribution or f"no distribution ({lib.origin})"
        if canonicalize_name(provider.distribution) in strict:
            foreign.append({"path": lib.path, "soname": lib.soname, "owner": lib.distribution,
                            "origin": lib.origin, "provider": provider.distribution})
        elif any(provider.matches_distribution(d) for d in present):
            warnings.append(f"{lib.path} ({lib.name}) is mapped from {owner}, not from "
                            f"{provider.distribution}")
    if not foreign:
        check = Check(id="provider-runtime", status="passed",
                      message="libraries of " + ", ".join(sorted(strict)) +
                      " are mapped only from their own distribution")
        return check, warnings
    listed = "; ".join(f"{f['path']} (owned by {f['owner'] or 'no distribution'})"
                       for f in foreign)
    check = Check(id="provider-runtime", status="failed",
                  message=f"a provider's runtime is mapped from elsewhere: {listed}",
                  details=MappingProxyType({"foreign": foreign}))
    return check, warnings


def loader_log_libraries(
    log: str, reported: Sequence[Mapping[str, Any]], owners: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """The probe's library list completed from the loader's log (``LD_DEBUG=files``).

    Used when the probe died: its last report may predate the objects that killed it. Each
    object the log shows initialised and the report lacks (same device and inode) is added,
    marked ``loaded_in: "loader-log"``.
    """
    from wheelguard.smoke.probe import elf_info

    libraries = [dict(lib) for lib in reported]
    seen: set[tuple[int, int]] = set()
    for lib in libraries:
        with contextlib.suppress(OSError):
            st = Path(str(lib["path"])).stat()
            seen.add((st.st_dev, st.st_ino))
    for match in _CALLING_INIT.finditer(log):
        path = os.path.realpath(match.group(2))
        try:
            st = Path(path).stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        info = elf_info(path)
        if info is None:
            continue
        owner = owners.get(path)
        libraries.append({
            "path": path, "type": info["type"], "soname": info["soname"],
            "distribution": owner[0] if owner else None,
            "version": owner[1] if owner else None, "loaded_in": "loader-log",
        })  # fmt: skip
    return libraries


def origin(path: str, places: Sequence[tuple[str, str]]) -> str:
    """Where ``path`` lies: the first of ``places`` (name, real directory) that holds it, else
    system (``/usr``, ``/lib``, ``/opt``, ``/etc``) or other."""
    real = os.path.realpath(path)
    for name, place in places:
        if real == place or real.startswith(place.rstrip("/") + "/"):
            return name
    if real.startswith(("/usr/", "/lib", "/opt/", "/etc/")):
        return "system"
    return "other"


def setup_failed(layout: Layout, steps: Sequence[Step],
                 paths: Mapping[str, Any] | None = None) -> LayoutResult:
    failed = next(s for s in steps if s.status != "ok")
    check = Check(id="install", status="failed",
                  message=f"{failed.name} failed: {last_line(failed.output)}")
    skipped = tuple(Check(id=c, status="skipped", message="not run: setup failed")
                    for c in ("import", "duplicate-soname", "provider-runtime"))
    return LayoutResult(layout=layout, steps=tuple(steps), checks=(check, *skipped),
                        paths=MappingProxyType(dict(paths or {})))


def judge_layout(
    layout: Layout, *, wheel: tuple[NormalizedName, Version], places: Sequence[tuple[str, str]],
    steps: Sequence[Step], paths: Mapping[str, Any], request: Mapping[str, Any],
    data: Mapping[str, Any], probe: Step, providers: Sequence[KnownProvider],
    strict_providers: frozenset[str],
) -> LayoutResult:
    """Every check of one layout, from its setup steps, the probe request and its report."""
    checks: list[Check] = [Check(id="install", status="passed",
                                 message="installed offline from the wheelhouse")]
    warnings: list[str] = []
    libraries = tuple(
        MappedLibrary(path=str(lib["path"]), soname=lib.get("soname"),
                      elf_type=str(lib.get("type", "?")),
                      distribution=lib.get("distribution"), version=lib.get("version"),
                      origin=origin(str(lib["path"]), places),
                      loaded_in=str(lib.get("loaded_in", "?")))
        for lib in data.get("libraries", ())
    )
    distributions = tuple(
        {**d, "origin": origin(str(d.get("location", "")), places)}
        for d in data.get("distributions", ())
    )
    imports = tuple(data.get("imports", ()))
    gemm = tuple(data.get("gemm", ()))
    if probe.status != "ok":
        where = _RUNNING_AFTER.get(str(data.get("phase", "start")), "startup")
        checks.append(Check(id="probe", status="failed",
                            message=f"the probe {exit_text(probe.returncode)} during "
                            f"{where}: {headline(probe.output)}"))
    checks.append(_location_check(layout, wheel, places, distributions, imports))
    failed_imports = [i for i in imports if i.get("status") != "ok"]
    expected = list(request.get("imports", ()))
    if failed_imports:
        checks.append(Check(id="import", status="failed",
                            message="import failed: " + ", ".join(
                                f"{i['module']} ({last_line(str(i.get('error', '')))})"
                                for i in failed_imports)))
    elif len(imports) < len(expected):
        checks.append(Check(id="import", status="failed",
                            message="the probe stopped before importing everything"))
    else:
        checks.append(Check(id="import", status="passed",
                            message="imported " + (", ".join(expected) or "nothing")))
    if libraries:
        checks.append(duplicate_sonames(libraries))
        provider_check, provider_warnings = provider_runtimes(
            libraries, providers, strict_providers,
            installed=[str(d["name"]) for d in distributions if d.get("name")])
        checks.append(provider_check)
        warnings += provider_warnings
    else:
        checks += [Check(id=c, status="failed", message="the probe reported no libraries")
                   for c in ("duplicate-soname", "provider-runtime")]
    for driver in request.get("drivers", ()):
        checks.append(gemm_check(str(driver["name"]),
                                 next((g for g in gemm if g.get("name") == driver["name"]),
                                      None)))
    warnings += _shadowed(distributions)
    python = data.get("python")
    return LayoutResult(
        layout=layout, steps=tuple(steps), checks=tuple(checks),
        paths=MappingProxyType(dict(paths)), imports=imports, libraries=libraries,
        distributions=distributions, gemm=gemm, warnings=tuple(warnings),
        python=MappingProxyType(dict(python)) if isinstance(python, dict) else None,
    )


def _location_check(layout: Layout, wheel: tuple[NormalizedName, Version],
                    places: Sequence[tuple[str, str]],
                    distributions: Sequence[Mapping[str, Any]],
                    imports: Sequence[Mapping[str, Any]]) -> Check:
    """The copy of the wheel the process uses is the one this layout installed."""
    name, version = wheel
    expected = "target" if layout == "target" else "env"
    mine = [d for d in distributions if canonicalize_name(str(d.get("name"))) == name]
    if not mine:
        return Check(id="wheel-location", status="failed",
                     message=f"{name} is not visible in the environment")
    first = mine[0]
    if first.get("origin") != expected or str(first.get("version")) != str(version):
        return Check(id="wheel-location", status="failed",
                     message=f"{name} {first.get('version')} is found first in "
                     f"{first.get('location')} ({first.get('origin')}), not in the "
                     f"{expected} directory this layout installed into")
    stray = [i for i in imports if i.get("file")
             and origin(str(i["file"]), places) != expected]
    if stray:
        return Check(id="wheel-location", status="failed",
                     message="imported from elsewhere: " + ", ".join(
                         f"{i['module']} ({i['file']})" for i in stray))
    return Check(id="wheel-location", status="passed",
                 message=f"{name} {version} imported from the {expected} directory")


def gemm_check(name: str, result: Mapping[str, Any] | None) -> Check:
    if result is None:
        return Check(id=f"gemm:{name}", status="failed",
                     message="the driver reported nothing (the probe died before it finished)")
    status = str(result.get("status"))
    cases = result.get("cases", ())
    summary = "; ".join(
        f"{c.get('label')} {c.get('m')}x{c.get('n')}x{c.get('k')}: {c.get('status')}"
        + (f" ({c.get('reason')})" if c.get("reason") else "")
        for c in cases
    ) or str(result.get("reason") or "")
    if status == "passed":
        return Check(id=f"gemm:{name}", status="passed", message=summary)
    if status == "skipped":
        return Check(id=f"gemm:{name}", status="skipped", message=summary)
    return Check(id=f"gemm:{name}", status="failed", message=summary or f"driver {status}")


def _shadowed(distributions: Sequence[Mapping[str, Any]]) -> list[str]:
    """A distribution visible twice: the first on sys.path wins, the other is dead weight or,
    worse, what a native library resolves to through a RUNPATH."""
    seen: dict[str, Mapping[str, Any]] = {}
    out: list[str] = []
    for d in distributions:
        key = canonicalize_name(str(d.get("name")))
        if key in seen:
            first = seen[key]
            out.append(f"{key} is installed twice: {first.get('version')} in "
                       f"{first.get('location')} ({first.get('origin')}) is used, "
                       f"{d.get('version')} in {d.get('location')} ({d.get('origin')}) is "
                       "shadowed")
        else:
            seen[key] = d
    return out
