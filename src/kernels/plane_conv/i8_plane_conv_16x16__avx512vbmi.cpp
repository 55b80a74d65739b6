// Dense convolution over channel planes, AVX-512 VNNI + VBMI: 16 output channels x 16 pixels
// per block. Each operand (an input channel's kernel row) is one masked load of its 16 pixels'
// reach and one VPERMB that spreads the row's taps into the 4 bytes of each pixel's dword
// (zeros above kernel_w); the 16 channels then take one VPDPBUSD each, the weights broadcast
// from memory. Reference: i8_plane_conv_16x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "kernels/in_place.h"

namespace stern::kernels {
namespace {

// Sixteen accumulators as named values (an array of them stayed on the stack); R = 8 leaves
// the upper eight out: a layer of few output channels (LeNet-5's 6) pays for 8 rows, not 16.
#define STERN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
template <size_t R>
void block(const uint8_t* at, const PlaneConvWeights& w, size_t r0, size_t rows, size_t lanes, __m512i spread,
           __mmask64 reach, __mmask64 taps, int32_t* out, size_t ldc) {
  const size_t ldw = w.rows + 15;
  for (size_t lane = 0; lane < lanes; lane += 16) {
#define STERN_ZERO(i) __m512i acc##i = _mm512_setzero_si512();
    STERN_ROWS(STERN_ZERO)
    for (size_t t = 0; t < w.taps; ++t) {
      const __m512i bytes = _mm512_maskz_loadu_epi8(reach, at + w.window[t] + lane);
      const __m512i x = _mm512_maskz_permutexvar_epi8(taps, spread, bytes);
      const int32_t* wt = w.w.data() + t * ldw + r0;
#define STERN_STEP(i) \
  if constexpr (i < R) dpbusd(acc##i, x, _mm512_set1_epi32(wt[i]));
      STERN_ROWS(STERN_STEP)
    }
#define STERN_STORE(i) \
  if (i < rows) _mm512_storeu_si512(out + i * ldc + lane, acc##i);
    STERN_ROWS(STERN_STORE)
  }
}
#undef STERN_ROWS
#undef STERN_ZERO
#undef STERN_STEP
#undef STERN_STORE

}  // namespace

void i8_plane_conv_16x16__avx512vbmi(const uint8_t* at, const PlaneConvWeights& w, size_t row0, size_t row1,
                                     size_t lanes, int32_t* c, size_t ldc) {
  // Byte 4 i + j of an operand: pixel i's tap j, read at i + j * tap_step; j >= kernel_w zero.
  alignas(64) uint8_t index[64];
  uint64_t taps_mask = 0;
  for (size_t i = 0; i < 16; ++i)
    for (size_t j = 0; j < kPlaneConvMaxTaps; ++j) {
      const bool tap = j < w.kernel_w;
      index[4 * i + j] = uint8_t(tap ? i + j * size_t(w.tap_step) : 0);
      taps_mask |= uint64_t(tap) << (4 * i + j);
    }
  const __m512i spread = _mm512_load_si512(index);
  const __mmask64 reach = _cvtu64_mask64(w.reach() >= 64 ? ~uint64_t(0) : (uint64_t(1) << w.reach()) - 1);
  const __mmask64 taps = _cvtu64_mask64(taps_mask);
  for (size_t r0 = row0; r0 < row1; r0 += 16) {
    const size_t rows = std::min<size_t>(16, row1 - r0);
    int32_t* out = c + (r0 - row0) * ldc;
    if (rows <= 8)
      block<8>(at, w, r0, rows, lanes, spread, reach, taps, out, ldc);
    else
      block<16>(at, w, r0, rows, lanes, spread, reach, taps, out, ldc);
  }
}

}  // namespace stern::kernels
