// int8 GEMM with VPDPBUSD (uint8 activations broadcast, int8 weights), 8 rows x 2 panels =
// 16 zmm accumulators. |a * w| <= 255 * 127, so K <= 65536 keeps |raw| < 2^31.
// Reference: i8_gemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

constexpr size_t kMr = 8;

template <size_t MR, size_t NP>
void tile(size_t kblocks, const uint8_t* const* rows, const uint8_t* w,
          size_t panel_stride, int32_t* c, size_t ldc) {
  __m512i acc[MR][NP];
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_setzero_si512();
  for (size_t b = 0; b < kblocks; ++b)
    for (int q = 0; q < 4; ++q) {
      __m512i v[NP];
      for (size_t p = 0; p < NP; ++p)
        v[p] = _mm512_loadu_si512(w + p * panel_stride + b * kInt8BlockBytes + q * 64);
      for (size_t i = 0; i < MR; ++i) {
        const __m512i x = _mm512_set1_epi32(load4(rows[i] + b * kKBlock + 4 * q));
        for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], x, v[p]);
      }
    }
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) _mm512_storeu_si512(c + i * ldc + p * kPanel, acc[i][p]);
}

}  // namespace

void i8_gemm_8x32__avx512vnni(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                              const uint8_t* w, size_t panel_stride, size_t npanels,
                              int32_t* c, size_t ldc) {
  dense_panel_pairs<kMr>(m, a, lda, w, panel_stride, npanels, c,
                        [&]<size_t MR, size_t NP>(const uint8_t* const* rows, const uint8_t* panel,
                                                  int32_t* out) {
                          tile<MR, NP>(kblocks, rows, panel, panel_stride, out, ldc);
                        });
}

}  // namespace stern::kernels
