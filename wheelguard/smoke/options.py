"""What one ``wheelguard smoke`` run was asked to do, resolved into a frozen value.

The CLI converts its arguments into :class:`SmokeOptions` right after parsing (the policy's
``[smoke]`` table already merged in); everything below it reads only this value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wheelguard.errors import UsageError
from wheelguard.policy.schema import SMOKE_LAYOUTS, SmokeLayout
from wheelguard.smoke.gate import MIN_ROUNDS
from wheelguard.smoke.gemm import DRIVERS, GEMM_CHOICES

__all__ = ["LAYOUTS", "STRICT_PROVIDERS", "GemmLayouts", "Layout", "SmokeOptions"]

Layout = SmokeLayout
LAYOUTS: tuple[Layout, ...] = SMOKE_LAYOUTS
GemmLayouts = Literal["first", "all"]

STRICT_PROVIDERS = frozenset({"apache-tvm-ffi"})
"""Distributions whose libraries must never be mapped from anywhere else (FIELD.md: a private
libtvm_ffi is a second runtime). Other known providers only warn: a system CUDA runtime beside
the pip one is common and usually harmless."""


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
    baseline: Path | None = None
    """The last release: compared with the candidate (``wheel``) round by round when given."""
    rounds: int = MIN_ROUNDS
    """Rounds of the baseline comparison, each one process per wheel."""
    threshold: float = 0.03
    """Slowdown (a fraction: 0.03 is 3 %) beyond which a regression fails the gate."""

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
        if self.rounds < MIN_ROUNDS:
            raise UsageError(f"--rounds must be at least {MIN_ROUNDS}: with fewer, no interval "
                             "of the median ratio reaches 90 % coverage (docs/smoke.md)")
        if self.baseline is not None and not self.gemm:
            raise UsageError("--baseline compares the drivers' workloads: name one with --gemm "
                             "(or the policy's [smoke].gemm)")
        if not 0 <= self.threshold < 1:
            raise UsageError("--threshold must be a percentage from 0 to 100")
