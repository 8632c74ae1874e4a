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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = ["DRIVERS", "DRIVER_FILES", "GEMM_CHOICES", "Driver", "driver_dir"]


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
            "tilelang.compile of the classic tiled fp16 GEMM (128x128x64, 3 stages, T.gemm) "
            "vs torch.matmul, 4096^3 and 8192^3, float64 reference",
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
