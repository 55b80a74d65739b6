// XNOR-popcount, 4 rows x 4 filters of 512 bits per step: vpxorq + vpopcntq + vpaddq per
// pair, 16 accumulators. Needs AVX512_VPOPCNTDQ (xnor_config_for checks it). A row's last
// partial 512 bits are read with a masked load, so nothing past the bitmaps is touched.
// Reference: binary_xnor_4x4__scalar.cpp.
#include <immintrin.h>

#include "kernels/binary/binary_xnor.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {
namespace {

constexpr size_t kMr = 4, kNr = 4;

template <size_t MR>
void tile(const uint64_t* const* a, const uint64_t* const* w, size_t words, size_t nr,
          int32_t* c, size_t ldc) {
  __m512i acc[MR][kNr];
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < kNr; ++j) acc[r][j] = _mm512_setzero_si512();
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 valid = words - i >= 8 ? __mmask8(0xFF) : __mmask8((1u << (words - i)) - 1);
    __m512i x[MR];
    for (size_t r = 0; r < MR; ++r) x[r] = _mm512_maskz_loadu_epi64(valid, a[r] + i);
    for (size_t j = 0; j < kNr; ++j) {
      const __m512i b = _mm512_maskz_loadu_epi64(valid, w[j] + i);
      for (size_t r = 0; r < MR; ++r)
        acc[r][j] = _mm512_add_epi64(acc[r][j], _mm512_popcnt_epi64(_mm512_xor_si512(x[r], b)));
    }
  }
  // The 4 sums of a row in one reduction (a per-accumulator sum dominated short rows):
  // pair up the accumulators' qwords, then their 128-bit lanes. Zero-masked shuffles:
  // GCC 12 warns on the unmasked one (undefined pass-through operand).
  for (size_t r = 0; r < MR; ++r) {
    const __m512i* v = acc[r];
    const __m512i p01 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[0], v[1]), _mm512_unpackhi_epi64(v[0], v[1]));
    const __m512i p23 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2], v[3]), _mm512_unpackhi_epi64(v[2], v[3]));
    // Lanes [p01.0 + p01.1, p01.2 + p01.3, p23.0 + p23.1, p23.2 + p23.3].
    const __m512i s = _mm512_add_epi64(_mm512_maskz_shuffle_i64x2(0xFF, p01, p23, _MM_SHUFFLE(2, 0, 2, 0)),
                                       _mm512_maskz_shuffle_i64x2(0xFF, p01, p23, _MM_SHUFFLE(3, 1, 3, 1)));
    // Lane 0 = [sum 0, sum 1], lane 2 = [sum 2, sum 3].
    const __m512i t = _mm512_add_epi64(s, _mm512_maskz_shuffle_i64x2(0xFF, s, s, _MM_SHUFFLE(2, 3, 0, 1)));
    alignas(64) int64_t lanes[8];
    _mm512_store_si512(lanes, t);
    const int64_t sums[kNr] = {lanes[0], lanes[1], lanes[4], lanes[5]};
    for (size_t j = 0; j < nr; ++j) c[r * ldc + j] = int32_t(sums[j]);
  }
}

}  // namespace

void binary_xnor_4x4__avx512(const uint64_t* a, size_t mr, const uint64_t* w, size_t nr,
                             size_t words, int32_t* c, size_t ldc) {
  xnor_tiles<kMr, kNr>(a, mr, w, nr, words, [&](auto n, const auto& rows, const auto& filters) {
    tile<n>(rows, filters, words, nr, c, ldc);
  });
}

}  // namespace stern::sbin
