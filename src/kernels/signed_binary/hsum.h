// Horizontal sums for the AVX2 / AVX-512 micro-kernels; include only from files built with
// those ISA flags (__avx2.cpp, __avx512*.cpp). The AVX-512 sums go through memory because
// GCC 12's _mm512_reduce_add_* trip -Wuninitialized; they run once per tile. A template, so
// files without AVX-512 flags never instantiate it.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace stern::sbin {

inline int64_t hsum_epi64(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

template <typename Lane>
Lane hsum(__m512i v) {
  alignas(64) Lane lanes[64 / sizeof(Lane)];
  _mm512_store_si512(lanes, v);
  Lane sum = 0;
  for (Lane x : lanes) sum += x;
  return sum;
}

}  // namespace stern::sbin
