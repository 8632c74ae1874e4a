"""tilelang workload suite: kernels from tilelang's own documentation, compiled by the wheel.

One GEMM is one kernel; a compiler release can break bf16 while fp16 still works, or a fused
kernel's reductions while plain GEMMs pass. So the suite exercises the compiler on:

- ``gemm-fp16``, ``gemm-bf16``: the classic tiled GEMM tilelang's documentation opens with
  (128x128 output tiles, a 64-wide K step, a 3-stage ``T.Pipelined`` loop, ``T.gemm`` on
  shared-memory tiles into an fp32 fragment, 128 threads), output in the input type;
- ``gemm-fp8``: the same kernel on ``float8_e4m3fn`` operands with B stored N x K and
  ``transpose_B=True``, as in ``examples/gemm_fp8/example_tilelang_gemm_fp8.py``, written out
  in fp32 (only where the GPU has fp8 tensor cores: compute capability 8.9 and later);
- ``attention-fwd``: the flash-attention forward of
  ``examples/flash_attention/example_mha_fwd_bhsd.py`` (online softmax with ``T.reduce_max``,
  ``T.reduce_sum`` and ``T.exp2``, two ``T.gemm`` per K/V block, fast math on), non-causal,
  with the configuration that example benchmarks (128x128 blocks, 2 stages, 256 threads).

Each case is compiled with ``tilelang.compile`` (the wheel's TVM, its CUTLASS/CuTe headers and
``tl_templates``, with nvcc), checked against a reference in float64 (GEMMs) or float32
(attention) computed on the GPU, and timed against torch's own kernel for the same operation in
the same process. Compile time (``compile_s``: wall time of ``tilelang.compile``) is recorded
apart from run time, with ``cache`` saying whether the kernel cache was fresh (``cold``: a real
compile) or held this wheel's kernels from an earlier process (``warm``: a cache load). The
host says which, since it made the directory: ``import tilelang`` already writes into it, so an
empty-directory test in here cannot tell.

Modes: ``benchmark`` runs the suite with the GEMMs at every size (4096 and 8192 by default);
``gate`` (the baseline comparison) at the first size only; ``check`` (the later layouts) only
``gemm-fp16`` at the first size.

Standalone (see ``wheelguard/smoke/gemm/__init__.py``): torch and tilelang are imported at run
time. The host points ``TILELANG_CACHE_DIR`` at a directory of this run so that kernels are
compiled by this install rather than loaded from another one, and unsets every ``TL_*`` and
``TVM_*`` path override so that the wheel's own files are used.
"""

# The kernels below are TileLang script: their parameter annotations are tilelang calls, which
# tilelang evaluates and mypy cannot read as types. (No `from __future__ import annotations`
# here either: tilelang evaluates the annotations with the closure it captures.)
# mypy: disable-error-code="valid-type,misc,no-untyped-def,untyped-decorator,operator"

import importlib
import os
import shutil
import time
from collections.abc import Callable
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
    tflops_of,
)

__all__ = ["ATTENTION", "DEFAULT_SIZES", "WORKLOADS", "flash_attention", "run", "tiled_gemm"]

DEFAULT_SIZES = (4096, 8192)
WORKLOADS = ("gemm-fp16", "gemm-bf16", "gemm-fp8", "attention-fwd")
TILE = {"block_M": 128, "block_N": 128, "block_K": 64, "num_stages": 3, "threads": 128}
"""The GEMM tile configuration, reported with each case (it is also tiled_gemm's default)."""
ATTENTION = {"batch": 4, "heads": 16, "seq_len": 2048, "dim": 64}
ATTENTION_TILE = {"block_M": 128, "block_N": 128, "num_stages": 2, "threads": 256}
_GEMM_DTYPES = {"gemm-fp16": "float16", "gemm-bf16": "bfloat16", "gemm-fp8": "float8_e4m3fn"}
# Relative Frobenius error against the high-precision reference. fp16 rounds the output to
# 11 bits (~5e-4 per element), bf16 to 8 bits (~4e-3); fp8 operands are compared with a product
# of the same fp8 values, so only accumulation counts (Hopper's fp8 MMA accumulates in reduced
# precision). Attention rounds P to fp16 before the second product.
TOLERANCE = {"float16": 1e-2, "bfloat16": 2e-2, "float8_e4m3fn": 2e-2, "attention": 1e-2}


def tiled_gemm(
    T: Any, M: int, N: int, K: int, *, block_M: int = 128, block_N: int = 128,
    block_K: int = 64, num_stages: int = 3, threads: int = 128, dtype: str = "float16",
    accum_dtype: str = "float32", out_dtype: str | None = None, transpose_B: bool = False,
) -> Any:
    """The TileLang prim_func for ``C = A @ B`` (A: MxK row-major; B: KxN, or NxK with
    ``transpose_B``; C in ``out_dtype``, default the input type)."""
    out = out_dtype or dtype
    b_shape = (N, K) if transpose_B else (K, N)
    b_tile = (block_N, block_K) if transpose_B else (block_K, block_N)

    @T.prim_func
    def main(
        A: T.Tensor((M, K), dtype),
        B: T.Tensor(b_shape, dtype),
        C: T.Tensor((M, N), out),
    ):
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=threads) as (bx, by):
            A_shared = T.alloc_shared((block_M, block_K), dtype)
            B_shared = T.alloc_shared(b_tile, dtype)
            C_local = T.alloc_fragment((block_M, block_N), accum_dtype)
            T.clear(C_local)
            for k in T.Pipelined(T.ceildiv(K, block_K), num_stages=num_stages):
                T.copy(A[by * block_M, k * block_K], A_shared)
                if transpose_B:
                    T.copy(B[bx * block_N, k * block_K], B_shared)
                else:
                    T.copy(B[k * block_K, bx * block_N], B_shared)
                T.gemm(A_shared, B_shared, C_local, transpose_B=transpose_B)
            T.copy(C_local, C[by * block_M, bx * block_N])

    return main


def flash_attention(
    T: Any, *, batch: int, heads: int, seq_q: int, seq_kv: int, dim: int,
    is_causal: bool = False, block_M: int = 128, block_N: int = 128, num_stages: int = 2,
    threads: int = 256, dtype: str = "float16", accum_dtype: str = "float32",
) -> Any:
    """The prim_func of tilelang's ``example_mha_fwd_bhsd.py`` (``flashattn``), unchanged but
    for string dtypes: Q, K, V and Output are ``[batch, heads, seq, dim]``."""
    scale = (1.0 / dim) ** 0.5 * 1.44269504  # log2(e)
    q_shape = [batch, heads, seq_q, dim]
    kv_shape = [batch, heads, seq_kv, dim]
    past_len = seq_kv - seq_q

    @T.prim_func
    def main(
        Q: T.Tensor(q_shape, dtype),
        K: T.Tensor(kv_shape, dtype),
        V: T.Tensor(kv_shape, dtype),
        Output: T.Tensor(q_shape, dtype),
    ):
        with T.Kernel(T.ceildiv(seq_q, block_M), heads, batch, threads=threads) as (bx, by, bz):
            Q_shared = T.alloc_shared([block_M, dim], dtype)
            K_shared = T.alloc_shared([block_N, dim], dtype)
            V_shared = T.alloc_shared([block_N, dim], dtype)
            O_shared = T.alloc_shared([block_M, dim], dtype)
            acc_s = T.alloc_fragment([block_M, block_N], accum_dtype)
            acc_s_cast = T.alloc_fragment([block_M, block_N], dtype)
            acc_o = T.alloc_fragment([block_M, dim], accum_dtype)
            scores_max = T.alloc_fragment([block_M], accum_dtype)
            scores_max_prev = T.alloc_fragment([block_M], accum_dtype)
            scores_scale = T.alloc_fragment([block_M], accum_dtype)
            scores_sum = T.alloc_fragment([block_M], accum_dtype)
            logsum = T.alloc_fragment([block_M], accum_dtype)

            T.copy(Q[bz, by, bx * block_M : (bx + 1) * block_M, :], Q_shared)
            T.fill(acc_o, 0)
            T.fill(logsum, 0)
            T.fill(scores_max, -T.infinity(accum_dtype))

            loop_range = (
                T.min(T.ceildiv(seq_kv, block_N),
                      T.ceildiv((bx + 1) * block_M + past_len, block_N))
                if is_causal
                else T.ceildiv(seq_kv, block_N)
            )

            for k in T.Pipelined(loop_range, num_stages=num_stages):
                T.copy(K[bz, by, k * block_N : (k + 1) * block_N, :], K_shared)
                if is_causal:
                    for i, j in T.Parallel(block_M, block_N):
                        q_idx = bx * block_M + i + past_len
                        k_idx = k * block_N + j
                        acc_s[i, j] = T.if_then_else(q_idx >= k_idx, 0, -T.infinity(acc_s.dtype))
                else:
                    for i, j in T.Parallel(block_M, block_N):
                        acc_s[i, j] = T.if_then_else(k * block_N + j >= seq_kv,
                                                     -T.infinity(acc_s.dtype), 0)
                T.gemm(Q_shared, K_shared, acc_s, transpose_B=True,
                       policy=T.GemmWarpPolicy.FullRow)

                T.copy(scores_max, scores_max_prev)
                T.fill(scores_max, -T.infinity(accum_dtype))
                T.reduce_max(acc_s, scores_max, dim=1, clear=False)
                for i in T.Parallel(block_M):
                    scores_max[i] = T.max(scores_max[i], scores_max_prev[i])
                for i in T.Parallel(block_M):
                    scores_scale[i] = T.exp2(scores_max_prev[i] * scale - scores_max[i] * scale)
                for i, j in T.Parallel(block_M, block_N):
                    acc_s[i, j] = T.exp2(acc_s[i, j] * scale - scores_max[i] * scale)
                T.reduce_sum(acc_s, scores_sum, dim=1)
                for i in T.Parallel(block_M):
                    logsum[i] = logsum[i] * scores_scale[i] + scores_sum[i]
                T.copy(acc_s, acc_s_cast)

                for i, j in T.Parallel(block_M, dim):
                    acc_o[i, j] *= scores_scale[i]

                T.copy(V[bz, by, k * block_N : (k + 1) * block_N, :], V_shared)
                T.gemm(acc_s_cast, V_shared, acc_o, policy=T.GemmWarpPolicy.FullRow)

            for i, j in T.Parallel(block_M, dim):
                acc_o[i, j] /= logsum[i]
            T.copy(acc_o, O_shared)
            T.copy(O_shared, Output[bz, by, bx * block_M : (bx + 1) * block_M, :])

    return main


def _rel_error(out: Any, ref: Any) -> float:
    return float(((out.double() - ref).norm() / ref.norm()).item())


def _timed(torch: Any, case: dict[str, Any], *, kernel: Callable[[], object],
           reference: Callable[[], object], reference_name: str, flops: float,
           warmup: int, iterations: int) -> None:
    """Time the kernel and torch's kernel for the same operation, one after the other."""
    times = cuda_times_ms(torch, kernel, warmup=warmup, iterations=iterations)
    ref_times = cuda_times_ms(torch, reference, warmup=warmup, iterations=iterations)
    case.update(summarise_times(times), flops=flops)
    case["tflops"] = tflops_of(flops, case["time_ms"])
    ref_summary = summarise_times(ref_times)
    ref_tflops = tflops_of(flops, ref_summary["time_ms"])
    case["reference"] = {**case.get("reference", {}), "name": reference_name, **ref_summary,
                         "tflops": ref_tflops}
    case["ratio"] = case["tflops"] / ref_tflops if case["tflops"] and ref_tflops else None


def _compile(tilelang: Any, case: dict[str, Any], func: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    kernel = tilelang.compile(func, **kwargs)
    case["compile_s"] = round(time.perf_counter() - started, 3)
    return kernel


def _fp8_reference(torch: Any, a: Any, b: Any) -> tuple[str, Callable[[], object]]:
    """torch's fp8 GEMM (``torch._scaled_mm``, unit scales, fp32 out) if this torch and GPU
    run it, else the fp16 GEMM of the same shape: the in-process yardstick either way."""
    one = torch.ones((), device="cuda", dtype=torch.float32)
    for out_dtype in (torch.float32, torch.bfloat16):
        try:
            def call(out_dtype: Any = out_dtype) -> object:
                out = torch._scaled_mm(a, b.t(), scale_a=one, scale_b=one, out_dtype=out_dtype)
                return out[0] if isinstance(out, tuple) else out  # torch < 2.5: (out, amax)
            call()
            return f"torch._scaled_mm (fp8, {str(out_dtype).rsplit('.', 1)[-1]} out)", call
        except Exception:
            continue
    a16, b16 = a.half(), b.half().t().contiguous()
    return "torch.matmul (fp16: no fp8 GEMM in this torch)", lambda: torch.matmul(a16, b16)


def _gemm_case(torch: Any, tilelang: Any, T: Any, label: str, size: int, *, warmup: int,
               iterations: int, seed: int, cache: str) -> dict[str, Any]:
    dtype = _GEMM_DTYPES[label]
    fp8 = dtype == "float8_e4m3fn"
    case = case_skeleton("cuda", label, (size, size, size), dtype)
    case.update(warmup=warmup, iterations=iterations, tile=dict(TILE), cache=cache,
                tolerance=TOLERANCE[dtype])
    try:
        if fp8 and not _has_fp8(torch):
            case.update(status="skipped", reason="this GPU has no fp8 tensor cores (needs "
                        "compute capability 8.9 or later) or this torch no float8_e4m3fn")
            return case
        out_dtype = "float32" if fp8 else dtype
        func = tiled_gemm(T, size, size, size, dtype=dtype, out_dtype=out_dtype,
                          transpose_B=fp8)
        kernel = _compile(tilelang, case, func, out_idx=[2])
        gen = torch.Generator(device="cuda")
        gen.manual_seed(seed)
        if fp8:
            a = torch.randn(size, size, device="cuda", generator=gen).to(torch.float8_e4m3fn)
            b = torch.randn(size, size, device="cuda", generator=gen).to(torch.float8_e4m3fn)
            exact = torch.matmul(a.double(), b.double().t())
            name, reference = _fp8_reference(torch, a, b)
        else:
            torch_dtype = getattr(torch, dtype)
            a = torch.randn(size, size, device="cuda", dtype=torch_dtype, generator=gen)
            b = torch.randn(size, size, device="cuda", dtype=torch_dtype, generator=gen)
            exact = torch.matmul(a.double(), b.double())
            name, reference = f"torch.matmul ({dtype})", lambda: torch.matmul(a, b)
        error = _rel_error(kernel(a, b), exact)
        reference_error = _rel_error(reference(), exact)
        del exact
        case["reference"] = {"name": name, "rel_error": reference_error}
        _timed(torch, case, kernel=lambda: kernel(a, b), reference=reference,
               reference_name=name, flops=2.0 * size ** 3, warmup=warmup,
               iterations=iterations)
        judge(case, error, TOLERANCE[dtype], note=f" (torch: {reference_error:.3g})")
    except Exception as e:
        record_error(case, e)
    finally:
        torch.cuda.empty_cache()
    return case


def _attention_case(torch: Any, tilelang: Any, T: Any, *, warmup: int, iterations: int,
                    seed: int, cache: str) -> dict[str, Any]:
    b, h, s, d = (ATTENTION[k] for k in ("batch", "heads", "seq_len", "dim"))
    case = case_skeleton("cuda", "attention-fwd", (s, s, d), "float16")
    case.update(warmup=warmup, iterations=iterations, tile=dict(ATTENTION_TILE), cache=cache,
                shape={"batch": b, "heads": h, "seq_q": s, "seq_kv": s, "dim": d},
                tolerance=TOLERANCE["attention"])
    try:
        tile = ATTENTION_TILE
        func = flash_attention(T, batch=b, heads=h, seq_q=s, seq_kv=s, dim=d,
                               block_M=tile["block_M"], block_N=tile["block_N"],
                               num_stages=tile["num_stages"], threads=tile["threads"])
        kernel = _compile(tilelang, case, func, out_idx=[3], pass_configs={
            tilelang.PassConfigKey.TL_ENABLE_FAST_MATH: True})
        gen = torch.Generator(device="cuda")
        gen.manual_seed(seed)
        q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.float16, generator=gen)
                   for _ in range(3))
        scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * (d ** -0.5)
        exact = torch.matmul(torch.softmax(scores, dim=-1), v.float()).double()
        del scores
        sdpa = torch.nn.functional.scaled_dot_product_attention
        error = _rel_error(kernel(q, k, v), exact)
        reference_error = _rel_error(sdpa(q, k, v), exact)
        del exact
        case["reference"] = {"rel_error": reference_error}
        _timed(torch, case, kernel=lambda: kernel(q, k, v), reference=lambda: sdpa(q, k, v),
               reference_name="torch scaled_dot_product_attention",
               flops=4.0 * b * h * s * s * d, warmup=warmup, iterations=iterations)
        judge(case, error, TOLERANCE["attention"], note=f" (torch: {reference_error:.3g})")
    except Exception as e:
        record_error(case, e)
    finally:
        torch.cuda.empty_cache()
    return case


def _has_fp8(torch: Any) -> bool:
    return (hasattr(torch, "float8_e4m3fn")
            and tuple(torch.cuda.get_device_capability()) >= (8, 9))


def _plan(options: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(workload, GEMM size) in the order they run; attention has its own shape."""
    mode = options.get("mode", "benchmark")
    sizes = [int(s) for s in options.get("sizes") or DEFAULT_SIZES]
    if mode in ("check", "gate"):
        sizes = sizes[:1]
    names = list(options.get("workloads") or (["gemm-fp16"] if mode == "check" else WORKLOADS))
    plan: list[tuple[str, int | None]] = []
    for name in names:
        if name in _GEMM_DTYPES:
            plan += [(name, size) for size in sizes]
        elif name == "attention-fwd":
            plan.append((name, None))
        else:
            raise ValueError(f"unknown tilelang workload {name!r}")
    return plan


def run(options: dict[str, Any]) -> dict[str, Any]:
    plan = _plan(options)
    warmup = int(options.get("warmup", 10))
    iterations = int(options.get("iterations", 50))
    seed = int(options.get("seed", 0))
    cache_dir = os.environ.get("TILELANG_CACHE_DIR")
    cache_was_empty = is_empty_dir(cache_dir) if cache_dir else None
    result: dict[str, Any] = {
        "name": "tilelang",
        "mode": options.get("mode", "benchmark"),
        "device": None,
        "versions": {},
        "cache_dir": cache_dir,
        "cache_was_empty": cache_was_empty,
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
        for name, size in plan:
            shape = (size, size, size) if size else (ATTENTION["seq_len"], ATTENTION["seq_len"],
                                                      ATTENTION["dim"])
            case = case_skeleton("cuda", name, shape, _GEMM_DTYPES.get(name, "float16"))
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
    cache = str(options.get("cache") or "unknown")
    for name, size in plan:
        if size is None:
            cases.append(_attention_case(torch, tilelang, T, warmup=warmup,
                                         iterations=iterations, seed=seed, cache=cache))
        else:
            cases.append(_gemm_case(torch, tilelang, T, name, size, warmup=warmup,
                                    iterations=iterations, seed=seed, cache=cache))
    result["cases"] = cases
    result["status"] = aggregate(cases)
    return result
