// XNOR-popcount for AVX2, 2 rows x 4 filters of 256 bits per step. No vector popcount: each
// byte's count comes from a 16-entry nibble table (vpshufb, twice) and vpsadbw sums the
// bytes into 64-bit lanes. The last partial 256 bits use vpmaskmovq, so nothing past the
// bitmaps is read. Reference: binary_xnor_4x4__scalar.cpp.
#include <immintrin.h>

#include "kernels/binary/binary_xnor.h"
#include "kernels/signed_binary/hsum.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {
namespace {

constexpr size_t kMr = 2, kNr = 4;

template <size_t MR>
void tile(const uint64_t* const* a, const uint64_t* const* w, size_t words, size_t nr,
          int32_t* c, size_t ldc) {
  __m256i acc[MR][kNr];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < kNr; ++j) acc[r][j] = _mm256_setzero_si256();
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i nibble = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256();
  for (size_t i = 0; i < words; i += 4) {
    const size_t n = words - i >= 4 ? 4 : words - i;
    const __m256i valid = _mm256_cmpgt_epi64(_mm256_set1_epi64x(int64_t(n)), _mm256_setr_epi64x(0, 1, 2, 3));
    __m256i x[MR];
    for (size_t r = 0; r < MR; ++r)
      x[r] = _mm256_maskload_epi64(reinterpret_cast<const long long*>(a[r] + i), valid);
    for (size_t j = 0; j < kNr; ++j) {
      const __m256i b = _mm256_maskload_epi64(reinterpret_cast<const long long*>(w[j] + i), valid);
      for (size_t r = 0; r < MR; ++r) {
        const __m256i v = _mm256_xor_si256(x[r], b);
        const __m256i count =
            _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_and_si256(v, nibble)),
                            _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble)));
        acc[r][j] = _mm256_add_epi64(acc[r][j], _mm256_sad_epu8(count, zero));
      }
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < nr; ++j) c[r * ldc + j] = int32_t(hsum_epi64(acc[r][j]));
}

}  // namespace

void binary_xnor_2x4__avx2(const uint64_t* a, size_t mr, const uint64_t* w, size_t nr,
                           size_t words, int32_t* c, size_t ldc) {
  xnor_tiles<kMr, kNr>(a, mr, w, nr, words, [&](auto n, const auto& rows, const auto& filters) {
    tile<n>(rows, filters, words, nr, c, ldc);
  });
}

}  // namespace stern::sbin
