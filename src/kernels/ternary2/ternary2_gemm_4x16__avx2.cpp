// Dense ternary GEMM for AVX2: the 64-byte block splits into two ymm halves (channels 0-7
// and 8-15); codes c in {0, 1, 2} (unsigned) times activation bytes (signed) by VPMADDUBSW.
// The four quads of a block are summed in int16 (|sum| <= 4 * 2 * 2 * 128 = 2048, no
// saturation) before one VPMADDWD widens them to int32. Reference: ternary2_gemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {
constexpr size_t kMr = 4;
}  // namespace

void ternary2_gemm_4x16__avx2(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                              const uint8_t* w, size_t panel_stride, size_t npanels,
                              int32_t* c, size_t ldc) {
  with_rows<kMr>(m, [&]<size_t MR>(std::integral_constant<size_t, MR>) {
    const uint8_t* rows[MR];
    for (size_t i = 0; i < MR; ++i) rows[i] = a + i * lda;
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (size_t p = 0; p < npanels; ++p) {
      const uint8_t* panel = w + p * panel_stride;
      __m256i acc[MR][2];
      for (size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
      for (size_t b = 0; b < kblocks; ++b) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + b * kTernary2BlockBytes));
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + b * kTernary2BlockBytes + 32));
        __m256i s[MR][2];
        for (size_t i = 0; i < MR; ++i) s[i][0] = s[i][1] = _mm256_setzero_si256();
        for (int q = 0; q < 4; ++q) {
          const __m256i c0 = _mm256_and_si256(_mm256_srli_epi16(lo, 2 * q), mask);
          const __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(hi, 2 * q), mask);
          for (size_t i = 0; i < MR; ++i) {
            const __m256i x = _mm256_set1_epi32(load4(rows[i] + b * kKBlock + 4 * q));
            s[i][0] = _mm256_add_epi16(s[i][0], _mm256_maddubs_epi16(c0, x));
            s[i][1] = _mm256_add_epi16(s[i][1], _mm256_maddubs_epi16(c1, x));
          }
        }
        for (size_t i = 0; i < MR; ++i) {
          acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s[i][0], ones));
          acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s[i][1], ones));
        }
      }
      for (size_t i = 0; i < MR; ++i) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + p * kPanel), acc[i][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + p * kPanel + 8), acc[i][1]);
      }
    }
  });
}

}  // namespace stern::kernels
