"""Fresh environments for a smoke run: one per install layout, offline from local wheelhouses.

Every environment starts from a new ``python -m venv --without-pip`` of one base interpreter;
pip is the base interpreter's own (``pip --python ENV``). The layouts (``docs/smoke.md``):

``venv``
    a plain ``pip install``: wheel and dependencies in one site-packages.
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

import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from wheelguard.errors import SmokeError
from wheelguard.smoke.options import Layout
from wheelguard.smoke.process import read_json, run_step
from wheelguard.smoke.result import Step

__all__ = ["Env", "Environments", "Host", "Installed", "Resolution", "probe_host"]

_PIP_TIMEOUT_S = 900.0
_LAYERS_PTH = "_wheelguard_layers.pth"


@dataclass(frozen=True, slots=True)
class Host:
    python: Path
    version: str
    site_dirs: tuple[str, ...]
    pip: str
    pip_python: Path
    """The interpreter whose pip installs into the environments (``pip --python``)."""
    own: tuple[str, ...]
    """The interpreter's own files: stdlib directories, executable, libpython."""
    markers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The PEP 508 marker environment of the interpreter."""
    tags: frozenset[str] | None = None
    """The wheel tags it supports, most specific first; None when it cannot tell (neither
    ``packaging`` nor pip importable there)."""
    installed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Distributions in its site directories (name -> version)."""


# Run in the base interpreter with -I: standard library only, plus packaging (its own or pip's
# vendored copy) for the tags, as pip computes them for an environment built from it.
_HOST_FACTS = """import json, os, platform, site, sys, sysconfig
from importlib import metadata
paths = sysconfig.get_paths()
lib = os.path.join(sysconfig.get_config_var('LIBDIR') or '',
                   sysconfig.get_config_var('LDLIBRARY') or '')
impl = sys.implementation.version
impl_version = f"{impl.major}.{impl.minor}.{impl.micro}" + (
    "" if impl.releaselevel == "final" else impl.releaselevel[0] + str(impl.serial))
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": impl_version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
tags = None
for name in ("packaging.tags", "pip._vendor.packaging.tags"):
    try:
        tags = [str(t) for t in __import__(name, fromlist=["sys_tags"]).sys_tags()]
        break
    except Exception:
        pass
sites = [p for p in site.getsitepackages() if p]
installed = {}
for dist in metadata.distributions(path=sites):
    name = dist.metadata["Name"]
    if name:
        installed.setdefault(name, dist.version)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"version": platform.python_version(), "site": sites,
               "own": [paths["stdlib"], paths["platstdlib"], sys.executable, lib],
               "markers": markers, "tags": tags, "installed": installed}, out)
"""


def probe_host(python: Path, env: Mapping[str, str], workdir: Path) -> Host:
    """Facts about the base interpreter, read with ``-I`` so that neither PYTHONPATH nor the
    user site of this process leaks into what the environments will see."""
    facts = workdir / "host.json"
    step = run_step("host", [str(python), "-I", "-c", _HOST_FACTS, str(facts)], env=env,
                    timeout=120)
    info = read_json(facts)
    if step.status != "ok" or "version" not in info:
        raise SmokeError(f"cannot run the base interpreter {python}: {step.output.strip()}")
    pip_python, pip = _find_pip((python, Path(sys.executable)), env)
    site_dirs = tuple(os.path.realpath(p) for p in info["site"] if Path(p).is_dir())
    own = tuple(os.path.realpath(p) for p in info["own"] if p and Path(p).exists())
    tags = info.get("tags")
    return Host(python=python, version=str(info["version"]), site_dirs=site_dirs,
                pip=pip, pip_python=pip_python, own=own,
                markers=MappingProxyType(dict(info.get("markers") or {})),
                tags=frozenset(tags) if isinstance(tags, list) else None,
                installed=MappingProxyType(dict(info.get("installed") or {})))


def _find_pip(candidates: Sequence[Path], env: Mapping[str, str]) -> tuple[Path, str]:
    """An interpreter whose pip can install into other interpreters (``--python``, pip 22.3
    and later): the base interpreter's own, else the one running wheelguard."""
    problems: list[str] = []
    for python in dict.fromkeys(candidates):
        step = run_step("pip", [str(python), "-m", "pip", "--version"], env=env, timeout=120)
        match = re.match(r"pip (\d+)\.(\d+)", step.output.strip())
        if step.status != "ok" or match is None:
            problems.append(f"{python}: no pip")
        elif (int(match.group(1)), int(match.group(2))) < (22, 3):
            problems.append(f"{python}: pip {match.group(1)}.{match.group(2)} is older than 22.3")
        else:
            return python, step.output.strip()
    raise SmokeError("no pip that can install into a fresh environment (" +
                     "; ".join(problems) + ")")


@dataclass(slots=True)
class Env:
    """A fresh venv and the directories its layout adds."""

    prefix: Path
    python: Path
    site: Path
    base: Path | None = None
    target: Path | None = None


@dataclass(slots=True)
class Resolution:
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


@dataclass(slots=True)
class Installed:
    """What installing one layout left: the environment (None when it could not be created),
    every step so far, the paths to report and the variables the probe needs."""

    env: Env | None
    steps: list[Step]
    paths: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.env is not None and all(s.status == "ok" for s in self.steps)


class Environments:
    """Builds the environments of one run under ``workdir``; holds the one shared resolution."""

    def __init__(self, host: Host, wheelhouses: Sequence[Path], *, workdir: Path,
                 env: Mapping[str, str], host_packages: bool,
                 log: Callable[[str], None]) -> None:
        self.host = host
        self.wheelhouses = tuple(wheelhouses)
        self.workdir = workdir
        self.env = dict(env)
        self.host_packages = host_packages
        self.log = log
        self.resolution: Resolution | None = None

    def _pip(self, env: Env, *args: str) -> list[str]:
        finds = [arg for wh in self.wheelhouses for arg in ("--find-links", str(wh))]
        return [str(self.host.pip_python), "-m", "pip", "--python", str(env.python), "install",
                "--no-index", "--only-binary=:all:", "--no-compile", *finds, *args]

    def _run_pip(self, name: str, env: Env, *args: str) -> Step:
        return run_step(name, self._pip(env, *args), env=self.env, timeout=_PIP_TIMEOUT_S)

    def create(self, where: str) -> tuple[Env | None, Step]:
        """A new venv at ``workdir/<where>/env``, and the step that made it."""
        prefix = self.workdir / where / "env"
        step = run_step("create", [str(self.host.python), "-m", "venv", "--without-pip",
                                   str(prefix)], env=self.env, timeout=300)
        if step.status != "ok":
            return None, step
        python = prefix / "bin" / "python"
        purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        where_site = run_step("create", [str(python), "-I", "-c", purelib], env=self.env,
                              timeout=120)
        if where_site.status != "ok":
            return None, replace(where_site, duration_s=step.duration_s + where_site.duration_s)
        site = Path(where_site.output.strip().splitlines()[-1])
        return Env(prefix=prefix, python=python, site=site), step

    def _layer(self, env: Env, dirs: Sequence[str]) -> None:
        """Make ``dirs`` site directories of ``env``, after its own site-packages."""
        if not dirs:
            return
        lines = [f"import site; site.addsitedir({d!r})" for d in dirs]
        (env.site / _LAYERS_PTH).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _host_layer(self) -> list[str]:
        return list(self.host.site_dirs) if self.host_packages else []

    def resolve(self, wheel: Path, name: NormalizedName) -> Resolution:
        """What pip would install besides the wheel, seen from an environment like the others
        (fresh, plus the host's packages when those are visible). Resolved once per run."""
        if self.resolution is not None:
            return self.resolution
        self.log("resolving dependencies (pip --dry-run)")
        env, step = self.create("resolve")
        if env is None:
            self.resolution = Resolution(replace(step, name="resolve"))
            return self.resolution
        self._layer(env, self._host_layer())
        report = self.workdir / "resolve" / "report.json"
        step = self._run_pip("resolve", env, "--dry-run", "--quiet", "--report", str(report),
                             str(wheel))
        resolution = Resolution(step)
        if step.status == "ok":
            data = read_json(report)
            for item in data.get("install", []):
                meta = item.get("metadata", {})
                dep = str(meta.get("name", ""))
                if canonicalize_name(dep) == name:
                    continue
                url = str(item.get("download_info", {}).get("url", ""))
                path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
                resolution.dependencies.append((dep, str(meta.get("version", "")), path))
        self.resolution = resolution
        return resolution

    def install(self, layout: Layout, wheel: Path, name: NormalizedName, *,
                where: str | None = None) -> Installed:
        """Create the environment of ``layout`` under ``workdir/<where>`` (default: the
        layout's name) and install ``wheel`` into it."""
        where = where or layout
        self.log(f"{where}: creating the environment")
        env, create = self.create(where)
        done = Installed(env=env, steps=[create])
        if env is None:
            return done
        done.paths.update(prefix=str(env.prefix), site_packages=str(env.site))
        if layout == "venv":
            self._layer(env, self._host_layer())
            self.log(f"{where}: pip install")
            done.steps.append(self._run_pip("install", env, str(wheel)))
            return done
        resolution = self.resolve(wheel, name)
        done.steps.append(resolution.step)
        if resolution.step.status != "ok":
            return done
        deps = [str(f) for _n, _v, f in resolution.dependencies]
        if layout == "system-site-packages":
            env.base = self.workdir / where / "base"
            env.base.mkdir(parents=True)
            done.paths["base"] = str(env.base)
            if deps:
                self.log(f"{where}: pip install --target BASE (dependencies)")
                done.steps.append(self._run_pip("install-deps", env, "--no-deps", "--target",
                                                str(env.base), *deps))
            self._layer(env, [str(env.base), *self._host_layer()])
            self.log(f"{where}: pip install --no-deps (the wheel)")
            done.steps.append(self._run_pip("install", env, "--no-deps", str(wheel)))
        else:
            env.target = self.workdir / where / "target"
            done.paths["target"] = str(env.target)
            self._layer(env, self._host_layer())
            self.log(f"{where}: pip install --target DIR")
            done.steps.append(self._run_pip("install", env, "--no-deps", "--target",
                                            str(env.target), str(wheel), *deps))
            done.extra_env["PYTHONPATH"] = str(env.target)
        return done

    def places(self, env: Env) -> tuple[tuple[str, str], ...]:
        """Where a path of this environment's process may lie, most specific first, for
        :func:`wheelguard.smoke.judge.origin`."""
        found: list[tuple[str, Path | str | None]] = [
            ("target", env.target), ("base", env.base), ("env", env.prefix),
            ("cache", self.workdir), *(("host", d) for d in self.host.site_dirs),
            *(("python", d) for d in self.host.own),
        ]
        return tuple((name, os.path.realpath(place)) for name, place in found
                     if place is not None)
