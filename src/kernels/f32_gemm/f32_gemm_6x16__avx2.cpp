// AVX2 + FMA micro-kernel, 6 x 16 tile: 12 ymm accumulators, 2 B loads and 1 broadcast per
// k step fit the 16 ymm registers. Reference: f32_gemm_4x8__scalar.cpp.
#include <immintrin.h>

#include "kernels/f32_gemm/f32_gemm.h"

namespace stern::f32gemm {

void ukernel_6x16__avx2(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                        size_t ldc, const TileArgs& args) {
  constexpr int kMr = 6;
  __m256 acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; ++k, a += kMr, b += ldb) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int i = 0; i < kMr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    __m256 v0 = acc[i][0], v1 = acc[i][1];
    if (args.accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(row));
      v1 = _mm256_add_ps(v1, _mm256_loadu_ps(row + 8));
    }
    if (args.last) {
      if (args.bias_m) {
        const __m256 bm = _mm256_broadcast_ss(args.bias_m + i);
        v0 = _mm256_add_ps(v0, bm);
        v1 = _mm256_add_ps(v1, bm);
      }
      if (args.bias_n) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(args.bias_n));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(args.bias_n + 8));
      }
      if (args.relu) {
        v0 = _mm256_max_ps(v0, zero);
        v1 = _mm256_max_ps(v1, zero);
      }
    }
    _mm256_storeu_ps(row, v0);
    _mm256_storeu_ps(row + 8, v1);
  }
}

}  // namespace stern::f32gemm
