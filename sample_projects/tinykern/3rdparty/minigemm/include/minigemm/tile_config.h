/*
 * minigemm tile configuration.
 *
 * Both the ahead-of-time library (libtinykern.so) and tinykern's run-time JIT read this file:
 * the JIT parses the #defines from Python and compiles generated code against it, which is why
 * the installed wheel must keep `tinykern/3rdparty/minigemm/include/` (and only that part of the
 * vendored tree).
 */
#ifndef MINIGEMM_TILE_CONFIG_H_
#define MINIGEMM_TILE_CONFIG_H_

/* Edge of the square shared-memory tile of the CUDA kernel (threads per block = TILE^2). */
#define MINIGEMM_CUDA_TILE 16

/* Cache blocking of the CPU kernel, in elements. */
#define MINIGEMM_CPU_BLOCK_M 32
#define MINIGEMM_CPU_BLOCK_N 256
#define MINIGEMM_CPU_BLOCK_K 64

#endif /* MINIGEMM_TILE_CONFIG_H_ */
