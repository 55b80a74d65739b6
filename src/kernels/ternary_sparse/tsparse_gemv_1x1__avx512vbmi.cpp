// Sparse ternary GEMV with byte permutes: a 128-column block of activations sits in two zmm,
// and VPERMI2B gathers up to 64 of them at once by the block's 7-bit offsets (read with one
// masked load straight from the row's stream, no index widening). VPSADBW then sums the
// gathered bytes of the +1 and the -1 entries into 64-bit lanes, reduced once per row.
// Weight traffic is one byte per non-zero plus two per row and block.
// Reference: tsparse_gemv_1x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemv_1x1__avx512vbmi(const uint8_t* x, const SparseRows& w, size_t row0,
                                  size_t row1, size_t b0, size_t b1, int32_t* y) {
  const __m512i zero = _mm512_setzero_si512();
  for (size_t r = row0; r < row1; ++r) {
    const uint8_t* h = w.header(r, b0);
    __m512i pos = zero, neg = zero;
    for (size_t b = b0; b < b1; ++b) {
      const __m512i lo = _mm512_loadu_si512(x + b * kSparseBlock);
      const __m512i hi = _mm512_loadu_si512(x + b * kSparseBlock + 64);
      size_t npos = h[0], left = npos + h[1];
      const uint8_t* off = h + 2;
      h = off + left;
      while (left) {
        const size_t n = std::min<size_t>(left, 64), np = std::min(npos, n);
        const __mmask64 all = _bzhi_u64(~0ull, n), plus = _bzhi_u64(~0ull, np);
        const __m512i idx = _mm512_maskz_loadu_epi8(all, off);
        const __m512i g = _mm512_permutex2var_epi8(lo, idx, hi);
        pos = _mm512_add_epi64(pos, _mm512_sad_epu8(_mm512_maskz_mov_epi8(plus, g), zero));
        neg = _mm512_add_epi64(neg, _mm512_sad_epu8(_mm512_maskz_mov_epi8(all & ~plus, g), zero));
        off += n, left -= n, npos -= np;
      }
    }
    y[r - row0] = static_cast<int32_t>(_mm512_reduce_add_epi64(pos) - _mm512_reduce_add_epi64(neg));
  }
}

}  // namespace stern::kernels
