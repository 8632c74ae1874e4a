"""``wheelguard smoke``: install a wheel into fresh environments and watch what the process maps.

An audit reads the archive; a smoke run finds what only shows once the wheel is installed and
imported: a sibling RUNPATH that resolves in one install layout and not in another, a second
copy of a runtime mapped beside the provider's, a kernel compiler that cannot find its headers.

For each requested layout the run builds a fresh environment from one base interpreter, installs
offline from local wheelhouses (``--no-index --find-links``), then runs the probe
(:mod:`wheelguard.smoke.probe`, a standalone script) inside it. The probe imports the package,
runs the GEMM drivers (:mod:`wheelguard.smoke.gemm`) and reports every native library mapped in the
process with the distribution whose RECORD lists it. The judging happens here:

- ``install``: pip installed the wheel and its dependencies from the wheelhouses alone;
- ``wheel-location``: the wheel under test is the copy that was imported;
- ``import``: every top-level module of the wheel imports;
- ``duplicate-soname``: no SONAME is mapped from two different files;
- ``provider-runtime``: a library a strict provider owns (``libtvm_ffi`` of apache-tvm-ffi) is
  mapped only from that provider's distribution;
- ``gemm:<driver>``: each GEMM driver passed or was skipped (a skip is never a pass).

Layouts (``docs/smoke.md`` says more):

``venv``
    ``python -m venv`` and a plain ``pip install``: wheel and dependencies in one site-packages.
``system-site-packages``
    dependencies in a base directory, the wheel (``--no-deps``) in a child venv. ``venv
    --system-site-packages`` would expose the base *interpreter's* site-packages, not those of
    a venv it was run from, so the base is emulated: dependencies go to ``pip install --target
    BASE`` and the child venv adds BASE with a ``.pth`` file (``site.addsitedir``, so BASE is
    a real site directory). Sibling ``$ORIGIN/../../<dep>`` RUNPATHs break here.
``target``
    ``pip install --target DIR`` of the wheel and dependencies, run with ``PYTHONPATH=DIR``.

With ``host_packages`` the environments also see the base interpreter's own site-packages
(appended after their own, through the same ``.pth`` mechanism, even when the base is itself a
venv): how a GPU machine's preinstalled torch stays visible while the wheel and the
dependencies the host lacks come from the wheelhouse. The ``system-site-packages`` and
``target`` layouts install an exact dependency set that pip resolved once (``--dry-run
--report``) in an environment seeing the same host, because ``pip install --target`` ignores
installed packages and would otherwise demand torch from the wheelhouse.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from packaging.utils import canonicalize_name

from wheelguard import __version__
from wheelguard.errors import SmokeError, UsageError
from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import KnownProvider, known_providers
from wheelguard.model import Wheel
from wheelguard.policy.schema import SMOKE_LAYOUTS, SmokeLayout
from wheelguard.reading.scan import scan_wheel
from wheelguard.report.json import plain
from wheelguard.smoke.gemm import DRIVER_FILES, DRIVERS, GEMM_CHOICES, driver_dir
from wheelguard.util.fs import file_sha256
from wheelguard.util.proc import run_tool

__all__ = [
    "LAYOUTS",
    "SCHEMA_VERSION",
    "Check",
    "Layout",
    "LayoutResult",
    "MappedLibrary",
    "SmokeOptions",
    "SmokeResult",
    "Step",
    "child_environment",
    "duplicate_sonames",
    "import_names",
    "loader_log_libraries",
    "provider_runtimes",
    "run_smoke",
]

SCHEMA_VERSION = 1

Layout = SmokeLayout
LAYOUTS: tuple[Layout, ...] = SMOKE_LAYOUTS
Status = Literal["passed", "failed", "skipped"]
GemmLayouts = Literal["first", "all"]

STRICT_PROVIDERS = frozenset({"apache-tvm-ffi"})
"""Distributions whose libraries must never be mapped from anywhere else (FIELD.md: a private
libtvm_ffi is a second runtime). Other known providers only warn: a system CUDA runtime beside
the pip one is common and usually harmless."""

PROBE_NAME = "_wheelguard_smoke_probe.py"
DRIVER_PACKAGE = "_wheelguard_gemm"
_TAIL = 4000
_PIP_TIMEOUT_S = 900.0
_LAYERS_PTH = "_wheelguard_layers.pth"
_LOADER_LOG = "ld-debug"
_CALLING_INIT = re.compile(r"^\s*(\d+):\s+calling init: (/.+?)\s*$", re.MULTILINE)

# Variables that would point the fresh environment at something other than itself.
_DROP_EXACT = frozenset({
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE",
    "PYTHONSAFEPATH", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__", "TINYKERN_CACHE_DIR",
})  # fmt: skip
# pip configuration, and the TL_*/TVM_* path overrides that make tilelang use files other
# than the installed wheel's (FIELD.md), plus tilelang's own settings (the cache dir is set
# below, fresh).
_DROP_PREFIXES = ("PIP_", "TL_", "TVM_", "TILELANG_")
_LOADER_VARIABLES = ("LD_LIBRARY_PATH", "LD_PRELOAD")



@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeOptions:
    """One smoke run, resolved: the CLI converts its arguments into this right after parsing."""

    wheel: Path
    wheelhouses: tuple[Path, ...]
    layouts: tuple[Layout, ...] = LAYOUTS
    gemm: tuple[str, ...] = ()
    gemm_layouts: GemmLayouts = "first"
    """Run the GEMM drivers in the first layout only (benchmark), or in every layout (the
    later ones in a short check mode: first size, few iterations)."""
    python: Path | None = None
    """Interpreter the environments are built from; default: the one running wheelguard."""
    host_packages: bool = False
    imports: tuple[str, ...] = ()
    """Modules to import; default: the wheel's top-level packages and modules."""
    require_gpu: bool = False
    """Fail unless some GPU case passed (for a machine that is known to have one)."""
    gemm_sizes: tuple[int, ...] = ()
    iterations: int = 50
    warmup: int = 10
    workdir: Path | None = None
    """Kept after the run when given; otherwise a temporary directory is used and removed."""
    timeout_s: float = 1800.0
    strict_providers: frozenset[str] = STRICT_PROVIDERS
    environ: Mapping[str, str] | None = None
    """Base environment for the child processes; default: this process's."""

    def __post_init__(self) -> None:
        if not self.layouts:
            raise UsageError("no layout requested")
        if len(set(self.layouts)) != len(self.layouts):
            raise UsageError("a layout is requested twice")
        for name in self.gemm:
            if name not in DRIVERS:
                raise UsageError(f"unknown GEMM driver {name!r} (choose from "
                                 f"{', '.join(GEMM_CHOICES)})")
        if self.iterations < 1 or self.warmup < 0:
            raise UsageError("--iterations must be >= 1 and --warmup >= 0")


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One command of a layout's setup or run, with the end of its output."""

    name: str
    status: Literal["ok", "failed", "skipped"]
    duration_s: float = 0.0
    command: tuple[str, ...] = ()
    returncode: int | None = None
    output: str = ""
    pid: int | None = field(default=None, compare=False)
    """The process id, to find the loader's log of this process (not reported)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "command": list(self.command),
            "returncode": self.returncode,
            "output": self.output,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    id: str
    status: Status
    message: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message,
                "details": plain(self.details)}


@dataclass(frozen=True, slots=True, kw_only=True)
class MappedLibrary:
    """One ELF file mapped into the probe process."""

    path: str
    soname: str | None
    elf_type: str
    distribution: str | None
    version: str | None
    origin: str
    """Where the file lies: env, base, target, host, python (the interpreter's own files),
    cache (the run's scratch directory), system or other."""
    loaded_in: str
    """The probe phase that first saw it mapped: environment, import or gemm."""

    @property
    def name(self) -> str:
        """The name the loader matches: SONAME, else the file name."""
        return self.soname or self.path.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "soname": self.soname, "elf_type": self.elf_type,
                "distribution": self.distribution, "version": self.version,
                "origin": self.origin, "loaded_in": self.loaded_in}


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutResult:
    layout: Layout
    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    paths: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    imports: tuple[Mapping[str, Any], ...] = ()
    libraries: tuple[MappedLibrary, ...] = ()
    distributions: tuple[Mapping[str, Any], ...] = ()
    gemm: tuple[Mapping[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    python: Mapping[str, Any] | None = None

    @property
    def status(self) -> Status:
        return "failed" if any(c.status == "failed" for c in self.checks) else "passed"

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "failed")

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "status": self.status,
            "paths": plain(self.paths),
            "python": plain(self.python) if self.python is not None else None,
            "steps": [s.to_json() for s in self.steps],
            "checks": [c.to_json() for c in self.checks],
            "imports": [plain(i) for i in self.imports],
            "distributions": [plain(d) for d in self.distributions],
            "libraries": [lib.to_json() for lib in self.libraries],
            "gemm": [plain(g) for g in self.gemm],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeResult:
    wheel: Mapping[str, Any]
    options: SmokeOptions
    host: Mapping[str, Any]
    resolution: Mapping[str, Any] | None
    layouts: tuple[LayoutResult, ...]
    started: str
    duration_s: float
    warnings: tuple[str, ...] = ()

    @property
    def gpu_status(self) -> Literal["passed", "failed", "skipped", "not-run"]:
        """The GPU verdict over every layout: any failure fails it; only a real pass passes."""
        statuses = [s for lay in self.layouts for s in _gpu_statuses(lay.gemm)]
        if not statuses:
            return "not-run"
        if "failed" in statuses:
            return "failed"
        return "passed" if "passed" in statuses else "skipped"

    @property
    def failures(self) -> tuple[str, ...]:
        out = [f"{lay.layout}: {c.id}: {c.message}" for lay in self.layouts for c in lay.failures]
        if self.options.require_gpu and self.gpu_status != "passed":
            out.append(f"GPU required but the GPU part was {self.gpu_status}")
        return tuple(out)

    @property
    def status(self) -> Status:
        return "failed" if self.failures else "passed"

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "wheelguard", "version": __version__},
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "wheel": plain(self.wheel),
            "options": {
                "wheelhouses": [str(w) for w in o.wheelhouses],
                "layouts": list(o.layouts),
                "gemm": list(o.gemm),
                "gemm_layouts": o.gemm_layouts,
                "gemm_sizes": list(o.gemm_sizes),
                "iterations": o.iterations,
                "warmup": o.warmup,
                "host_packages": o.host_packages,
                "imports": list(o.imports),
                "require_gpu": o.require_gpu,
                "strict_providers": sorted(o.strict_providers),
            },
            "host": plain(self.host),
            "resolution": plain(self.resolution) if self.resolution is not None else None,
            "layouts": [lay.to_json() for lay in self.layouts],
            "warnings": list(self.warnings),
            "summary": {
                "status": self.status,
                "gpu": self.gpu_status,
                "layouts": {lay.layout: lay.status for lay in self.layouts},
                "failures": list(self.failures),
            },
        }


def _gpu_statuses(gemm: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for driver in gemm:
        cases = [c for c in driver.get("cases", ()) if c.get("target") == "cuda"]
        if not cases:
            spec = DRIVERS.get(str(driver.get("name")))
            if spec is not None and spec.gpu and driver.get("status") in ("error", "failed"):
                out.append("failed")  # the driver broke before it could describe its cases
            continue
        for case in cases:
            status = case.get("status")
            out.append("failed" if status in ("failed", "error") else str(status))
    return out


# ---- pure checks on probe data -----------------------------------------------------------------


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


def child_environment(
    base: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment for processes of a fresh environment, and the names it dropped."""
    env: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in base.items():
        if key in _DROP_EXACT or key.startswith(_DROP_PREFIXES):
            dropped.append(key)
            continue
        env[key] = value
    env.update({
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONFAULTHANDLER": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CONFIG_FILE": os.devnull,
    })  # fmt: skip
    env.update(extra or {})
    return env, tuple(sorted(dropped))


# ---- running commands --------------------------------------------------------------------------


def _tail(text: str) -> str:
    return text if len(text) <= _TAIL else "..." + text[-_TAIL:]


def _run(
    name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None,
    timeout: float,
) -> Step:
    """Run one command in its own process group, output merged, killed as a group on timeout
    (nvcc and other grandchildren of a hung probe must not outlive it)."""
    done = run_tool(command, timeout=timeout, env=env, cwd=cwd, merge_output=True)
    if done.error is not None:
        return Step(name=name, status="failed", command=done.command, output=done.error)
    if done.timed_out:
        return Step(name=name, status="failed", duration_s=done.duration_s,
                    command=done.command, returncode=None,
                    output=_tail(f"{done.stdout}\n[killed after {timeout:.0f} s]"), pid=done.pid)
    return Step(name=name, status="ok" if done.ok else "failed", duration_s=done.duration_s,
                command=done.command, returncode=done.returncode, output=_tail(done.stdout),
                pid=done.pid)


@dataclass(frozen=True, slots=True)
class _Host:
    python: Path
    version: str
    site_dirs: tuple[str, ...]
    pip: str
    pip_python: Path
    """The interpreter whose pip installs into the environments (``pip --python``)."""
    own: tuple[str, ...]
    """The interpreter's own files: stdlib directories, executable, libpython."""


def _probe_host(python: Path, env: Mapping[str, str]) -> _Host:
    """Facts about the base interpreter, read with ``-I`` so that neither PYTHONPATH nor the
    user site of this process leaks into what the environments will see."""
    code = (
        "import json, os, platform, site, sys, sysconfig\n"
        "paths = sysconfig.get_paths()\n"
        "lib = os.path.join(sysconfig.get_config_var('LIBDIR') or '',\n"
        "                   sysconfig.get_config_var('LDLIBRARY') or '')\n"
        "print(json.dumps({'version': platform.python_version(),\n"
        "  'site': [p for p in site.getsitepackages() if p],\n"
        "  'own': [paths['stdlib'], paths['platstdlib'], sys.executable, lib]}))"
    )
    step = _run("host", [str(python), "-I", "-c", code], env=env, timeout=120)
    if step.status != "ok":
        raise SmokeError(f"cannot run the base interpreter {python}: {step.output.strip()}")
    info = json.loads(step.output.strip().splitlines()[-1])
    pip_python, pip = _find_pip((python, Path(sys.executable)), env)
    site_dirs = tuple(os.path.realpath(p) for p in info["site"] if Path(p).is_dir())
    own = tuple(os.path.realpath(p) for p in info["own"] if p and Path(p).exists())
    return _Host(python=python, version=str(info["version"]), site_dirs=site_dirs,
                 pip=pip, pip_python=pip_python, own=own)


def _find_pip(candidates: Sequence[Path], env: Mapping[str, str]) -> tuple[Path, str]:
    """An interpreter whose pip can install into other interpreters (``--python``, pip 22.3
    and later): the base interpreter's own, else the one running wheelguard."""
    problems: list[str] = []
    for python in dict.fromkeys(candidates):
        step = _run("pip", [str(python), "-m", "pip", "--version"], env=env, timeout=120)
        match = re.match(r"pip (\d+)\.(\d+)", step.output.strip())
        if step.status != "ok" or match is None:
            problems.append(f"{python}: no pip")
        elif (int(match.group(1)), int(match.group(2))) < (22, 3):
            problems.append(f"{python}: pip {match.group(1)}.{match.group(2)} is older than 22.3")
        else:
            return python, step.output.strip()
    raise SmokeError("no pip that can install into a fresh environment (" +
                     "; ".join(problems) + ")")


# ---- the run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Env:
    """A fresh venv and the directories its layout adds."""

    prefix: Path
    python: Path
    site: Path
    base: Path | None = None
    target: Path | None = None


@dataclass(slots=True)
class _Resolution:
    step: Step
    dependencies: list[tuple[str, str, Path]] = field(default_factory=list)
    """(name, version, wheel file) pip would install besides the wheel under test."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.step.status,
            "step": self.step.to_json(),
            "dependencies": [{"name": n, "version": v, "file": str(f)}
                             for n, v, f in self.dependencies],
        }


class _Runner:
    """Holds one run's settings and scratch directory; one method per layout."""

    def __init__(self, options: SmokeOptions, wheel: Wheel, host: _Host, *, workdir: Path,
                 environ: Mapping[str, str], log: Callable[[str], None]) -> None:
        self.o = options
        self.wheel = wheel
        self.host = host
        self.workdir = workdir
        self.log = log
        self.env, self.dropped = child_environment(environ)
        self.resolution: _Resolution | None = None
        self.probe_dir = self._copy_probe()
        self.providers = known_providers()

    # -- helpers

    def _copy_probe(self) -> Path:
        """The probe and drivers in a directory of their own: the package directory they come
        from holds modules (platform.py ...) that would shadow the standard library."""
        probe_dir = self.workdir / "probe"
        package = probe_dir / DRIVER_PACKAGE
        package.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).with_name("probe.py"), probe_dir / PROBE_NAME)
        for name in DRIVER_FILES:
            shutil.copyfile(driver_dir() / name, package / name)
        (package / "__init__.py").write_text("", encoding="utf-8")
        return probe_dir

    def _pip(self, env: _Env, *args: str) -> list[str]:
        finds = [arg for wh in self.o.wheelhouses for arg in ("--find-links", str(wh))]
        return [str(self.host.pip_python), "-m", "pip", "--python", str(env.python), "install",
                "--no-index", "--only-binary=:all:", "--no-compile", *finds, *args]

    def _create(self, layout: str) -> tuple[_Env | None, Step]:
        prefix = self.workdir / layout / "env"
        step = _run("create", [str(self.host.python), "-m", "venv", "--without-pip", str(prefix)],
                    env=self.env, timeout=300)
        if step.status != "ok":
            return None, step
        python = prefix / "bin" / "python"
        where = _run("create", [str(python), "-I", "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     env=self.env, timeout=120)
        if where.status != "ok":
            return None, replace(where, duration_s=step.duration_s + where.duration_s)
        site = Path(where.output.strip().splitlines()[-1])
        return _Env(prefix=prefix, python=python, site=site), step

    def _layer(self, env: _Env, dirs: Sequence[str]) -> None:
        """Make ``dirs`` site directories of ``env``, after its own site-packages."""
        if not dirs:
            return
        lines = [f"import site; site.addsitedir({d!r})" for d in dirs]
        (env.site / _LAYERS_PTH).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _host_layer(self) -> list[str]:
        return list(self.host.site_dirs) if self.o.host_packages else []

    def _resolve(self) -> _Resolution:
        """What pip would install besides the wheel, seen from an environment like the others
        (fresh, plus the host's packages when those are visible)."""
        if self.resolution is not None:
            return self.resolution
        self.log("resolving dependencies (pip --dry-run)")
        env, step = self._create("resolve")
        if env is None:
            self.resolution = _Resolution(replace(step, name="resolve"))
            return self.resolution
        self._layer(env, self._host_layer())
        report = self.workdir / "resolve" / "report.json"
        step = _run("resolve", self._pip(env, "--dry-run", "--quiet", "--report", str(report),
                                         str(self.o.wheel)),
                    env=self.env, timeout=_PIP_TIMEOUT_S)
        resolution = _Resolution(step)
        if step.status == "ok":
            data = _read_json(report)
            for item in data.get("install", []):
                meta = item.get("metadata", {})
                name = str(meta.get("name", ""))
                if canonicalize_name(name) == self.wheel.name:
                    continue
                url = str(item.get("download_info", {}).get("url", ""))
                path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
                resolution.dependencies.append((name, str(meta.get("version", "")), path))
        self.resolution = resolution
        return resolution

    # -- layouts

    def run_layout(self, layout: Layout, *, gemm_mode: str | None) -> LayoutResult:
        self.log(f"{layout}: creating the environment")
        env, create = self._create(layout)
        steps = [create]
        if env is None:
            return self._setup_failed(layout, steps)
        paths: dict[str, Any] = {"prefix": str(env.prefix), "site_packages": str(env.site)}
        extra_env: dict[str, str] = {}
        if layout == "venv":
            self._layer(env, self._host_layer())
            self.log(f"{layout}: pip install")
            steps.append(_run("install", self._pip(env, str(self.o.wheel)), env=self.env,
                              timeout=_PIP_TIMEOUT_S))
        else:
            resolution = self._resolve()
            steps.append(resolution.step)
            if resolution.step.status != "ok":
                return self._setup_failed(layout, steps, paths)
            deps = [str(f) for _n, _v, f in resolution.dependencies]
            if layout == "system-site-packages":
                env.base = self.workdir / layout / "base"
                env.base.mkdir(parents=True)
                paths["base"] = str(env.base)
                if deps:
                    self.log(f"{layout}: pip install --target BASE (dependencies)")
                    steps.append(_run("install-deps", self._pip(
                        env, "--no-deps", "--target", str(env.base), *deps),
                        env=self.env, timeout=_PIP_TIMEOUT_S))
                self._layer(env, [str(env.base), *self._host_layer()])
                self.log(f"{layout}: pip install --no-deps (the wheel)")
                steps.append(_run("install", self._pip(env, "--no-deps", str(self.o.wheel)),
                                  env=self.env, timeout=_PIP_TIMEOUT_S))
            else:
                env.target = self.workdir / layout / "target"
                paths["target"] = str(env.target)
                self._layer(env, self._host_layer())
                self.log(f"{layout}: pip install --target DIR")
                steps.append(_run("install", self._pip(
                    env, "--no-deps", "--target", str(env.target), str(self.o.wheel), *deps),
                    env=self.env, timeout=_PIP_TIMEOUT_S))
                extra_env["PYTHONPATH"] = str(env.target)
        if any(s.status != "ok" for s in steps):
            return self._setup_failed(layout, steps, paths)
        return self._probe(layout, env, steps=steps, paths=paths, extra_env=extra_env,
                           gemm_mode=gemm_mode)

    def _setup_failed(self, layout: Layout, steps: list[Step],
                      paths: Mapping[str, Any] | None = None) -> LayoutResult:
        failed = next(s for s in steps if s.status != "ok")
        check = Check(id="install", status="failed",
                      message=f"{failed.name} failed: {_last_line(failed.output)}")
        skipped = tuple(Check(id=c, status="skipped", message="not run: setup failed")
                        for c in ("import", "duplicate-soname", "provider-runtime"))
        return LayoutResult(layout=layout, steps=tuple(steps), checks=(check, *skipped),
                            paths=MappingProxyType(dict(paths or {})))

    def _probe(self, layout: Layout, env: _Env, *, steps: list[Step], paths: dict[str, Any],
               extra_env: dict[str, str], gemm_mode: str | None) -> LayoutResult:
        run_dir = self.workdir / layout / "run"
        cache = self.workdir / layout / "cache"
        for sub in ("tilelang", "tinykern", "xdg"):
            (cache / sub).mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        extra_env.update({
            "TILELANG_CACHE_DIR": str(cache / "tilelang"),
            "TINYKERN_CACHE_DIR": str(cache / "tinykern"),
            "XDG_CACHE_HOME": str(cache / "xdg"),
            # The dynamic loader logs each object it initialises, as it happens: the record
            # of what was mapped when a second runtime aborts the process in its initialiser.
            "LD_DEBUG": "files",
            "LD_DEBUG_OUTPUT": str(run_dir / _LOADER_LOG),
        })  # fmt: skip
        paths["cache"] = str(cache)
        request = {
            "imports": list(self.o.imports or import_names(self.wheel)),
            "driver_dir": str(self.probe_dir / DRIVER_PACKAGE),
            "drivers": [self._driver_request(name, gemm_mode) for name in self.o.gemm]
            if gemm_mode else [],
        }
        request_path = run_dir / "request.json"
        result_path = run_dir / "result.json"
        request_path.write_text(json.dumps(request, indent=1), encoding="utf-8")
        self.log(f"{layout}: probing (imports{', GEMM ' + gemm_mode if gemm_mode else ''})")
        step = _run("probe", [str(env.python), "-s", str(self.probe_dir / PROBE_NAME),
                              str(request_path), str(result_path)],
                    env={**self.env, **extra_env}, cwd=run_dir, timeout=self.o.timeout_s)
        steps.append(step)
        data = _read_json(result_path)
        if step.status != "ok" and step.pid is not None:
            log = run_dir / f"{_LOADER_LOG}.{step.pid}"
            with contextlib.suppress(OSError):
                data = {**data, "libraries": loader_log_libraries(
                    log.read_text(encoding="utf-8", errors="replace"),
                    data.get("libraries", ()), data.get("native_files", {}))}
        return self._judge(layout, env, steps=steps, paths=paths, request=request, data=data,
                           probe=step)

    def _driver_request(self, name: str, mode: str) -> dict[str, Any]:
        driver = DRIVERS[name]
        options: dict[str, Any] = {"mode": mode, "iterations": self.o.iterations,
                                   "warmup": self.o.warmup}
        if self.o.gemm_sizes:
            options["sizes"] = list(self.o.gemm_sizes)
        if mode == "check":
            options["iterations"] = min(self.o.iterations, 10)
            options["warmup"] = min(self.o.warmup, 2)
            if self.o.gemm_sizes:
                options["sizes"] = list(self.o.gemm_sizes[:1])
            elif name == "tilelang":
                options["sizes"] = [4096]
        return {"name": name, "module": driver.module, "options": options}

    def _origin(self, path: str, env: _Env) -> str:
        real = os.path.realpath(path)
        places: list[tuple[str, Path | str | None]] = [
            ("target", env.target), ("base", env.base), ("env", env.prefix),
            ("cache", self.workdir), *(("host", d) for d in self.host.site_dirs),
            *(("python", d) for d in self.host.own),
        ]
        for origin, place in places:
            if place is not None and _within(real, os.path.realpath(place)):
                return origin
        if real.startswith(("/usr/", "/lib", "/opt/", "/etc/")):
            return "system"
        return "other"

    def _judge(self, layout: Layout, env: _Env, *, steps: list[Step], paths: dict[str, Any],
               request: Mapping[str, Any], data: Mapping[str, Any], probe: Step) -> LayoutResult:
        checks: list[Check] = [Check(id="install", status="passed",
                                     message="installed offline from the wheelhouse")]
        warnings: list[str] = []
        libraries = tuple(
            MappedLibrary(path=str(lib["path"]), soname=lib.get("soname"),
                          elf_type=str(lib.get("type", "?")),
                          distribution=lib.get("distribution"), version=lib.get("version"),
                          origin=self._origin(str(lib["path"]), env),
                          loaded_in=str(lib.get("loaded_in", "?")))
            for lib in data.get("libraries", ())
        )
        distributions = tuple(
            {**d, "origin": self._origin(str(d.get("location", "")), env)}
            for d in data.get("distributions", ())
        )
        imports = tuple(data.get("imports", ()))
        gemm = tuple(data.get("gemm", ()))
        if probe.status != "ok":
            where = _RUNNING_AFTER.get(str(data.get("phase", "start")), "startup")
            checks.append(Check(id="probe", status="failed",
                                message=f"the probe {_exit_text(probe.returncode)} during "
                                f"{where}: {_headline(probe.output)}"))
        checks.append(self._location_check(layout, env, distributions, imports))
        failed_imports = [i for i in imports if i.get("status") != "ok"]
        expected = list(request.get("imports", ()))
        if failed_imports:
            checks.append(Check(id="import", status="failed",
                                message="import failed: " + ", ".join(
                                    f"{i['module']} ({_last_line(str(i.get('error', '')))})"
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
                libraries, self.providers, self.o.strict_providers,
                installed=[str(d["name"]) for d in distributions if d.get("name")])
            checks.append(provider_check)
            warnings += provider_warnings
        else:
            checks += [Check(id=c, status="failed", message="the probe reported no libraries")
                       for c in ("duplicate-soname", "provider-runtime")]
        for driver in request.get("drivers", ()):
            checks.append(_gemm_check(str(driver["name"]),
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

    def _location_check(self, layout: Layout, env: _Env,
                        distributions: Sequence[Mapping[str, Any]],
                        imports: Sequence[Mapping[str, Any]]) -> Check:
        """The copy of the wheel the process uses is the one this layout installed."""
        expected = "target" if layout == "target" else "env"
        mine = [d for d in distributions
                if canonicalize_name(str(d.get("name"))) == self.wheel.name]
        if not mine:
            return Check(id="wheel-location", status="failed",
                         message=f"{self.wheel.name} is not visible in the environment")
        first = mine[0]
        if first.get("origin") != expected or str(first.get("version")) != str(self.wheel.version):
            return Check(id="wheel-location", status="failed",
                         message=f"{self.wheel.name} {first.get('version')} is found first in "
                         f"{first.get('location')} ({first.get('origin')}), not in the "
                         f"{expected} directory this layout installed into")
        stray = [i for i in imports if i.get("file")
                 and self._origin(str(i["file"]), env) != expected]
        if stray:
            return Check(id="wheel-location", status="failed",
                         message="imported from elsewhere: " + ", ".join(
                             f"{i['module']} ({i['file']})" for i in stray))
        return Check(id="wheel-location", status="passed",
                     message=f"{self.wheel.name} {self.wheel.version} imported from the "
                     f"{expected} directory")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object written by a child process, or {} when it left none (or half of one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# The probe records the last phase it finished; a crash happened in the one after it.
_RUNNING_AFTER = {"start": "startup", "environment": "import", "import": "the GEMM drivers",
                  "gemm": "the GEMM drivers", "done": "exit"}


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "was killed at the time limit"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with {returncode}"


def _headline(output: str) -> str:
    """The line of a crash log that says what happened: a C++ exception's what(), Python's
    fatal error, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("what():", "Fatal Python error", "Error", "error"):
        hit = next((line for line in lines if marker in line), None)
        if hit is not None:
            return hit[:300]
    return _last_line(output)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _gemm_check(name: str, result: Mapping[str, Any] | None) -> Check:
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


@contextlib.contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        if any(given.iterdir()):
            raise UsageError(f"--workdir {given} is not empty")
        yield given.resolve()
        return
    path = Path(tempfile.mkdtemp(prefix="wheelguard-smoke-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_smoke(options: SmokeOptions, *, log: Callable[[str], None] | None = None) -> SmokeResult:
    """Run every requested layout and return the result (a failed check is a result, not an
    exception). Raises :class:`SmokeError` only when no environment can be built at all."""
    say = log or (lambda _msg: None)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    for wh in options.wheelhouses:
        if not wh.is_dir():
            raise SmokeError(f"wheelhouse {wh} is not a directory")
    wheel = scan_wheel(options.wheel)
    environ = dict(options.environ if options.environ is not None else os.environ)
    python = options.python or Path(sys.executable)
    host_env, _ = child_environment(environ)
    host = _probe_host(python, host_env)
    options = replace(options, wheel=options.wheel.resolve(),
                      wheelhouses=tuple(w.resolve() for w in options.wheelhouses))
    warnings = [f"{name} is set ({environ[name]}): libraries may resolve through it, not "
                "through their RUNPATH" for name in _LOADER_VARIABLES if environ.get(name)]
    results: list[LayoutResult] = []
    with _workdir(options.workdir) as workdir:
        runner = _Runner(options, wheel, host, workdir=workdir, environ=environ, log=say)
        for i, layout in enumerate(options.layouts):
            mode: str | None = None
            if options.gemm:
                if i == 0:
                    mode = "benchmark"
                elif options.gemm_layouts == "all":
                    mode = "check"
            result = runner.run_layout(layout, gemm_mode=mode)
            say(f"{layout}: {result.status}")
            results.append(result)
        resolution = runner.resolution.to_json() if runner.resolution is not None else None
        dropped = runner.dropped
    return SmokeResult(
        wheel=MappingProxyType({
            "path": str(options.wheel), "filename": wheel.filename, "name": str(wheel.name),
            "version": str(wheel.version), "sha256": file_sha256(options.wheel),
        }),
        options=options,
        host=MappingProxyType({
            "python": str(python), "python_version": host.version, "pip": host.pip,
            "site_dirs": list(host.site_dirs), "workdir": str(options.workdir)
            if options.workdir else None, "dropped_environment": list(dropped),
        }),
        resolution=resolution,
        layouts=tuple(results),
        started=started_at,
        duration_s=time.monotonic() - started,
        warnings=tuple(warnings),
    )
