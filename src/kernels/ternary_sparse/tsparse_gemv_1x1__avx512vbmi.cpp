// Sparse ternary GEMV with byte permutes: a 128-column block of activations sits in two zmm,
// and VPERMI2B gathers up to 64 of them at once by the block's 7-bit offsets (one load straight
// from the row's stream, lanes past the count zeroed by the permute's mask). One VPDPBUSD
// against +1 / -1 bytes (the +1 entries come first) adds them with their signs. Weight
// traffic is one byte per non-zero plus two per row and block; the cost is per block, so
// the common case (at most 64 entries) is one straight pass.
// Reference: tsparse_gemv_1x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemv_1x1__avx512vbmi(const uint8_t* x, const SparseRows& w, size_t row0,
                                  size_t row1, size_t b0, size_t b1, int32_t* y) {
  const __m512i plus1 = _mm512_set1_epi8(1), minus1 = _mm512_set1_epi8(-1);
  for (size_t r = row0; r < row1; ++r) {
    __m512i acc = _mm512_setzero_si512();
    for (size_t b = b0; b < b1; ++b) {
      // Each block's header from the start table, not from the previous block's end: no
      // load-to-address chain through the counts from one block to the next.
      const uint8_t* h = w.header(r, b);
      const __m512i lo = _mm512_loadu_si512(x + b * kSparseBlock);
      const __m512i hi = _mm512_loadu_si512(x + b * kSparseBlock + 64);
      size_t npos = h[0], left = npos + h[1];
      const uint8_t* off = h + 2;
      while (left) {
        const size_t n = std::min<size_t>(left, 64), np = std::min(npos, n);
        const __mmask64 all = _bzhi_u64(~0ull, n), plus = _bzhi_u64(~0ull, np);
        // A plain load: lanes past the count are zeroed by the permute, and pack_sparse
        // leaves 64 readable bytes after the last row.
        const __m512i idx = _mm512_loadu_si512(off);
        const __m512i g = _mm512_maskz_permutex2var_epi8(all, lo, idx, hi);
        acc = _mm512_dpbusd_epi32(acc, g, _mm512_mask_blend_epi8(plus, minus1, plus1));
        off += n, left -= n, npos -= np;
      }
    }
    y[r - row0] = _mm512_reduce_add_epi32(acc);
  }
}

}  // namespace stern::kernels
