// int8 GEMM for AVX2. VPMADDUBSW saturates when two uint8 x int8 products exceed int16
// (255 * 127 * 2 > 32767), so each activation byte is split into its low 7 bits (pairs
// <= 2 * 127 * 127, exact) and its top bit (summed over the block's four quads in int16,
// <= 4 * 2 * 127, then weighted by 128 in VPMADDWD). The IGEMM (igemm.h IgemmUkernel) is the
// same tile over other addresses: row i's block b at row_at(i) + off(b). References:
// i8_gemm_4x16__scalar.cpp, i8_igemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {
constexpr size_t kMr = 4;

// At most kMr rows at row_at(i), block b of each at + off(b).
template <typename RowAt, typename Off>
void rows_tile(size_t m, RowAt row_at, Off off, size_t kblocks, const uint8_t* w, size_t panel_stride,
               size_t npanels, int32_t* c, size_t ldc) {
  with_rows<kMr>(m, [&]<size_t MR>(std::integral_constant<size_t, MR>) {
    const uint8_t* rows[MR];
    for (size_t i = 0; i < MR; ++i) rows[i] = row_at(i);
    const __m256i low7 = _mm256_set1_epi8(0x7F), top = _mm256_set1_epi8(1);
    const __m256i ones = _mm256_set1_epi16(1), w128 = _mm256_set1_epi16(128);
    for (size_t p = 0; p < npanels; ++p) {
      const uint8_t* panel = w + p * panel_stride;
      __m256i acc[MR][2];
      for (size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
      for (size_t b = 0; b < kblocks; ++b) {
        __m256i high[MR][2];
        for (size_t i = 0; i < MR; ++i) high[i][0] = high[i][1] = _mm256_setzero_si256();
        for (int q = 0; q < 4; ++q) {
          const uint8_t* src = panel + b * kInt8BlockBytes + q * 64;
          const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
          const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
          for (size_t i = 0; i < MR; ++i) {
            const __m256i x = _mm256_set1_epi32(load4(rows[i] + off(b) + 4 * q));
            const __m256i xl = _mm256_and_si256(x, low7);
            const __m256i xh = _mm256_and_si256(_mm256_srli_epi16(x, 7), top);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(xl, w0), ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(xl, w1), ones));
            high[i][0] = _mm256_add_epi16(high[i][0], _mm256_maddubs_epi16(xh, w0));
            high[i][1] = _mm256_add_epi16(high[i][1], _mm256_maddubs_epi16(xh, w1));
          }
        }
        for (size_t i = 0; i < MR; ++i) {
          acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(high[i][0], w128));
          acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(high[i][1], w128));
        }
      }
      for (size_t i = 0; i < MR; ++i) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + p * kPanel), acc[i][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + p * kPanel + 8), acc[i][1]);
      }
    }
  });
}

}  // namespace

void i8_gemm_4x16__avx2(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,
                        size_t panel_stride, size_t npanels, int32_t* c, size_t ldc) {
  rows_tile(m, [&](size_t i) { return a + i * lda; }, [](size_t b) { return b * kKBlock; }, kblocks, w,
            panel_stride, npanels, c, ldc);
}

void i8_igemm_4x16__avx2(size_t m, size_t kblocks, const uint8_t* a, const int32_t* row_offset,
                         const int32_t* koff, const uint8_t* w, size_t panel_stride, size_t npanels, int32_t* c,
                         size_t ldc) {
  for (size_t i0 = 0; i0 < m; i0 += kMr)
    rows_tile(std::min(kMr, m - i0), [&](size_t i) { return a + row_offset[i0 + i]; },
              [&](size_t b) { return size_t(koff[b]); }, kblocks, w, panel_stride, npanels, c + i0 * ldc, ldc);
}

}  // namespace stern::kernels
