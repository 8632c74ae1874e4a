"""``wheelguard smoke``: install a wheel into fresh environments and watch what the process maps.

An audit reads the archive; a smoke run finds what only shows once the wheel is installed and
imported: a sibling RUNPATH that resolves in one install layout and not in another, a second
copy of a runtime mapped beside the provider's, a kernel compiler that cannot find its headers.

The flow, one module per step:

1. :mod:`~wheelguard.smoke.environments` builds a fresh environment per requested layout from
   one base interpreter and installs offline from local wheelhouses;
2. :mod:`~wheelguard.smoke.process` runs the probe (:mod:`wheelguard.smoke.probe`, a standalone
   script) inside it: it imports the package, runs the GEMM drivers
   (:mod:`wheelguard.smoke.gemm`) and reports every native library mapped in the process with
   the distribution whose RECORD lists it;
3. :mod:`~wheelguard.smoke.judge` turns the report into checks;
4. :mod:`~wheelguard.smoke.result` holds the frozen result and its JSON.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from wheelguard.errors import SmokeError, UsageError
from wheelguard.knowledge.providers import known_providers
from wheelguard.model import Wheel
from wheelguard.reading.scan import scan_wheel
from wheelguard.smoke.environments import Environments, Host, Installed, probe_host
from wheelguard.smoke.gemm import DRIVERS
from wheelguard.smoke.judge import (
    import_names,
    judge_layout,
    loader_log_libraries,
    setup_failed,
)
from wheelguard.smoke.options import Layout, SmokeOptions
from wheelguard.smoke.process import (
    DRIVER_PACKAGE,
    LOADER_LOG,
    child_environment,
    copy_probe,
    run_probe,
)
from wheelguard.smoke.result import LayoutResult, SmokeResult
from wheelguard.util.fs import file_sha256

__all__ = ["run_smoke"]

_LOADER_VARIABLES = ("LD_LIBRARY_PATH", "LD_PRELOAD")


class _Runner:
    """Holds one run's settings and scratch directory; one method per layout."""

    def __init__(self, options: SmokeOptions, wheel: Wheel, host: Host, *, workdir: Path,
                 environ: Mapping[str, str], log: Callable[[str], None]) -> None:
        self.o = options
        self.wheel = wheel
        self.workdir = workdir
        self.log = log
        self.env, self.dropped = child_environment(environ)
        self.environments = Environments(host, options.wheelhouses, workdir=workdir,
                                         env=self.env, host_packages=options.host_packages,
                                         log=log)
        self.probe_dir = copy_probe(workdir)
        self.providers = known_providers()

    def run_layout(self, layout: Layout, *, gemm_mode: str | None) -> LayoutResult:
        installed = self.environments.install(layout, self.o.wheel, self.wheel.name)
        if not installed.ok:
            return setup_failed(layout, installed.steps, installed.paths)
        return self._probe(layout, installed, gemm_mode=gemm_mode)

    def _probe(self, layout: Layout, installed: Installed, *,
               gemm_mode: str | None) -> LayoutResult:
        env = installed.env
        assert env is not None  # installed.ok
        run_dir = self.workdir / layout / "run"
        cache = self.workdir / layout / "cache"
        for sub in ("tilelang", "tinykern", "xdg"):
            (cache / sub).mkdir(parents=True, exist_ok=True)
        extra_env = {
            **installed.extra_env,
            "TILELANG_CACHE_DIR": str(cache / "tilelang"),
            "TINYKERN_CACHE_DIR": str(cache / "tinykern"),
            "XDG_CACHE_HOME": str(cache / "xdg"),
            # The dynamic loader logs each object it initialises, as it happens: the record
            # of what was mapped when a second runtime aborts the process in its initialiser.
            "LD_DEBUG": "files",
            "LD_DEBUG_OUTPUT": str(run_dir / LOADER_LOG),
        }
        paths = {**installed.paths, "cache": str(cache)}
        request = {
            "imports": list(self.o.imports or import_names(self.wheel)),
            "driver_dir": str(self.probe_dir / DRIVER_PACKAGE),
            "drivers": [self._driver_request(name, gemm_mode) for name in self.o.gemm]
            if gemm_mode else [],
        }
        self.log(f"{layout}: probing (imports{', GEMM ' + gemm_mode if gemm_mode else ''})")
        ran = run_probe(env.python, self.probe_dir, run_dir, request,
                        env={**self.env, **extra_env}, timeout=self.o.timeout_s)
        data: Mapping[str, Any] = ran.data
        if ran.step.status != "ok" and ran.step.pid is not None:
            log = run_dir / f"{LOADER_LOG}.{ran.step.pid}"
            with contextlib.suppress(OSError):
                data = {**data, "libraries": loader_log_libraries(
                    log.read_text(encoding="utf-8", errors="replace"),
                    data.get("libraries", ()), data.get("native_files", {}))}
        return judge_layout(
            layout, wheel=(self.wheel.name, self.wheel.version),
            places=self.environments.places(env), steps=[*installed.steps, ran.step],
            paths=paths, request=request, data=data, probe=ran.step,
            providers=self.providers, strict_providers=self.o.strict_providers,
        )

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
    host = probe_host(python, host_env)
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
        resolution = runner.environments.resolution
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
        resolution=resolution.to_json() if resolution is not None else None,
        layouts=tuple(results),
        started=started_at,
        duration_s=time.monotonic() - started,
        warnings=tuple(warnings),
    )
