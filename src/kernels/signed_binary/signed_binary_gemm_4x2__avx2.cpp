// Dense bitmap kernel for AVX2, 4 rows x 2 filters (16 ymm registers: 8 accumulators, 4
// rows, a mask and 3 constants). AVX2 has no mask registers: 32 bits are broadcast, each
// byte picks its bit with a shuffle and a compare, and vpsadbw adds the 32 masked bytes into
// 4 64-bit lanes in one instruction. Reference: signed_binary_gemm_4x4__scalar.cpp.
#include <immintrin.h>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "kernels/signed_binary/hsum.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {
namespace {

constexpr size_t kNr = 2;

template <size_t MR>
void tile(const uint8_t* a, size_t lda, const uint64_t* const* w, size_t words, size_t nr,
          int32_t* c, size_t ldc) {
  __m256i acc[MR][kNr];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < kNr; ++j) acc[r][j] = _mm256_setzero_si256();
  // Byte i of the broadcast dword selects byte i / 8 of the 32 bits, then bit i % 8.
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  const __m256i zero = _mm256_setzero_si256();
  for (size_t i = 0; i < 2 * words; ++i) {
    __m256i x[MR];
    for (size_t r = 0; r < MR; ++r)
      x[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + r * lda + 32 * i));
    for (size_t j = 0; j < kNr; ++j) {
      const uint32_t half = uint32_t(w[j][i / 2] >> (32 * (i % 2)));
      __m256i mask = _mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(half)), spread);
      mask = _mm256_cmpeq_epi8(_mm256_and_si256(mask, bit), bit);
      for (size_t r = 0; r < MR; ++r)
        acc[r][j] = _mm256_add_epi64(acc[r][j], _mm256_sad_epu8(_mm256_and_si256(x[r], mask), zero));
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < nr; ++j) c[r * ldc + j] = int32_t(hsum_epi64(acc[r][j]));
}

}  // namespace

void signed_binary_gemm_4x2__avx2(const uint8_t* a, size_t lda, size_t mr, const uint64_t* w,
                                  size_t words, size_t nr, int32_t* c, size_t ldc) {
  const uint64_t* filters[kNr];
  clamp_rows(filters, w, nr, words);
  with_rows<4>(mr, [&](auto rows) { tile<rows>(a, lda, filters, words, nr, c, ldc); });
}

}  // namespace stern::sbin
