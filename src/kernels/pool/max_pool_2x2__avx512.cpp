// 2x2 max pooling at stride 2, AVX-512: 16 outputs per step, each input row's 32 floats in two
// masked loads split into even and odd columns by two VPERMT2PS, then four MAXPS in the
// window's order (MAXPS(v, m) = m < v ? v : m). Reference: max_pool_2x2__scalar.cpp.
#include <immintrin.h>

#include <limits>

#include "kernels/igemm.h"

namespace stern::kernels {

void max_pool_2x2__avx512(const float* x, size_t rows, size_t cols, size_t ldx, float* y, size_t ldy) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < rows; ++i) {
    const float* r0 = x + 2 * i * ldx;
    const float* r1 = r0 + ldx;
    for (size_t j = 0; j < cols; j += 16) {
      const size_t n = std::min<size_t>(16, cols - j);
      const __mmask16 lo = __mmask16((1u << std::min<size_t>(16, 2 * n)) - 1);
      const __mmask16 hi = __mmask16(2 * n > 16 ? (1u << (2 * n - 16)) - 1 : 0);
      __m512 m = lowest;
      for (const float* r : {r0, r1}) {
        const __m512 a = _mm512_maskz_loadu_ps(lo, r + 2 * j), b = _mm512_maskz_loadu_ps(hi, r + 2 * j + 16);
        m = _mm512_max_ps(_mm512_permutex2var_ps(a, even, b), m);
        m = _mm512_max_ps(_mm512_permutex2var_ps(a, odd, b), m);
      }
      _mm512_mask_storeu_ps(y + i * ldy + j, __mmask16((1u << n) - 1), m);
    }
  }
}

}  // namespace stern::kernels
