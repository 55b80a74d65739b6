// AVX2 quantizer, bit-exact with quantize_activation, as the AVX-512 one (quantize_u8__avx512.cpp):
// the float division, the clamp in float (MAXPS returns its second operand, qmin, for NaN),
// then VCVTPS2DQ (round to nearest even), the low byte of each code stored. The scalar
// kernel called nearbyintf per value.
// Reference: quantize_u8__scalar.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__avx2(const float* x, size_t rows, size_t cols, size_t ldx, const ActQuant& act, int32_t add,
                       uint8_t* out, size_t ldo) {
  const __m256 scale = _mm256_set1_ps(act.scale);
  const __m256 lo = _mm256_set1_ps(float(act.qmin)), hi = _mm256_set1_ps(float(act.qmax));
  const __m256i offset = _mm256_set1_epi32(add);
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const size_t whole = cols / 8 * 8, tail = cols - whole;
  // Lanes below `tail` of the last vector of a row.
  const __m256i tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(tail)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const auto bytes = [&](__m256 v) {
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, scale), lo), hi)), offset);
    // The low byte of each code (q + add is a byte mod 256: int8 bytes when add < 0) to
    // bytes 0-3 of its 128-bit lane.
    const __m256i w = _mm256_shuffle_epi8(q, low_bytes);
    return _mm_unpacklo_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
  };
  for (size_t i = 0; i < rows; ++i) {
    const float* src = x + i * ldx;
    uint8_t* dst = out + i * ldo;
    for (size_t j = 0; j < whole; j += 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + j), bytes(_mm256_loadu_ps(src + j)));
    if (tail) {
      const uint64_t b = uint64_t(_mm_cvtsi128_si64(bytes(_mm256_maskload_ps(src + whole, tail_mask))));
      std::memcpy(dst + whole, &b, tail);
    }
  }
}

}  // namespace stern::kernels
