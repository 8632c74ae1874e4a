"""GEMM drivers that ``wheelguard smoke`` runs inside the fresh environment.

The driver modules (``tilelang_driver``, ``sample_driver`` and their shared ``_common``) are
standalone: they import only the standard library and each other, and reach the packages under
test (torch, tilelang, tinykern) through :func:`importlib.import_module` at run time. The smoke
probe copies them next to itself and imports them as a private package, because wheelguard is
not installed in the environment being tested. This ``__init__`` is the host-side registry and
is never copied.

Every driver exposes ``run(options: dict) -> dict`` returning the ``gemm`` entry described in
``docs/smoke.md`` (``schemas/smoke-v1.json``, ``$defs/gemm``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["DRIVERS", "DRIVER_FILES", "GEMM_CHOICES", "Driver", "driver_dir", "driver_request"]


@dataclass(frozen=True, slots=True)
class Driver:
    name: str
    module: str
    """Module name inside the copied driver package."""
    summary: str
    gpu: bool
    """True when the driver's point is the GPU (its CPU part, if any, is secondary)."""


DRIVERS: Mapping[str, Driver] = MappingProxyType(
    {
        "tilelang": Driver(
            "tilelang",
            "tilelang_driver",
            "tilelang.compile of a workload suite from tilelang's examples: the tiled GEMM "
            "(128x128x64, 3 stages, T.gemm) in fp16, bf16 and fp8 (sm_89+), and the "
            "flash-attention forward; each against torch's kernel and a high-precision "
            "reference",
            gpu=True,
        ),
        "sample": Driver(
            "sample",
            "sample_driver",
            "tinykern's GEMM: CPU always (AOT and run-time compiled), CUDA when present",
            gpu=False,
        ),
    }
)

GEMM_CHOICES = (*DRIVERS, "none")

DRIVER_FILES = ("_common.py", "tilelang_driver.py", "sample_driver.py")
"""Everything the probe needs from this directory (copied; ``__init__`` stays behind)."""


def driver_dir() -> Path:
    return Path(__file__).resolve().parent


Mode = Literal["benchmark", "check", "gate"]


def driver_request(name: str, mode: Mode, *, iterations: int, warmup: int,
                   sizes: Sequence[int] = (), cache: Literal["cold", "warm"] = "cold"
                   ) -> dict[str, Any]:
    """What the probe is asked to run for driver ``name``: ``benchmark`` (the first layout:
    every workload and size), ``check`` (the later layouts: the first size, at most 10 timed
    calls and 2 warm-ups) or ``gate`` (a round of the baseline comparison: every workload at
    the first size). ``cache`` tells the driver whether its kernel cache directory is fresh
    (the host made it) or holds this wheel's kernels from an earlier process."""
    options: dict[str, Any] = {"mode": mode, "iterations": iterations, "warmup": warmup,
                               "cache": cache}
    if sizes:
        options["sizes"] = list(sizes)
    if mode == "check":
        options["iterations"] = min(iterations, 10)
        options["warmup"] = min(warmup, 2)
        if sizes:
            options["sizes"] = list(sizes[:1])
        elif name == "tilelang":
            options["sizes"] = [4096]
    if mode == "gate" and sizes:
        options["sizes"] = list(sizes[:1])
    return {"name": name, "module": DRIVERS[name].module, "options": options}
