// 2x2 max pooling at stride 2, AVX2: 8 outputs per step, each input row's 16 floats split
// into even and odd columns (SHUFPS within the 128-bit halves, then VPERMPD), then four MAXPS
// in the window's order (MAXPS(v, m) = m < v ? v : m); the last step's loads and store
// masked. Reference: max_pool_2x2__scalar.cpp.
#include <immintrin.h>

#include <limits>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

// Lanes below n set, as a VMASKMOVPS mask.
__m256i first_lanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

void max_pool_2x2__avx2(const float* x, size_t rows, size_t cols, size_t ldx, float* y, size_t ldy) {
  const __m256 lowest = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < rows; ++i) {
    const float* r0 = x + 2 * i * ldx;
    const float* r1 = r0 + ldx;
    for (size_t j = 0; j < cols; j += 8) {
      const size_t n = std::min<size_t>(8, cols - j);
      const __m256i lo = first_lanes(std::min<size_t>(8, 2 * n)), hi = first_lanes(2 * n > 8 ? 2 * n - 8 : 0);
      __m256 m = lowest;
      for (const float* r : {r0, r1}) {
        const __m256 a = _mm256_maskload_ps(r + 2 * j, lo), b = _mm256_maskload_ps(r + 2 * j + 8, hi);
        // (a0 a2 b0 b2 | a4 a6 b4 b6) -> a0 a2 a4 a6 b0 b2 b4 b6; odd columns alike.
        const auto in_order = [](__m256 v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); };
        m = _mm256_max_ps(in_order(_mm256_shuffle_ps(a, b, 0x88)), m);
        m = _mm256_max_ps(in_order(_mm256_shuffle_ps(a, b, 0xDD)), m);
      }
      _mm256_maskstore_ps(y + i * ldy + j, first_lanes(n), m);
    }
  }
}

}  // namespace stern::kernels
