// AVX2 requantizing dense epilogue into NHWC bytes: per block of 8 channels, each row's
// (pixel's) floats computed along the channels (EpilogueRows8, epilogue_rows__avx2.h), its
// codes as the AVX2 quantizers make them (the division, clamp in float, VCVTPS2DQ), their low
// bytes gathered into 8 and stored at the pixel: no transposes into channel planes and back.
// Reference: epilogue_codes__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/epilogue/epilogue_rows__avx2.h"
#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void epilogue_codes_8x8__avx2(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                              const ActQuant& act, int32_t add, uint8_t* out, size_t ldo) {
  const __m256 scale = _mm256_set1_ps(act.scale);
  const __m256 lo = _mm256_set1_ps(float(act.qmin)), hi = _mm256_set1_ps(float(act.qmax));
  const __m256i offset = _mm256_set1_epi32(add);
  // Byte 0 of each dword to bytes 0-3 of its 128-bit lane, then the two lanes' dwords together.
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  for (size_t j0 = 0; j0 < n; j0 += 8) {
    const size_t nc = std::min<size_t>(8, n - j0);
    const EpilogueRows8 row(e, j0, first_lanes(nc));
    for (size_t i = 0; i < m; ++i) {
      const __m256 y = _mm256_div_ps(row(raw, ldr, i), scale);
      // (q + add) mod 256: the low byte of each dword.
      const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, lo), hi)), offset);
      const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, low_bytes), gather);
      const uint64_t bytes = uint64_t(_mm_cvtsi128_si64(_mm256_castsi256_si128(packed)));
      std::memcpy(out + i * ldo + j0, &bytes, nc);
    }
  }
}

}  // namespace stern::kernels
