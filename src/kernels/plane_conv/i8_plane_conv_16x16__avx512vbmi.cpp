// Dense convolution over channel planes, AVX-512 VNNI + VBMI: 16 output channels x 16 pixels
// per block. Each operand (an input channel's kernel row) is one masked load of its 16 pixels'
// reach and one VPERMB that spreads the row's taps into the 4 bytes of each pixel's dword
// (zeros above kernel_w); the 16 channels then take one VPDPBUSD each, the weights broadcast
// from memory. Reference: i8_plane_conv_16x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "kernels/in_place.h"

namespace stern::kernels {

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
  const int32_t* weights = w.w.data();
  for (size_t r0 = row0; r0 < row1; r0 += 16)
    for (size_t lane = 0; lane < lanes; lane += 16) {
      __m512i acc[16];
      for (__m512i& a : acc) a = _mm512_setzero_si512();
      for (size_t t = 0; t < w.taps; ++t) {
        const __m512i bytes = _mm512_maskz_loadu_epi8(reach, at + w.window[t] + lane);
        const __m512i x = _mm512_maskz_permutexvar_epi8(taps, spread, bytes);
        const int32_t* wt = weights + r0 * w.taps + t;
        for (size_t r = 0; r < 16; ++r) dpbusd(acc[r], x, _mm512_set1_epi32(wt[r * w.taps]));
      }
      const size_t rows = std::min<size_t>(16, row1 - r0);
      for (size_t r = 0; r < rows; ++r) _mm512_storeu_si512(c + (r0 - row0 + r) * ldc + lane, acc[r]);
    }
}

}  // namespace stern::kernels
