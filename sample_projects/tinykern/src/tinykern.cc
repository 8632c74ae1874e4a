/*
 * tinykern: a tiny TVM-style kernel library.
 *
 * Everything crosses the boundary through the tvm-ffi C ABI: functions are exported with
 * TVM_FFI_DLL_EXPORT_TYPED_FUNC (a `__tvm_ffi_<name>` C symbol that tvm_ffi.load_module finds),
 * arguments arrive as DLPack tensors (TensorView), and the only symbols imported from
 * libtvm_ffi.so are `TVMFFI*` C functions. No Python C-API, no mangled tvm::ffi imports: that is
 * what lets the wheel declare `apache-tvm-ffi>=0.1.12,<0.2` instead of pinning one release.
 */
#include <minigemm/gemm.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/c_env_api.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/string.h>

#include <cstdint>
#include <string>

#ifdef TINYKERN_WITH_CUDA
extern "C" int tinykern_cuda_gemm_f16_f32acc(const void* a, const void* b, float* c, int64_t m,
                                              int64_t n, int64_t k, int device_id, void* stream,
                                              const char** error);
#endif

namespace tinykern {

using tvm::ffi::TensorView;

void* DataPtr(const TensorView& t) {
  return static_cast<char*>(t.data_ptr()) + t.byte_offset();
}

bool IsFloat(DLDataType dtype, int bits) {
  return dtype.code == kDLFloat && dtype.bits == bits && dtype.lanes == 1;
}

void CheckMatrix(const TensorView& t, const char* name, DLDeviceType device) {
  if (t.ndim() != 2) {
    TVM_FFI_THROW(ValueError) << name << " must be 2-D, got " << t.ndim() << "-D";
  }
  if (!t.IsContiguous()) TVM_FFI_THROW(ValueError) << name << " must be row-major contiguous";
  if (t.device().device_type != device) {
    TVM_FFI_THROW(ValueError) << name << " is on device type " << t.device().device_type
                              << ", expected " << device;
  }
}

/*! \brief Shapes (m, n, k) of out = a @ b, after checking that they agree. */
void CheckShapes(const TensorView& a, const TensorView& b, const TensorView& out, int64_t* m,
                 int64_t* n, int64_t* k) {
  *m = a.size(0);
  *k = a.size(1);
  *n = b.size(1);
  if (b.size(0) != *k) {
    TVM_FFI_THROW(ValueError) << "inner dimensions differ: a is " << *m << "x" << *k
                              << ", b is " << b.size(0) << "x" << *n;
  }
  if (out.size(0) != *m || out.size(1) != *n) {
    TVM_FFI_THROW(ValueError) << "out must be " << *m << "x" << *n << ", got " << out.size(0)
                              << "x" << out.size(1);
  }
}

template <typename T>
void GemmCpuTyped(const TensorView& a, const TensorView& b, const TensorView& out, int64_t m,
                  int64_t n, int64_t k) {
  // Poll for Ctrl-C between row blocks: a long GEMM stays interruptible from Python.
  const bool finished = minigemm::gemm_blocked(
      static_cast<const T*>(DataPtr(a)), static_cast<const T*>(DataPtr(b)),
      static_cast<T*>(DataPtr(out)), m, n, k, [] { return TVMFFIEnvCheckSignals() == 0; });
  if (!finished) throw ::tvm::ffi::EnvErrorAlreadySet();
}

/*! \brief out = a @ b on the CPU, float32 or float64 (all three the same dtype). */
void Gemm(TensorView a, TensorView b, TensorView out) {
  CheckMatrix(a, "a", kDLCPU);
  CheckMatrix(b, "b", kDLCPU);
  CheckMatrix(out, "out", kDLCPU);
  int64_t m = 0, n = 0, k = 0;
  CheckShapes(a, b, out, &m, &n, &k);
  const DLDataType dtype = a.dtype();
  if (b.dtype() != dtype || out.dtype() != dtype) {
    TVM_FFI_THROW(TypeError) << "a, b and out must share one dtype";
  }
  if (IsFloat(dtype, 32)) {
    GemmCpuTyped<float>(a, b, out, m, n, k);
  } else if (IsFloat(dtype, 64)) {
    GemmCpuTyped<double>(a, b, out, m, n, k);
  } else {
    TVM_FFI_THROW(TypeError) << "unsupported dtype " << dtype << " (float32 or float64)";
  }
}

#ifdef TINYKERN_WITH_CUDA
/*! \brief out(fp32) = a(fp16) @ b(fp16) on one CUDA device, on the stream tvm-ffi reports. */
void GemmCuda(TensorView a, TensorView b, TensorView out) {
  CheckMatrix(a, "a", kDLCUDA);
  CheckMatrix(b, "b", kDLCUDA);
  CheckMatrix(out, "out", kDLCUDA);
  const int device_id = a.device().device_id;
  if (b.device().device_id != device_id || out.device().device_id != device_id) {
    TVM_FFI_THROW(ValueError) << "a, b and out must be on the same CUDA device";
  }
  if (!IsFloat(a.dtype(), 16) || !IsFloat(b.dtype(), 16) || !IsFloat(out.dtype(), 32)) {
    TVM_FFI_THROW(TypeError) << "gemm_cuda takes float16 a and b and a float32 out";
  }
  int64_t m = 0, n = 0, k = 0;
  CheckShapes(a, b, out, &m, &n, &k);
  // The stream the caller's framework is using (tvm-ffi sets it from torch's current stream).
  void* stream = TVMFFIEnvGetStream(kDLCUDA, device_id);
  const char* error = nullptr;
  if (tinykern_cuda_gemm_f16_f32acc(DataPtr(a), DataPtr(b), static_cast<float*>(DataPtr(out)), m,
                                    n, k, device_id, stream, &error) != 0) {
    TVM_FFI_THROW(RuntimeError) << "CUDA GEMM launch failed: " << error;
  }
}
#endif

bool BuiltWithCuda() {
#ifdef TINYKERN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

/*! \brief One line for bug reports: which tvm-ffi headers and CUDA targets this was built with. */
tvm::ffi::String BuildInfo() {
  std::string info = "tinykern " TINYKERN_VERSION "; tvm-ffi headers " +
                     std::to_string(TVM_FFI_VERSION_MAJOR) + "." +
                     std::to_string(TVM_FFI_VERSION_MINOR) + "." +
                     std::to_string(TVM_FFI_VERSION_PATCH);
#ifdef TINYKERN_WITH_CUDA
  info += "; cuda archs " TINYKERN_CUDA_ARCHS;
#else
  info += "; cpu only";
#endif
  return tvm::ffi::String(info);
}

}  // namespace tinykern

TVM_FFI_DLL_EXPORT_TYPED_FUNC(gemm, tinykern::Gemm);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(built_with_cuda, tinykern::BuiltWithCuda);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(build_info, tinykern::BuildInfo);
#ifdef TINYKERN_WITH_CUDA
TVM_FFI_DLL_EXPORT_TYPED_FUNC(gemm_cuda, tinykern::GemmCuda);
#endif
