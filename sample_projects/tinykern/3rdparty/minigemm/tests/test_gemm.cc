// minigemm self-test: blocked kernel vs. naive reference.
#include <minigemm/gemm.h>

#include <cmath>
#include <cstdio>
#include <vector>

namespace minigemm {
void gemm_reference_f32(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k);
}

int main() {
  const int64_t m = 37, n = 53, k = 71;
  std::vector<float> a(m * k), b(k * n), c(m * n), r(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7) % 13) - 6.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5) % 11) - 5.0f;
  minigemm::gemm_blocked(a.data(), b.data(), c.data(), m, n, k);
  minigemm::gemm_reference_f32(a.data(), b.data(), r.data(), m, n, k);
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::fabs(c[i] - r[i]) > 1e-3f) {
      std::printf("mismatch at %zu: %f vs %f\n", i, c[i], r[i]);
      return 1;
    }
  }
  std::puts("ok");
  return 0;
}
