// Explicit instantiation of the tiled kernel for minigemm's standalone CUDA build.
#include <minigemm/gemm_cuda.cuh>

namespace minigemm {
template __global__ void gemm_f16_f32acc_tiled<MINIGEMM_CUDA_TILE>(const __half*, const __half*,
                                                                    float*, int64_t, int64_t,
                                                                    int64_t);
}  // namespace minigemm
