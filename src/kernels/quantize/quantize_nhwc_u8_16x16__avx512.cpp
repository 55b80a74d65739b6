// AVX-512 quantizer from NCHW floats into NHWC bytes, in blocks of 16 pixels (consecutive in
// the planes, across rows) x 16 channels: one pass instead of quantizing to NCHW bytes and
// transposing them (3x3 256->256 layer at 14x14: the two passes were ~19% of the layer).
//
// Codes by QuantizeBlock (quantize_block__avx512.h: a multiply by 1 / scale, the division
// only for blocks near a rounding tie). The low bytes of 4 channels' codes merge into one
// dword per pixel (shifts and bit selects), a 4 x 4 dword transpose per 128-bit lane gathers
// a pixel's 16 channels, each stored with one 16-byte masked store.
// Reference: quantize_nhwc_u8__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/igemm.h"
#include "kernels/quantize/quantize_block__avx512.h"
#include "runtime/layer.h"

namespace stern::kernels {
namespace {

constexpr size_t kBlock = 16;
constexpr int kSelect = 0xD8;  // VPTERNLOGD: c ? b : a, bit by bit

__m512i select(__m512i a, __m512i b, uint32_t mask) {
  return _mm512_ternarylogic_epi32(a, b, _mm512_set1_epi32(int(mask)), kSelect);
}

template <int L>
void store_lane(const __m512i (&u)[4], uint8_t* const* dst, size_t np, size_t c0, __mmask16 cm) {
  for (size_t k = 0; k < 4; ++k)
    if (4 * L + k < np) _mm_mask_storeu_epi8(dst[4 * L + k] + c0, cm, _mm512_extracti32x4_epi32(u[k], L));
}

}  // namespace

void quantize_nhwc_u8_16x16__avx512(const float* x, size_t channels, size_t rows, size_t cols, size_t ldx,
                                    const ActQuant& act, int32_t add, uint8_t* out, size_t ldp, size_t ldo) {
  const QuantizeBlock block(act);
  // (q + add) mod 256 from q mod 256: the offset added to the merged bytes.
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(add));
  const size_t pixels = rows * cols;
  for (size_t p0 = 0; p0 < pixels; p0 += kBlock) {
    const size_t np = std::min(kBlock, pixels - p0);
    const __mmask16 pm = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(np)));
    // The pixels' destinations, walked along the rows (no division per pixel).
    uint8_t* dst[kBlock];
    for (size_t k = 0, i = p0 / cols, j = p0 % cols; k < np; ++k, ++j) {
      if (j == cols) j = 0, ++i;
      dst[k] = out + i * ldo + j * ldp;
    }
    for (size_t c0 = 0; c0 < channels; c0 += kBlock) {
      const size_t nc = std::min(kBlock, channels - c0);
      const float* src = x + c0 * ldx + p0;
      __m512i q[QuantizeBlock::kVectors];
      block.codes(nc, [&](size_t c) { return _mm512_maskz_loadu_ps(pm, src + c * ldx); }, q);
      // u[k] lane l: pixel 4 l + k, channels 0-15 (dword j: channels 4 j .. 4 j + 3).
      __m512i d[4];
      for (size_t j = 0; j < 4; ++j) {
        const __m512i low = select(q[4 * j], _mm512_slli_epi32(q[4 * j + 1], 8), 0x0000FF00u);
        const __m512i high = select(_mm512_slli_epi32(q[4 * j + 2], 16), _mm512_slli_epi32(q[4 * j + 3], 24), 0xFF000000u);
        d[j] = _mm512_add_epi8(select(low, high, 0xFFFF0000u), offset);
      }
      const __m512i t0 = _mm512_unpacklo_epi32(d[0], d[1]), t1 = _mm512_unpackhi_epi32(d[0], d[1]);
      const __m512i t2 = _mm512_unpacklo_epi32(d[2], d[3]), t3 = _mm512_unpackhi_epi32(d[2], d[3]);
      const __m512i u[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                            _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
      const __mmask16 cm = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(nc)));
      store_lane<0>(u, dst, np, c0, cm);
      store_lane<1>(u, dst, np, c0, cm);
      store_lane<2>(u, dst, np, c0, cm);
      store_lane<3>(u, dst, np, c0, cm);
    }
  }
}

}  // namespace stern::kernels
