// Sparse ternary GEMM, AVX2: as the AVX-512 kernel with 16 pixels per ymm (bytes
// zero-extended to int16, widened into int32 sums once per chunk of 128 entries); Q = 2 ymm
// for a tile of at most 32 lanes, 4 otherwise. Reference: tsparse_gemm_64x1__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

template <size_t Q>
void rows(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1, size_t g, int32_t* c,
          size_t ldc) {
  for (size_t seg = 0; seg < w.segments; ++seg) {
    for (size_t r = row0; r < row1; ++r) {
      __m256i sum[2 * Q];
      for (auto& s : sum) s = _mm256_setzero_si256();
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        __m256i s[Q];
        for (auto& v : s) v = _mm256_setzero_si256();
        for (size_t e = 0; e < npos; ++e) {
          const __m128i* src = reinterpret_cast<const __m128i*>(at + off[e]);
          for (size_t q = 0; q < Q; ++q) s[q] = _mm256_add_epi16(s[q], _mm256_cvtepu8_epi16(_mm_loadu_si128(src + q)));
        }
        for (size_t e = npos; e < n; ++e) {
          const __m128i* src = reinterpret_cast<const __m128i*>(at + off[e]);
          for (size_t q = 0; q < Q; ++q) s[q] = _mm256_sub_epi16(s[q], _mm256_cvtepu8_epi16(_mm_loadu_si128(src + q)));
        }
        for (size_t q = 0; q < Q; ++q) {
          sum[2 * q] = _mm256_add_epi32(sum[2 * q], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[q])));
          sum[2 * q + 1] = _mm256_add_epi32(sum[2 * q + 1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[q], 1)));
        }
      });
      __m256i* out = reinterpret_cast<__m256i*>(c + (r - row0) * ldc);
      for (size_t i = 0; i < 2 * Q; ++i)
        _mm256_storeu_si256(out + i, seg ? _mm256_add_epi32(sum[i], _mm256_loadu_si256(out + i)) : sum[i]);
    }
  }
}

}  // namespace

void tsparse_gemm_64x1__avx2(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                             size_t g, size_t lanes, int32_t* c, size_t ldc) {
  if (lanes <= 32)
    rows<2>(at, w, row0, row1, g, c, ldc);
  else
    rows<4>(at, w, row0, row1, g, c, ldc);
}

}  // namespace stern::kernels
