// Sparse ternary GEMM, AVX2: as the AVX-512 kernel with four int16 ymm per 64 pixels (bytes
// zero-extended), widened into the int32 output once per block (|block sum| <= 128 * 255).
// Reference: tsparse_gemm_64x1__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemm_64x1__avx2(const uint8_t* at, const int32_t* offset, const SparseRows& w,
                             size_t row0, size_t row1, size_t b0, size_t b1, int32_t* c,
                             size_t ldc) {
  for (size_t r = row0; r < row1; ++r) {
    int32_t* out = c + (r - row0) * ldc;
    const uint8_t* h = w.header(r, b0);
    for (size_t b = b0; b < b1; ++b) {
      const int32_t* block = offset + b * kSparseBlock;
      const size_t npos = h[0], nneg = h[1];
      const uint8_t* off = h + 2;
      __m256i s[4];
      for (int i = 0; i < 4; ++i) s[i] = _mm256_setzero_si256();
      for (size_t e = 0; e < npos; ++e) {
        const __m128i* src = reinterpret_cast<const __m128i*>(at + block[off[e]]);
        for (int i = 0; i < 4; ++i) s[i] = _mm256_add_epi16(s[i], _mm256_cvtepu8_epi16(_mm_loadu_si128(src + i)));
      }
      for (size_t e = npos; e < npos + nneg; ++e) {
        const __m128i* src = reinterpret_cast<const __m128i*>(at + block[off[e]]);
        for (int i = 0; i < 4; ++i) s[i] = _mm256_sub_epi16(s[i], _mm256_cvtepu8_epi16(_mm_loadu_si128(src + i)));
      }
      h = off + npos + nneg;
      if (npos + nneg == 0) continue;
      for (int i = 0; i < 4; ++i) {
        __m256i* dst = reinterpret_cast<__m256i*>(out + 16 * i);
        const __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[i]));
        const __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[i], 1));
        _mm256_storeu_si256(dst, _mm256_add_epi32(_mm256_loadu_si256(dst), lo));
        _mm256_storeu_si256(dst + 1, _mm256_add_epi32(_mm256_loadu_si256(dst + 1), hi));
      }
    }
  }
}

}  // namespace stern::kernels
