// Naive reference GEMM that minigemm's own tests compare the blocked kernel against. Built only
// when minigemm is configured standalone or with MINIGEMM_BUILD_REFERENCE=ON; tinykern never
// needs it at run time, so its source and objects are junk inside an installed wheel.
#include <minigemm/gemm.h>

#include <cstdint>

namespace minigemm {

void gemm_reference_f32(const float* a, const float* b, float* c, int64_t m, int64_t n,
                        int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = static_cast<float>(acc);
    }
  }
}

}  // namespace minigemm
