"""tinykern: GEMM kernels behind the tvm-ffi C ABI (a wheelguard sample project).

The import order below *is* the loading strategy tvm-ffi recommends: ``import tvm_ffi`` maps
``libtvm_ffi.so`` globally before ``libtinykern.so`` is opened, so the dynamic loader satisfies
our ``NEEDED libtvm_ffi.so`` by SONAME and the library needs no RPATH into another distribution.
"""

from __future__ import annotations

# isort: off
import tvm_ffi  # first of all: maps libtvm_ffi.so globally (see the module docstring)

# isort: on
import ctypes
from pathlib import Path
from typing import Any

import numpy as np

__version__ = "0.1.0"
__all__ = ["LIB_DIR", "build_info", "built_with_cuda", "gemm", "gemm_cuda", "jit"]

LIB_DIR = Path(__file__).resolve().parent / "lib"


def _load_private_runtimes() -> list[ctypes.CDLL]:
    """Load any copy of libtvm_ffi shipped inside tinykern/lib, by path.

    The clean wheel ships none, so this is a no-op there. A wheel that bundles one (what
    auditwheel grafting produces, sample defect "bundle-ffi") gets it mapped as a *second* copy
    beside apache-tvm-ffi's: dlopen of a path compares files, not SONAMEs. Kept as the field code
    does it, so that the defect is real at run time and not only in the archive listing.
    """
    return [
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        for path in sorted(LIB_DIR.glob("libtvm_ffi*.so*"))
    ]


_PRIVATE_RUNTIMES = _load_private_runtimes()
_MODULE = tvm_ffi.load_module(str(LIB_DIR / "libtinykern.so"))

from . import jit  # noqa: E402  (after the library: jit shares its tvm_ffi setup)


def built_with_cuda() -> bool:
    """Whether this wheel carries the CUDA GEMM (TINYKERN_ENABLE_CUDA at build time)."""
    return bool(_MODULE.built_with_cuda())


def build_info() -> str:
    """One line naming the tvm-ffi headers and CUDA targets the library was built with."""
    return str(_MODULE.build_info())


def _as_operand(array: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    # DLPack cannot export read-only numpy arrays, hence "W" (a copy only when needed).
    return np.require(array, dtype=dtype, requirements=["C", "W"])


def gemm(a: Any, b: Any, out: np.ndarray[Any, Any] | None = None) -> np.ndarray[Any, Any]:
    """Return ``a @ b`` computed by libtinykern on the CPU (float32, or float64 if either is).

    Arrays cross into C++ through DLPack as tvm-ffi tensors; ``out``, when given, must be a
    C-contiguous array of the result dtype and shape and is filled in place.
    """
    a_np = np.asarray(a)
    b_np = np.asarray(b)
    if a_np.ndim != 2 or b_np.ndim != 2:
        msg = f"gemm takes 2-D operands, got {a_np.ndim}-D and {b_np.ndim}-D"
        raise ValueError(msg)
    dtype = np.result_type(a_np.dtype, b_np.dtype, np.float32)
    if dtype != np.float64:
        dtype = np.dtype(np.float32)
    a_np, b_np = _as_operand(a_np, dtype), _as_operand(b_np, dtype)
    if out is None:
        out = np.empty((a_np.shape[0], b_np.shape[1]), dtype=dtype)
    _MODULE.gemm(tvm_ffi.from_dlpack(a_np), tvm_ffi.from_dlpack(b_np), tvm_ffi.from_dlpack(out))
    return out


def gemm_cuda(a: Any, b: Any, out: Any = None) -> Any:
    """Return ``a @ b`` for float16 CUDA tensors (e.g. torch), accumulated and returned in fp32.

    Any DLPack-capable tensors work; tvm-ffi passes the caller's current CUDA stream (torch's)
    to the kernel. Without ``out`` a torch tensor is allocated, so torch must be installed.
    """
    if not built_with_cuda():
        msg = "tinykern was built without CUDA (TINYKERN_ENABLE_CUDA=OFF or no nvcc)"
        raise RuntimeError(msg)
    if out is None:
        import torch  # type: ignore[import-not-found, unused-ignore]

        out = torch.empty((a.shape[0], b.shape[1]), dtype=torch.float32, device=a.device)
    _MODULE.gemm_cuda(a, b, out)
    return out
