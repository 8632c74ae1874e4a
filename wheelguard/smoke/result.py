"""What a smoke run found, as frozen values, and their JSON (``schemas/smoke-v2.json``).

A failed check is a result, not an exception: every value here can describe a run that went
wrong, down to a setup step that never started. The JSON shape never changes within a schema
version (fields may be added, none removed or retyped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from wheelguard import __version__
from wheelguard.smoke.gate import Comparison
from wheelguard.smoke.gemm import DRIVERS
from wheelguard.smoke.options import Layout, SmokeOptions
from wheelguard.smoke.wheelhouse import Missing
from wheelguard.util.plain import plain

__all__ = [
    "SCHEMA_VERSION",
    "Check",
    "LayoutResult",
    "MappedLibrary",
    "SmokeResult",
    "Status",
    "Step",
]

SCHEMA_VERSION = 2
"""Version 2 added ``comparison`` (the baseline gate), ``missing_dependencies``, the options
``baseline``, ``rounds`` and ``threshold``, and ``summary.baseline``; version-1 documents keep
their own schema (``schemas/smoke-v1.json``)."""

Status = Literal["passed", "failed", "skipped"]


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
    missing: tuple[Missing, ...] = ()
    """Dependencies neither the wheelhouses nor the host provide (nothing was installed)."""
    comparison: Comparison | None = None

    @property
    def gpu_status(self) -> Literal["passed", "failed", "skipped", "not-run"]:
        """The GPU verdict over every layout: any failure fails it; only a real pass passes."""
        statuses = [s for lay in self.layouts for s in gpu_statuses(lay.gemm)]
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
        c = self.comparison
        if c is not None and (c.failing or (self.options.require_gpu and c.status == "skipped")):
            out.append(f"baseline {c.baseline.get('filename')}: {c.status}: {c.message}")
        return tuple(out)

    @property
    def baseline_status(self) -> str:
        """The gate's status, or ``not-run`` without a baseline."""
        return self.comparison.status if self.comparison is not None else "not-run"

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
                "baseline": str(o.baseline) if o.baseline is not None else None,
                "rounds": o.rounds,
                "threshold": o.threshold,
            },
            "host": plain(self.host),
            "resolution": plain(self.resolution) if self.resolution is not None else None,
            "missing_dependencies": [m.to_json() for m in self.missing],
            "layouts": [lay.to_json() for lay in self.layouts],
            "comparison": self.comparison.to_json() if self.comparison is not None else None,
            "warnings": list(self.warnings),
            "summary": {
                "status": self.status,
                "gpu": self.gpu_status,
                "baseline": self.baseline_status,
                "layouts": {lay.layout: lay.status for lay in self.layouts},
                "failures": list(self.failures),
            },
        }


def gpu_statuses(gemm: Sequence[Mapping[str, Any]]) -> list[str]:
    """The status of every GPU case the drivers reported (a driver that broke before it could
    describe its cases counts as one failed GPU case when its point is the GPU)."""
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
