// Dense ternary GEMM with VPDPBUSD: each 64-byte block holds four k-quads of 16 channels at
// 2 bits; a shift and a mask expand quad q to the codes c in {0, 1, 2} (unsigned operand),
// multiplied by 4 broadcast activation bytes (signed operand). 8 rows x 2 panels = 16 zmm
// accumulators; the expansion costs 2 ops per 8 VPDPBUSD. No overflow: |c * a| <= 256, so
// |raw| <= 256 K < 2^31 for K < 2^23. Reference: ternary2_gemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

constexpr size_t kMr = 8;

template <size_t MR, size_t NP>
void tile(size_t kblocks, const uint8_t* const* rows, const uint8_t* w,
          size_t panel_stride, int32_t* c, size_t ldc) {
  const __m512i mask = _mm512_set1_epi8(3);
  __m512i acc[MR][NP];
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_setzero_si512();
  for (size_t b = 0; b < kblocks; ++b) {
    __m512i v[NP];
    for (size_t p = 0; p < NP; ++p) v[p] = _mm512_loadu_si512(w + p * panel_stride + b * kTernary2BlockBytes);
    for (int q = 0; q < 4; ++q) {
      __m512i codes[NP];
      for (size_t p = 0; p < NP; ++p) codes[p] = _mm512_and_si512(_mm512_srli_epi16(v[p], 2 * q), mask);
      for (size_t i = 0; i < MR; ++i) {
        const __m512i x = _mm512_set1_epi32(load4(rows[i] + b * kKBlock + 4 * q));
        for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], codes[p], x);
      }
    }
  }
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) _mm512_storeu_si512(c + i * ldc + p * kPanel, acc[i][p]);
}

}  // namespace

void ternary2_gemm_8x32__avx512vnni(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                                    const uint8_t* w, size_t panel_stride, size_t npanels,
                                    int32_t* c, size_t ldc) {
  dense_panel_pairs<kMr>(m, [&](size_t i) { return a + i * lda; }, w, panel_stride, npanels, c,
                        [&]<size_t MR, size_t NP>(const uint8_t* const* rows, const uint8_t* panel,
                                                  int32_t* out) {
                          tile<MR, NP>(kblocks, rows, panel, panel_stride, out, ldc);
                        });
}

}  // namespace stern::kernels
