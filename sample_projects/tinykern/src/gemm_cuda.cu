/*
 * CUDA entry point of tinykern, kept free of tvm-ffi headers so nvcc compiles only the kernel
 * and a plain C launcher; argument checking and error reporting live in tinykern.cc.
 */
#include <cuda_runtime.h>
#include <minigemm/gemm_cuda.cuh>

#include <cstdint>

extern "C" __attribute__((visibility("hidden"))) int tinykern_cuda_gemm_f16_f32acc(
    const void* a, const void* b, float* c, int64_t m, int64_t n, int64_t k, int device_id,
    void* stream, const char** error) {
  int previous = -1;
  cudaError_t status = cudaGetDevice(&previous);
  if (status == cudaSuccess && previous != device_id) status = cudaSetDevice(device_id);
  if (status == cudaSuccess) {
    status = minigemm::launch_gemm_f16_f32acc(static_cast<const __half*>(a),
                                              static_cast<const __half*>(b), c, m, n, k,
                                              static_cast<cudaStream_t>(stream));
  }
  if (previous >= 0 && previous != device_id) cudaSetDevice(previous);
  if (status != cudaSuccess) {
    *error = cudaGetErrorString(status);
    return -1;
  }
  return 0;
}
