/*
 * minigemm CUDA kernel: C(fp32) = A(fp16) * B(fp16), fp32 accumulation, square shared-memory
 * tiles of MINIGEMM_CUDA_TILE. Row-major, contiguous operands.
 */
#ifndef MINIGEMM_GEMM_CUDA_CUH_
#define MINIGEMM_GEMM_CUDA_CUH_

#include <cuda_fp16.h>
#include <minigemm/tile_config.h>

#include <cstdint>

namespace minigemm {

template <int kTile>
__global__ void gemm_f16_f32acc_tiled(const __half* __restrict__ a, const __half* __restrict__ b,
                                      float* __restrict__ c, int64_t m, int64_t n, int64_t k) {
  __shared__ __half a_tile[kTile][kTile];
  __shared__ __half b_tile[kTile][kTile + 1];  // +1: avoid bank conflicts on the column read
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const int64_t row = static_cast<int64_t>(blockIdx.y) * kTile + ty;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += kTile) {
    const int64_t ak = k0 + tx;
    const int64_t bk = k0 + ty;
    a_tile[ty][tx] = (row < m && ak < k) ? a[row * k + ak] : __float2half(0.0f);
    b_tile[ty][tx] = (bk < k && col < n) ? b[bk * n + col] : __float2half(0.0f);
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kTile; ++p) {
      acc += __half2float(a_tile[ty][p]) * __half2float(b_tile[p][tx]);
    }
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

/*! \brief Launch on `stream`; returns the launch status. */
inline cudaError_t launch_gemm_f16_f32acc(const __half* a, const __half* b, float* c, int64_t m,
                                          int64_t n, int64_t k, cudaStream_t stream) {
  constexpr int kTile = MINIGEMM_CUDA_TILE;
  const dim3 block(kTile, kTile);
  const dim3 grid(static_cast<unsigned>((n + kTile - 1) / kTile),
                  static_cast<unsigned>((m + kTile - 1) / kTile));
  gemm_f16_f32acc_tiled<kTile><<<grid, block, 0, stream>>>(a, b, c, m, n, k);
  return cudaGetLastError();
}

}  // namespace minigemm

#endif  // MINIGEMM_GEMM_CUDA_CUH_
