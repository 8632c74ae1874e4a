"""tilelang GEMM driver: the classic tiled fp16 GEMM compiled by the wheel under test.

The kernel is the one tilelang's own documentation opens with: 128x128 output tiles, a
64-wide K step, a 3-stage software pipeline, ``T.gemm`` on shared-memory tiles into an fp32
fragment, 128 threads. It is compiled with ``tilelang.compile`` (so the wheel's TVM, its
CUTLASS/CuTe headers and its ``tl_templates`` are exercised, together with nvcc), run on
``M = N = K`` problems (4096 and 8192 by default), checked against a float64 product computed
on the GPU, and timed against ``torch.matmul`` (cuBLAS) in the same process.

Standalone (see ``wheelguard/gemm/__init__.py``): torch and tilelang are imported at run
time. The host sets ``TILELANG_CACHE_DIR`` to an empty directory so that the kernel is
compiled by this install rather than loaded from an earlier one, and unsets every ``TL_*`` and
``TVM_*`` path override so that the wheel's own files are used.
"""

# The kernel below is TileLang script: its parameter annotations are tilelang calls, which
# tilelang evaluates and mypy cannot read as types. (No `from __future__ import annotations`
# here either: tilelang evaluates the annotations with the closure it captures.)
# mypy: disable-error-code="valid-type,misc,no-untyped-def,untyped-decorator"

import importlib
import os
import shutil
import time
from typing import Any

from ._common import (
    aggregate,
    case_skeleton,
    cuda_device,
    cuda_times_ms,
    is_empty_dir,
    judge,
    optional_module,
    record_error,
    summarise_times,
    tflops,
)

__all__ = ["DEFAULT_SIZES", "run", "tiled_gemm"]

DEFAULT_SIZES = (4096, 8192)
DEFAULT_TOLERANCE = 1e-2
TILE = {"block_M": 128, "block_N": 128, "block_K": 64, "num_stages": 3, "threads": 128}
"""The tile configuration, reported with each case (it is also tiled_gemm's default)."""


def tiled_gemm(
    T: Any,
    M: int,
    N: int,
    K: int,
    *,
    block_M: int = 128,
    block_N: int = 128,
    block_K: int = 64,
    num_stages: int = 3,
    threads: int = 128,
    dtype: str = "float16",
    accum_dtype: str = "float32",
) -> Any:
    """The TileLang prim_func for ``C = A @ B`` (A: MxK, B: KxN, row-major, fp16 in and out)."""

    @T.prim_func
    def main(
        A: T.Tensor((M, K), dtype),
        B: T.Tensor((K, N), dtype),
        C: T.Tensor((M, N), dtype),
    ):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_shared = T.alloc_shared((block_M, block_K), dtype)
            B_shared = T.alloc_shared((block_K, block_N), dtype)
            C_local = T.alloc_fragment((block_M, block_N), accum_dtype)
            T.clear(C_local)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, k * block_K], A_shared)
                T.copy(B[k * block_K, bx * block_N], B_shared)
                T.gemm(A_shared, B_shared, C_local)
            T.copy(C_local, C[by * block_M, bx * block_N])

    return main


def _case(
    torch: Any, tilelang: Any, T: Any, size: int, *, warmup: int, iterations: int,
    tolerance: float, seed: int,
) -> dict[str, Any]:
    case = case_skeleton("cuda", "tilelang", (size, size, size), "float16")
    case.update(warmup=warmup, iterations=iterations, tile=dict(TILE))
    try:
        func = tiled_gemm(T, size, size, size)
        started = time.perf_counter()
        kernel = tilelang.compile(func, out_idx=[2])
        case["compile_s"] = round(time.perf_counter() - started, 3)

        gen = torch.Generator(device="cuda")
        gen.manual_seed(seed)
        a = torch.randn(size, size, device="cuda", dtype=torch.float16, generator=gen)
        b = torch.randn(size, size, device="cuda", dtype=torch.float16, generator=gen)
        c = kernel(a, b)
        c_ref = torch.matmul(a, b)
        ref = torch.matmul(a.double(), b.double())
        norm = ref.norm()
        error = float(((c.double() - ref).norm() / norm).item())
        reference_error = float(((c_ref.double() - ref).norm() / norm).item())
        del ref, c, c_ref, norm

        times = cuda_times_ms(torch, lambda: kernel(a, b), warmup=warmup, iterations=iterations)
        ref_times = cuda_times_ms(
            torch, lambda: torch.matmul(a, b), warmup=warmup, iterations=iterations
        )
        case.update(summarise_times(times))
        case["tflops"] = tflops(size, size, size, case["time_ms"])
        ref_summary = summarise_times(ref_times)
        ref_tflops = tflops(size, size, size, ref_summary["time_ms"])
        case["reference"] = {
            "name": "torch.matmul (cuBLAS)",
            **ref_summary,
            "tflops": ref_tflops,
            "rel_error": reference_error,
        }
        case["ratio"] = case["tflops"] / ref_tflops if case["tflops"] and ref_tflops else None
        judge(case, error, tolerance, note=f" (torch.matmul: {reference_error:.3g})")
    except Exception as e:
        record_error(case, e)
    finally:
        torch.cuda.empty_cache()
    return case


def run(options: dict[str, Any]) -> dict[str, Any]:
    sizes = [int(s) for s in options.get("sizes") or DEFAULT_SIZES]
    warmup = int(options.get("warmup", 10))
    iterations = int(options.get("iterations", 50))
    tolerance = float(options.get("tolerance", DEFAULT_TOLERANCE))
    seed = int(options.get("seed", 0))
    cache_dir = os.environ.get("TILELANG_CACHE_DIR")
    result: dict[str, Any] = {
        "name": "tilelang",
        "mode": options.get("mode", "benchmark"),
        "device": None,
        "versions": {},
        "cache_dir": cache_dir,
        "cache_was_empty": is_empty_dir(cache_dir) if cache_dir else None,
        "reason": None,
    }
    cases: list[dict[str, Any]] = []
    torch = optional_module("torch")
    skip = None
    if torch is None:
        skip = "torch is not importable in this environment (tilelang needs it for CUDA tensors)"
    elif not torch.cuda.is_available():
        skip = "no CUDA device visible to torch"
    if skip is not None:
        for size in sizes:
            case = case_skeleton("cuda", "tilelang", (size, size, size), "float16")
            case.update(status="skipped", reason=skip)
            cases.append(case)
        result.update(status="skipped", reason=skip, cases=cases)
        return result

    assert torch is not None
    tilelang = importlib.import_module("tilelang")
    T = importlib.import_module("tilelang.language")
    result["device"] = cuda_device(torch)
    result["versions"] = {
        "tilelang": str(getattr(tilelang, "__version__", "?")),
        "torch": str(torch.__version__),
        "nvcc": shutil.which("nvcc"),
    }
    for size in sizes:
        cases.append(
            _case(torch, tilelang, T, size, warmup=warmup, iterations=iterations,
                  tolerance=tolerance, seed=seed)
        )
    result["cases"] = cases
    result["status"] = aggregate(cases)
    return result
