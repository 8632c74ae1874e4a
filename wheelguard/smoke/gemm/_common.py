"""Measuring and judging a GEMM, shared by the drivers (standard library only: see __init__).

Numbers follow one recipe everywhere so that a kernel and its reference are comparable:
warm-up calls first, then each call timed on its own (CUDA events on the GPU, the monotonic
clock on the CPU) and the median reported; errors are Frobenius-norm relative errors against a
float64 reference, never a max-abs difference that scales with the problem.
"""

from __future__ import annotations

import importlib
import math
import os
import statistics
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "aggregate",
    "case_skeleton",
    "cpu_times_ms",
    "cuda_device",
    "cuda_times_ms",
    "is_empty_dir",
    "judge",
    "optional_module",
    "record_error",
    "summarise_times",
    "tflops",
    "tflops_of",
]

# torch.cuda._sleep spins the GPU for this many cycles (about 20 ms at 2 GHz) before timed
# launches, so the host queues them all ahead of the device and launch latency is not timed.
_QUEUE_AHEAD_CYCLES = 40_000_000


def optional_module(name: str) -> ModuleType | None:
    """The module, or None when it (or something it needs) is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def tflops(m: int, n: int, k: int, ms: float | None) -> float | None:
    """A GEMM's rate: 2*M*N*K floating-point operations per call."""
    return tflops_of(2.0 * m * n * k, ms)


def tflops_of(flops: float, ms: float | None) -> float | None:
    if not ms or ms <= 0:
        return None
    return flops / (ms * 1e-3) / 1e12


def summarise_times(times_ms: Sequence[float]) -> dict[str, float]:
    return {
        "time_ms": statistics.median(times_ms),
        "time_ms_min": min(times_ms),
        "time_ms_max": max(times_ms),
    }


def cpu_times_ms(fn: Callable[[], object], *, warmup: int, iterations: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def cuda_times_ms(
    torch: Any, fn: Callable[[], object], *, warmup: int, iterations: int
) -> list[float]:
    """Per-call device times from CUDA events recorded around each call on one stream."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    sleep = getattr(torch.cuda, "_sleep", None)
    if sleep is not None:
        sleep(_QUEUE_AHEAD_CYCLES)
    for start, end in zip(starts, ends, strict=True):
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [float(s.elapsed_time(e)) for s, e in zip(starts, ends, strict=True)]


def cuda_device(torch: Any) -> dict[str, Any]:
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    return {
        "name": str(props.name),
        "capability": f"{props.major}.{props.minor}",
        "multiprocessors": int(props.multi_processor_count),
        "memory_bytes": int(props.total_memory),
        "torch": str(torch.__version__),
        "torch_cuda": str(getattr(torch.version, "cuda", None)),
    }


def case_skeleton(
    target: str, label: str, shape: tuple[int, int, int], dtype: str
) -> dict[str, Any]:
    m, n, k = shape
    return {
        "target": target,
        "label": label,
        "m": m,
        "n": n,
        "k": k,
        "dtype": dtype,
        "status": "error",
        "reason": None,
    }


def aggregate(cases: Sequence[dict[str, Any]]) -> str:
    """A driver fails if any case failed or broke, passes if any passed, else was skipped.

    A skipped case never turns into a pass: a machine without a GPU reports the GPU cases
    as skipped, and a driver whose every case was skipped is skipped.
    """
    statuses = {c.get("status") for c in cases}
    if statuses & {"failed", "error"}:
        return "failed"
    if "passed" in statuses:
        return "passed"
    return "skipped"


def record_error(case: dict[str, Any], exc: BaseException) -> None:
    """Mark a case as broken (not failed: it never produced a number to judge)."""
    case["status"] = "error"
    case["reason"] = f"{type(exc).__name__}: {exc}"[:2000]
    case["error"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]


def is_empty_dir(path: str) -> bool:
    """True for a missing or empty directory: the state a fresh kernel cache starts in."""
    if not Path(path).is_dir():
        return True
    with os.scandir(path) as entries:
        return next(entries, None) is None


def judge(case: dict[str, Any], error: float, tolerance: float, *, note: str = "") -> None:
    """Pass or fail a case on its relative error; NaN or infinity fails (and is not written
    as a number: JSON has none for it)."""
    case["tolerance"] = tolerance
    if not math.isfinite(error):
        case.update(rel_error=None, status="failed", reason=f"the result holds NaN or Inf{note}")
        return
    case["rel_error"] = error
    if error <= tolerance:
        case["status"] = "passed"
    else:
        case.update(status="failed",
                    reason=f"relative error {error:.3g} exceeds {tolerance:g}{note}")
