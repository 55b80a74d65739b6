// AVX-512 micro-kernel, 8 x 32 tile: 16 zmm accumulators (enough independent FMA chains to
// hide the FMA latency on two ports), 2 B loads per k step, A broadcast from memory.
// Reference: f32_gemm_4x8__scalar.cpp.
#include <immintrin.h>

#include "kernels/f32_gemm/f32_gemm.h"

namespace stern::f32gemm {

void ukernel_8x32__avx512(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                          size_t ldc, const TileArgs& args) {
  constexpr int kMr = 8;
  __m512 acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (size_t k = 0; k < kc; ++k, a += kMr, b += ldb) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    __m512 v0 = acc[i][0], v1 = acc[i][1];
    if (args.accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(row));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(row + 16));
    }
    if (args.last) {
      if (args.bias_m) {
        const __m512 bm = _mm512_set1_ps(args.bias_m[i]);
        v0 = _mm512_add_ps(v0, bm);
        v1 = _mm512_add_ps(v1, bm);
      }
      if (args.bias_n) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(args.bias_n));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(args.bias_n + 16));
      }
      if (args.relu) {
        // maskz form: GCC 12 warns that _mm512_max_ps's undefined passthrough is uninitialized.
        v0 = _mm512_maskz_max_ps(0xFFFF, v0, zero);
        v1 = _mm512_maskz_max_ps(0xFFFF, v1, zero);
      }
    }
    _mm512_storeu_ps(row, v0);
    _mm512_storeu_ps(row + 16, v1);
  }
}

}  // namespace stern::f32gemm
