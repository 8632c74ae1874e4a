/*
 * minigemm CPU kernel: C = A * B for row-major, contiguous A (M x K), B (K x N), C (M x N).
 *
 * Header-only on purpose: tinykern compiles it ahead of time into libtinykern.so and its JIT
 * compiles it again at run time against the copy installed in the wheel.
 */
#ifndef MINIGEMM_GEMM_H_
#define MINIGEMM_GEMM_H_

#include <minigemm/tile_config.h>

#include <algorithm>
#include <cstdint>

namespace minigemm {

/*!
 * \brief Cache-blocked i-k-j GEMM.
 * \param on_block_row Called once per finished block of rows; returns false to abort (used to
 *        poll for Ctrl-C in long calls). Returns false if aborted.
 */
template <typename T, typename Acc, typename Poll>
inline bool gemm_blocked(const T* a, const T* b, Acc* c, int64_t m, int64_t n, int64_t k,
                         Poll&& on_block_row) {
  std::fill(c, c + m * n, Acc(0));
  for (int64_t i0 = 0; i0 < m; i0 += MINIGEMM_CPU_BLOCK_M) {
    const int64_t i1 = std::min<int64_t>(i0 + MINIGEMM_CPU_BLOCK_M, m);
    for (int64_t k0 = 0; k0 < k; k0 += MINIGEMM_CPU_BLOCK_K) {
      const int64_t k1 = std::min<int64_t>(k0 + MINIGEMM_CPU_BLOCK_K, k);
      for (int64_t j0 = 0; j0 < n; j0 += MINIGEMM_CPU_BLOCK_N) {
        const int64_t j1 = std::min<int64_t>(j0 + MINIGEMM_CPU_BLOCK_N, n);
        for (int64_t i = i0; i < i1; ++i) {
          Acc* crow = c + i * n;
          for (int64_t p = k0; p < k1; ++p) {
            const Acc aip = static_cast<Acc>(a[i * k + p]);
            const T* brow = b + p * n;
            for (int64_t j = j0; j < j1; ++j) crow[j] += aip * static_cast<Acc>(brow[j]);
          }
        }
      }
    }
    if (!on_block_row()) return false;
  }
  return true;
}

template <typename T, typename Acc>
inline void gemm_blocked(const T* a, const T* b, Acc* c, int64_t m, int64_t n, int64_t k) {
  gemm_blocked(a, b, c, m, n, k, [] { return true; });
}

}  // namespace minigemm

#endif  // MINIGEMM_GEMM_H_
