// Sparse ternary GEMM, AVX-512: a row's block sum over 64 pixels stays in two int16 zmm (one
// add or subtract per entry and 32 pixels, the activation row read from L1) and is widened
// into the int32 output once per block. int16 is exact: a block has at most 128 entries of
// |q| <= 255, |sum| <= 32640. Reference: tsparse_gemm_64x1__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemm_64x1__avx512(const int16_t* at, const int32_t* offset, const SparseRows& w,
                               size_t row0, size_t row1, size_t b0, size_t b1, int32_t* c,
                               size_t ldc) {
  for (size_t r = row0; r < row1; ++r) {
    int32_t* out = c + (r - row0) * ldc;
    const uint8_t* h = w.header(r, b0);
    for (size_t b = b0; b < b1; ++b) {
      const int32_t* block = offset + b * kSparseBlock;
      const size_t npos = h[0], nneg = h[1];
      const uint8_t* off = h + 2;
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      for (size_t e = 0; e < npos; ++e) {
        const int16_t* src = at + block[off[e]];
        s0 = _mm512_add_epi16(s0, _mm512_loadu_si512(src));
        s1 = _mm512_add_epi16(s1, _mm512_loadu_si512(src + 32));
      }
      for (size_t e = npos; e < npos + nneg; ++e) {
        const int16_t* src = at + block[off[e]];
        s0 = _mm512_sub_epi16(s0, _mm512_loadu_si512(src));
        s1 = _mm512_sub_epi16(s1, _mm512_loadu_si512(src + 32));
      }
      h = off + npos + nneg;
      if (npos + nneg == 0) continue;
      const __m512i parts[4] = {
          _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s0)),
          _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s0, 1)),
          _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s1)),
          _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s1, 1))};
      for (int i = 0; i < 4; ++i)
        _mm512_storeu_si512(out + 16 * i, _mm512_add_epi32(_mm512_loadu_si512(out + 16 * i), parts[i]));
    }
  }
}

}  // namespace stern::kernels
