"""Sample-project GEMM driver: tinykern (``sample_projects/tinykern``) as installed.

Three cases, each judged against a float64 product:

- ``cpu-aot``: ``tinykern.gemm`` (the library built into the wheel) on a non-square float32
  problem, timed against ``numpy.matmul``; always runs.
- ``cpu-jit``: ``tinykern.jit.compile_gemm`` compiles a kernel at run time against the headers
  the wheel installs (what TVM-style compilers do); skipped without a C++ compiler.
- ``cuda``: ``tinykern.gemm_cuda`` (fp16 in, fp32 accumulate and out) timed against
  ``torch.matmul``; skipped, never passed, without torch, a CUDA device or a CUDA-built wheel.

Standalone (see ``wheelguard/gemm/__init__.py``): numpy, torch and tinykern are imported at
run time. The host points ``TINYKERN_CACHE_DIR`` at an empty directory.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from typing import Any

from ._common import (
    aggregate,
    case_skeleton,
    cpu_times_ms,
    cuda_device,
    cuda_times_ms,
    judge,
    optional_module,
    record_error,
    summarise_times,
    tflops,
)

__all__ = ["run"]

CPU_SHAPE = (384, 320, 256)
CPU_TOLERANCE = 1e-4
CUDA_SIZE = 4096
CUDA_TOLERANCE = 1e-2


def _rel_error(np: Any, out: Any, a: Any, b: Any) -> float:
    ref = a.astype(np.float64) @ b.astype(np.float64)
    return float(np.linalg.norm(np.asarray(out, dtype=np.float64) - ref) / np.linalg.norm(ref))


def _cpu_aot(np: Any, tinykern: Any, shape: tuple[int, int, int], *, warmup: int,
             iterations: int) -> dict[str, Any]:
    m, n, k = shape
    case = case_skeleton("cpu", "cpu-aot", shape, "float32")
    try:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        judge(case, _rel_error(np, tinykern.gemm(a, b), a, b), CPU_TOLERANCE)
        times = cpu_times_ms(lambda: tinykern.gemm(a, b), warmup=warmup, iterations=iterations)
        ref: dict[str, Any] = dict(
            summarise_times(cpu_times_ms(lambda: a @ b, warmup=warmup, iterations=iterations))
        )
        case.update(summarise_times(times), warmup=warmup, iterations=iterations)
        case["tflops"] = tflops(m, n, k, case["time_ms"])
        ref["tflops"] = tflops(m, n, k, ref["time_ms"])
        case["reference"] = {"name": "numpy.matmul", **ref}
        if case["tflops"] and ref["tflops"]:
            case["ratio"] = case["tflops"] / ref["tflops"]
    except Exception as e:
        record_error(case, e)
    return case


def _cpu_jit(np: Any, tinykern: Any, shape: tuple[int, int, int], cache: str
             ) -> dict[str, Any]:
    m, n, k = shape
    case = case_skeleton("cpu", "cpu-jit", shape, "float32")
    case["cache"] = cache
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    jit = getattr(tinykern, "jit", None)
    if jit is None or not hasattr(jit, "compile_gemm"):
        case.update(status="skipped", reason="this tinykern has no jit.compile_gemm")
        return case
    if not compiler:
        case.update(status="skipped", reason="no C++ compiler (CXX, c++ or g++)")
        return case
    try:
        started = time.perf_counter()
        gemm = jit.compile_gemm(m, n, k)
        case["compile_s"] = round(time.perf_counter() - started, 3)
        rng = np.random.default_rng(1)
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        judge(case, _rel_error(np, gemm(a, b), a, b), CPU_TOLERANCE)
    except Exception as e:
        record_error(case, e)
    return case


def _cuda(torch: Any, tinykern: Any, size: int, *, warmup: int, iterations: int) -> dict[str, Any]:
    case = case_skeleton("cuda", "cuda", (size, size, size), "float16")
    try:
        gen = torch.Generator(device="cuda")
        gen.manual_seed(0)
        a = torch.randn(size, size, device="cuda", dtype=torch.float16, generator=gen)
        b = torch.randn(size, size, device="cuda", dtype=torch.float16, generator=gen)
        out = tinykern.gemm_cuda(a, b)
        exact = torch.matmul(a.double(), b.double())
        error = float(((out.double() - exact).norm() / exact.norm()).item())
        del exact, out
        judge(case, error, CUDA_TOLERANCE)
        times = cuda_times_ms(torch, lambda: tinykern.gemm_cuda(a, b), warmup=warmup,
                              iterations=iterations)
        ref_times = cuda_times_ms(torch, lambda: torch.matmul(a, b), warmup=warmup,
                                  iterations=iterations)
        case.update(summarise_times(times), warmup=warmup, iterations=iterations)
        case["tflops"] = tflops(size, size, size, case["time_ms"])
        ref_summary = summarise_times(ref_times)
        ref_tflops = tflops(size, size, size, ref_summary["time_ms"])
        case["reference"] = {
            "name": "torch.matmul (cuBLAS, fp16 out)", **ref_summary, "tflops": ref_tflops,
        }
        case["ratio"] = case["tflops"] / ref_tflops if case["tflops"] and ref_tflops else None
    except Exception as e:
        record_error(case, e)
    finally:
        torch.cuda.empty_cache()
    return case


def _cuda_skip_reason(torch: Any, tinykern: Any) -> str | None:
    if torch is None:
        return "torch is not importable in this environment"
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    built = getattr(tinykern, "built_with_cuda", None)
    if built is None or not built():
        return "this tinykern wheel was built without CUDA"
    return None


def run(options: dict[str, Any]) -> dict[str, Any]:
    warmup = int(options.get("warmup", 10))
    iterations = int(options.get("iterations", 50))
    cpu_iterations = max(3, min(iterations, int(options.get("cpu_iterations", 10))))
    size = int((options.get("sizes") or [CUDA_SIZE])[0])
    np = importlib.import_module("numpy")
    tinykern = importlib.import_module("tinykern")
    result: dict[str, Any] = {
        "name": "sample",
        "mode": options.get("mode", "benchmark"),
        "device": None,
        "versions": {"tinykern": str(getattr(tinykern, "__version__", "?")),
                     "numpy": str(np.__version__)},
        "cache_dir": os.environ.get("TINYKERN_CACHE_DIR"),
        "reason": None,
    }
    cases = [
        _cpu_aot(np, tinykern, CPU_SHAPE, warmup=min(warmup, 2), iterations=cpu_iterations),
        _cpu_jit(np, tinykern, CPU_SHAPE, str(options.get("cache") or "unknown")),
    ]
    skipped = case_skeleton("cuda", "cuda", (size, size, size), "float16")
    try:
        torch = optional_module("torch")
        skip = _cuda_skip_reason(torch, tinykern)
    except Exception as e:  # torch installed but broken: a GPU failure, not a skip
        record_error(skipped, e)
        cases.append(skipped)
    else:
        if skip is not None:
            skipped.update(status="skipped", reason=skip)
            cases.append(skipped)
        else:
            assert torch is not None  # _cuda_skip_reason said so
            result["device"] = cuda_device(torch)
            result["versions"]["torch"] = str(torch.__version__)
            cases.append(_cuda(torch, tinykern, size, warmup=warmup, iterations=iterations))
    result["cases"] = cases
    result["status"] = aggregate(cases)
    return result
