#include <immintrin.h>

#include <random>

#include "peers.h"

namespace stern::bench {

Tq2Matrix tq2_random(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(0, 2);
  Tq2Matrix w;
  w.rows = rows, w.cols = cols;
  w.qs.resize(rows * cols / 4);
  // Byte j of a 32-byte group holds weights j, j + 32, j + 64, j + 96 of its 128 (TQ2_0).
  for (auto& b : w.qs) b = uint8_t(code(rng) | code(rng) << 2 | code(rng) << 4 | code(rng) << 6);
  w.d.assign(rows * cols / 256, 0.01f);
  return w;
}

Q8K q8k_random(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> v(-127, 127);
  Q8K x;
  x.qs.resize(cols);
  for (auto& q : x.qs) q = int8_t(v(rng));
  x.d.assign(cols / 256, 0.02f);
  x.bsums.resize(cols / 16);
  for (int64_t i = 0; i < cols / 16; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += x.qs[i * 16 + j];
    x.bsums[i] = int16_t(s);
  }
  return x;
}

void tq2_gemv__avx2(const Tq2Matrix& w, const Q8K& x, int64_t row0, int64_t row1, float* y) {
  const int64_t nb = w.cols / 256;
  const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  for (int64_t r = row0; r < row1; ++r) {
    const uint8_t* qs = w.qs.data() + r * w.cols / 4;
    __m256 sumf = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      __m256i sumi0 = _mm256_setzero_si256(), sumi1 = _mm256_setzero_si256();
      for (int j = 0; j < 2; ++j) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + i * 64 + j * 32));
        const int8_t* yq = x.qs.data() + i * 256 + j * 128;
        const __m256i q0 = _mm256_and_si256(q, m3);
        const __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(q, 2), m3);
        const __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(q, 4), m3);
        const __m256i q3 = _mm256_and_si256(_mm256_srli_epi16(q, 6), m3);
        const __m256i p0 = _mm256_maddubs_epi16(q0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq)));
        const __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq + 32)));
        const __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq + 64)));
        const __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq + 96)));
        sumi0 = _mm256_add_epi16(sumi0, _mm256_add_epi16(p0, p2));
        sumi1 = _mm256_add_epi16(sumi1, _mm256_add_epi16(p1, p3));
      }
      // Codes are w + 1: subtract the activation sums of the block.
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums.data() + i * 16));
      const __m256i sumi = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_add_epi16(sumi0, sumi1), bsums), ones);
      const __m256 d = _mm256_set1_ps(x.d[i] * w.d[r * nb + i]);
      sumf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), d, sumf);
    }
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(sumf), _mm256_extractf128_ps(sumf, 1));
    const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
    y[r] = _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
  }
}

uint64_t stream_sum__avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

}  // namespace stern::bench
