// Dense bitmap kernel, 4 rows x 4 filters. One masked move turns a 64-bit bitmap word into 64
// bytes of 0/1 and vpdpbusd multiplies them with 64 uint8 activations into 16 int32 lanes:
// 64 multiply-adds per instruction whatever the sparsity, the expansion shared by 4 rows.
// Reference: signed_binary_gemm_4x4__scalar.cpp.
#include <immintrin.h>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "kernels/signed_binary/hsum.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {
namespace {

constexpr size_t kNr = 4;

template <size_t MR>
void tile(const uint8_t* a, size_t lda, const uint64_t* const* w, size_t words, size_t nr,
          int32_t* c, size_t ldc) {
  __m512i acc[MR][kNr];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < kNr; ++j) acc[r][j] = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi8(1);
  for (size_t i = 0; i < words; ++i) {
    __m512i x[MR];
    for (size_t r = 0; r < MR; ++r) x[r] = _mm512_loadu_si512(a + r * lda + 64 * i);
    for (size_t j = 0; j < kNr; ++j) {
      const __m512i bits = _mm512_maskz_mov_epi8(_cvtu64_mask64(w[j][i]), one);
      for (size_t r = 0; r < MR; ++r) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], x[r], bits);
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < nr; ++j) c[r * ldc + j] = hsum<int32_t>(acc[r][j]);
}

}  // namespace

void signed_binary_gemm_4x4__avx512vnni(const uint8_t* a, size_t lda, size_t mr,
                                        const uint64_t* w, size_t words, size_t nr, int32_t* c,
                                        size_t ldc) {
  // A partial tile repeats its last filter; the surplus results are not stored.
  const uint64_t* filters[kNr];
  clamp_rows(filters, w, nr, words);
  with_rows<4>(mr, [&](auto rows) { tile<rows>(a, lda, filters, words, nr, c, ldc); });
}

}  // namespace stern::sbin
