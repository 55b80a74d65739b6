// Dense convolution over channel planes, AVX2: 8 output channels x 8 pixels per block. Without
// VNNI the products go through VPMADDWD on int16 pairs (exact for uint8 bytes and int8
// weights, where VPMADDUBSW would saturate): each operand's bytes, one 16-byte load
// broadcast to both 128-bit halves, are spread by one VPSHUFB per tap pair into zero-extended
// words (taps 0-1, and 2-3 for rows of more than 2 taps), and each channel adds one VPMADDWD
// per pair, its int16 weight pairs broadcast from memory (PlaneConvWeights::w16).
// Reference: i8_plane_conv_16x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

void i8_plane_conv_8x8__avx2(const uint8_t* at, const PlaneConvWeights& w, size_t row0, size_t row1, size_t lanes,
                             int32_t* c, size_t ldc) {
  // An operand of 8 pixels needs n = 8 + (kernel_w - 1) tap_step <= 16 bytes. The 16-byte load
  // ends at its last byte (shift 16 - n), except where that would start before `at`.
  const size_t n = 8 + (w.kernel_w - 1) * size_t(w.tap_step), step = size_t(w.tap_step);
  const bool pairs2 = w.kernel_w > 2;
  // index[s][h]: word pair h (taps 2h, 2h + 1) of pixel i at bytes 4 (i % 4) + 2 k of its half.
  alignas(32) uint8_t index[2][2][32];
  for (size_t s = 0; s < 2; ++s)
    for (size_t h = 0; h < 2; ++h)
      for (size_t i = 0; i < 8; ++i)
        for (size_t k = 0; k < 2; ++k) {
          const size_t tap = 2 * h + k, shift = s ? 16 - n : 0;
          uint8_t* word = index[s][h] + 16 * (i / 4) + 4 * (i % 4) + 2 * k;
          word[0] = tap < w.kernel_w ? uint8_t(shift + i + tap * step) : 0x80;
          word[1] = 0x80;
        }
  const __m256i front[2] = {_mm256_load_si256(reinterpret_cast<const __m256i*>(index[0][0])),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(index[0][1]))};
  const __m256i back[2] = {_mm256_load_si256(reinterpret_cast<const __m256i*>(index[1][0])),
                           _mm256_load_si256(reinterpret_cast<const __m256i*>(index[1][1]))};
  const size_t ldw = 2 * (w.rows + 15);
  for (size_t r0 = row0; r0 < row1; r0 += 8) {
    const size_t rows = std::min<size_t>(8, row1 - r0);
    for (size_t lane = 0; lane < lanes; lane += 8) {
// Eight accumulators as named values, as in the AVX-512 kernel.
#define STERN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define STERN_ZERO(i) __m256i acc##i = _mm256_setzero_si256();
      STERN_ROWS(STERN_ZERO)
      for (size_t t = 0; t < w.taps; ++t) {
        const int64_t first = int64_t(w.window[t] + lane);
        const bool from_back = first + int64_t(n) >= 16;
        const __m256i bytes = _mm256_broadcastsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + (from_back ? first + int64_t(n) - 16 : first))));
        const __m256i* idx = from_back ? back : front;
        const __m256i x01 = _mm256_shuffle_epi8(bytes, idx[0]);
        const int32_t* wt = w.w16.data() + t * ldw + 2 * r0;
        if (pairs2) {
          const __m256i x23 = _mm256_shuffle_epi8(bytes, idx[1]);
#define STERN_STEP2(i)                                                                      \
  acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(x01, _mm256_set1_epi32(wt[2 * i]))); \
  acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(x23, _mm256_set1_epi32(wt[2 * i + 1])));
          STERN_ROWS(STERN_STEP2)
        } else {
#define STERN_STEP1(i) acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(x01, _mm256_set1_epi32(wt[2 * i])));
          STERN_ROWS(STERN_STEP1)
        }
      }
      int32_t* out = c + (r0 - row0) * ldc + lane;
#define STERN_STORE(i) \
  if (i < rows) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * ldc), acc##i);
      STERN_ROWS(STERN_STORE)
    }
  }
#undef STERN_ROWS
#undef STERN_ZERO
#undef STERN_STEP1
#undef STERN_STEP2
#undef STERN_STORE
}

}  // namespace stern::kernels
