// AVX-512 byte transpose in blocks of 16 rows x 64 columns: 16 row loads, four rounds of
// byte / word / dword / qword unpacks (the 16x16 transpose of SSE, four of them side by side
// in the 128-bit lanes), then one 16-byte store per column (its 16 rows). About 0.2 ops per
// byte against 3 for the scalar loop's loads, stores and index arithmetic. Partial blocks
// load and store under masks. Reference: transpose_u8__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "kernels/layout/unpack_rounds.h"

namespace stern::kernels {
namespace {

constexpr size_t kRows = 16, kCols = 64;

// After the unpacks, vector v holds in 128-bit lane l the column 16 l + kColumn[v] of the
// block (its 16 rows in order): each round pairs vectors 2i, 2i + 1 into i (low halves) and
// i + 8 (high halves), which bit-reverses the column index.
constexpr size_t kColumn[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

template <int L>
void store_lane(const __m512i (&v)[16], size_t j0, size_t cols, __mmask16 rows, uint8_t* dst,
                size_t ldd) {
  for (size_t i = 0; i < 16; ++i) {
    const size_t j = j0 + 16 * L + kColumn[i];
    if (j < cols) _mm_mask_storeu_epi8(dst + j * ldd, rows, _mm512_extracti32x4_epi32(v[i], L));
  }
}

}  // namespace

void transpose_u8_16x64__avx512(const uint8_t* src, size_t rows, size_t cols, size_t lds,
                                uint8_t* dst, size_t ldd) {
  for (size_t i0 = 0; i0 < rows; i0 += kRows) {
    const size_t nr = std::min(kRows, rows - i0);
    const __mmask16 row_mask = __mmask16((1u << nr) - 1);
    for (size_t j0 = 0; j0 < cols; j0 += kCols) {
      const size_t nc = std::min(kCols, cols - j0);
      const __mmask64 col_mask = nc == kCols ? ~__mmask64(0) : (__mmask64(1) << nc) - 1;
      __m512i v[16];
      for (size_t i = 0; i < kRows; ++i)
        v[i] = i < nr ? _mm512_maskz_loadu_epi8(col_mask, src + (i0 + i) * lds + j0) : _mm512_setzero_si512();
      unpack_round(v, [](__m512i a, __m512i b) { return _mm512_unpacklo_epi8(a, b); },
            [](__m512i a, __m512i b) { return _mm512_unpackhi_epi8(a, b); });
      unpack_round(v, [](__m512i a, __m512i b) { return _mm512_unpacklo_epi16(a, b); },
            [](__m512i a, __m512i b) { return _mm512_unpackhi_epi16(a, b); });
      unpack_round(v, [](__m512i a, __m512i b) { return _mm512_unpacklo_epi32(a, b); },
            [](__m512i a, __m512i b) { return _mm512_unpackhi_epi32(a, b); });
      unpack_round(v, [](__m512i a, __m512i b) { return _mm512_unpacklo_epi64(a, b); },
            [](__m512i a, __m512i b) { return _mm512_unpackhi_epi64(a, b); });
      uint8_t* d = dst + i0;
      store_lane<0>(v, j0, cols, row_mask, d, ldd);
      if (nc > 16) store_lane<1>(v, j0, cols, row_mask, d, ldd);
      if (nc > 32) store_lane<2>(v, j0, cols, row_mask, d, ldd);
      if (nc > 48) store_lane<3>(v, j0, cols, row_mask, d, ldd);
    }
  }
}

}  // namespace stern::kernels
