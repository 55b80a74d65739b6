// Horizontal sum for the AVX2 micro-kernels; include only from files built with AVX2 flags
// (__avx2.cpp, __avx512*.cpp).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace stern::sbin {

inline int64_t hsum_epi64(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

}  // namespace stern::sbin
