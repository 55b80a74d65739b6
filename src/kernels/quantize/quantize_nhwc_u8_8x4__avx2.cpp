// AVX2 quantizer from NCHW floats into NHWC bytes, in blocks of 8 pixels (consecutive in the
// planes, across rows) x 4 channels: the codes as the AVX2 plane quantizer makes them (the
// division, clamp in float, VCVTPS2DQ), the low bytes of the 4 channels merged into one
// dword per pixel, each stored with one 4-byte store. The scalar kernel called nearbyintf
// per value and stored bytes one at a time. Reference: quantize_nhwc_u8__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_nhwc_u8_8x4__avx2(const float* x, size_t channels, size_t rows, size_t cols, size_t ldx,
                                const ActQuant& act, int32_t add, uint8_t* out, size_t ldp, size_t ldo) {
  const __m256 scale = _mm256_set1_ps(act.scale);
  const __m256 lo = _mm256_set1_ps(float(act.qmin)), hi = _mm256_set1_ps(float(act.qmax));
  const __m256i byte = _mm256_set1_epi32(0xFF), lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // (q + add) mod 256 from q mod 256: the offset added to the merged bytes.
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(add));
  const size_t pixels = rows * cols;
  for (size_t p0 = 0; p0 < pixels; p0 += 8) {
    const size_t np = std::min<size_t>(8, pixels - p0);
    const __m256i pm = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(np)), lanes);
    // The pixels' destinations, walked along the rows (no division per pixel).
    uint8_t* dst[8];
    for (size_t k = 0, i = p0 / cols, j = p0 % cols; k < np; ++k, ++j) {
      if (j == cols) j = 0, ++i;
      dst[k] = out + i * ldo + j * ldp;
    }
    for (size_t c0 = 0; c0 < channels; c0 += 4) {
      const size_t nc = std::min<size_t>(4, channels - c0);
      __m256i d = _mm256_setzero_si256();
      for (size_t c = 0; c < nc; ++c) {
        const __m256 v = _mm256_div_ps(_mm256_maskload_ps(x + (c0 + c) * ldx + p0, pm), scale);
        const __m256i q = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi)), byte);
        d = _mm256_or_si256(d, _mm256_sll_epi32(q, _mm_cvtsi32_si128(int(8 * c))));
      }
      alignas(32) uint32_t merged[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(merged), _mm256_add_epi8(d, offset));
      for (size_t k = 0; k < np; ++k) std::memcpy(dst[k] + c0, merged + k, nc);
    }
  }
}

}  // namespace stern::kernels
