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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from wheelguard.errors import SmokeError, UsageError
from wheelguard.knowledge.providers import known_providers
from wheelguard.model import Wheel
from wheelguard.reading.scan import scan_wheel
from wheelguard.smoke.compare import compare
from wheelguard.smoke.environments import Environments, Host, Installed, probe_host
from wheelguard.smoke.gate import Comparison
from wheelguard.smoke.gemm import Mode, driver_request
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
from wheelguard.smoke.result import Check, LayoutResult, SmokeResult
from wheelguard.smoke.wheelhouse import Missing, missing_dependencies, pick_baseline
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

    def missing(self, wheel: Path, label: str) -> tuple[Missing, ...]:
        """Every dependency of ``wheel`` the wheelhouses and the visible host packages lack."""
        host = self.environments.host
        return missing_dependencies(
            [(wheel, label)], self.o.wheelhouses, markers=host.markers, tags=host.tags,
            installed=host.installed if self.o.host_packages else None)

    def run_layout(self, layout: Layout, *, gemm_mode: Mode | None) -> LayoutResult:
        installed = self.environments.install(layout, self.o.wheel, self.wheel.name)
        if not installed.ok:
            return setup_failed(layout, installed.steps, installed.paths)
        return self._probe(layout, installed, gemm_mode=gemm_mode)

    def _probe(self, layout: Layout, installed: Installed, *,
               gemm_mode: Mode | None) -> LayoutResult:
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
            "drivers": [driver_request(name, gemm_mode, iterations=self.o.iterations,
                                       warmup=self.o.warmup, sizes=self.o.gemm_sizes)
                        for name in self.o.gemm] if gemm_mode else [],
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
    """Run every requested layout, then the baseline comparison when a baseline is given, and
    return the result (a failed check is a result, not an exception). Raises
    :class:`SmokeError` only when no environment can be built at all."""
    say = log or (lambda _msg: None)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    for wh in options.wheelhouses:
        if not wh.is_dir():
            raise SmokeError(f"wheelhouse {wh} is not a directory")
    wheel = scan_wheel(options.wheel)
    baseline_path = options.baseline
    if baseline_path is not None and baseline_path.is_dir():
        baseline_path = pick_baseline(baseline_path, wheel.name)
    baseline = scan_wheel(baseline_path) if baseline_path is not None else None
    environ = dict(options.environ if options.environ is not None else os.environ)
    python = options.python or Path(sys.executable)
    host_env, _ = child_environment(environ)
    options = replace(options, wheel=options.wheel.resolve(),
                      wheelhouses=tuple(w.resolve() for w in options.wheelhouses),
                      baseline=baseline_path.resolve() if baseline_path is not None else None)
    warnings = [f"{name} is set ({environ[name]}): libraries may resolve through it, not "
                "through their RUNPATH" for name in _LOADER_VARIABLES if environ.get(name)]
    results: list[LayoutResult] = []
    comparison: Comparison | None = None
    with _workdir(options.workdir) as workdir:
        host = probe_host(python, host_env, workdir)
        runner = _Runner(options, wheel, host, workdir=workdir, environ=environ, log=say)
        missing = runner.missing(options.wheel, f"{wheel.name} {wheel.version}")
        if missing:
            say(f"the wheelhouses lack {len(missing)} dependencies: nothing is installed")
            results = [_missing_result(layout, missing) for layout in options.layouts]
        else:
            for i, layout in enumerate(options.layouts):
                mode: Mode | None = None
                if options.gemm:
                    if i == 0:
                        mode = "benchmark"
                    elif options.gemm_layouts == "all":
                        mode = "check"
                result = runner.run_layout(layout, gemm_mode=mode)
                say(f"{layout}: {result.status}")
                results.append(result)
        if baseline is not None and options.baseline is not None:
            label = f"{baseline.name} {baseline.version} (baseline)"
            baseline_missing = runner.missing(options.baseline, label)
            missing += baseline_missing
            comparison = _compare(runner, options, wheel, baseline,
                                  missing=missing, baseline_missing=baseline_missing, log=say)
            say(f"baseline comparison: {comparison.status}: {comparison.message}")
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
        missing=missing,
        comparison=comparison,
    )


def _missing_result(layout: Layout, missing: Sequence[Missing]) -> LayoutResult:
    """A layout that was not built because the wheelhouses lack dependencies (all listed)."""
    check = Check(id="install", status="failed", message=(
        f"the wheelhouses lack {len(missing)} dependencies: "
        + "; ".join(m.describe() for m in missing)))
    skipped = tuple(Check(id=c, status="skipped", message="not run: setup failed")
                    for c in ("import", "duplicate-soname", "provider-runtime"))
    return LayoutResult(layout=layout, steps=(), checks=(check, *skipped))


def _compare(runner: _Runner, options: SmokeOptions, wheel: Wheel, baseline: Wheel, *,
             missing: Sequence[Missing], baseline_missing: Sequence[Missing],
             log: Callable[[str], None]) -> Comparison:
    if missing:
        assert options.baseline is not None
        whose = "baseline" if len(baseline_missing) == len(missing) else "candidate"
        identity = {"path": str(options.baseline), "filename": baseline.filename,
                    "name": str(baseline.name), "version": str(baseline.version),
                    "sha256": file_sha256(options.baseline)}
        return Comparison(
            baseline=MappingProxyType(identity), rounds=options.rounds,
            threshold=options.threshold,
            status="inconclusive" if whose == "baseline" else "failed",
            message=f"not run: the wheelhouses lack dependencies of the {whose} "
            f"({'; '.join(m.describe() for m in missing)})")
    return compare(options, candidate=wheel, baseline=baseline,
                   environments=runner.environments, probe_dir=runner.probe_dir,
                   env=runner.env, log=log)
