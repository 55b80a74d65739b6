// AVX2 dense epilogue: the AVX-512 kernel's scheme (epilogue_f32_16x16__avx512.cpp) on
// blocks of 8 rows (pixels) x 8 channels: computed along the channels, then, for the NCHW
// output of a convolution (ldm == 1), transposed in registers so that each channel's 8 pixels
// go out in one store. Rows at stride ldn == 1 (linear layers) are stored as computed; other
// strides take the scalar kernel. The product goes through an empty asm before the add, so
// that it is never contracted into an FMA (this file is built with -mfma), and
// MAXPS(floor, y) returns y for NaN as std::max(y, floor) does: the scalar kernel's bits.
// Reference: epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/igemm.h"

namespace stern::kernels {

void epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                          float* out, size_t ldm, size_t ldn);

namespace {

__m256i first_lanes(size_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// v[j] becomes column j of the 8 x 8 block whose rows were v.
void transpose8(__m256 (&v)[8]) {
  __m256 t[8], u[8];
  for (size_t i = 0; i < 4; ++i)
    t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  for (size_t h = 0; h < 2; ++h)
    for (size_t i = 0; i < 2; ++i) {
      u[4 * h + 2 * i] = _mm256_shuffle_ps(t[4 * h + i], t[4 * h + i + 2], 0x44);
      u[4 * h + 2 * i + 1] = _mm256_shuffle_ps(t[4 * h + i], t[4 * h + i + 2], 0xEE);
    }
  for (size_t j = 0; j < 4; ++j)
    v[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20), v[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
}

}  // namespace

void epilogue_f32_8x8__avx2(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                            float* out, size_t ldm, size_t ldn) {
  if (ldm != 1 && ldn != 1) return epilogue_f32__scalar(raw, ldr, m, n, e, out, ldm, ldn);
  // Locals, not e's fields: the output stores could alias them, and the compiler would reload.
  const int32_t* const xsum = e.xsum;
  const int32_t* const wsum = e.wsum;
  const float* const scale = e.scale;
  const float* const bias = e.bias;
  const uint32_t* const rows = e.rows;
  const __m256 f = _mm256_set1_ps(e.floor);
  const __m256i wc = _mm256_set1_epi32(e.wc);
  for (size_t j0 = 0; j0 < n; j0 += 8) {
    const size_t nc = std::min<size_t>(8, n - j0);
    const __m256i cm = first_lanes(nc);
    const __m256i corr = _mm256_mullo_epi32(wc, _mm256_maskload_epi32(wsum + j0, cm));
    const __m256 s = _mm256_maskload_ps(scale + j0, cm), b = _mm256_maskload_ps(bias + j0, cm);
    const auto row = [&](size_t i) {
      const size_t r = rows ? rows[i] : i;
      __m256i x = _mm256_add_epi32(_mm256_maskload_epi32(raw + r * ldr + j0, cm), corr);
      if (xsum) x = _mm256_sub_epi32(x, _mm256_set1_epi32(xsum[i]));
      __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(x), s);
      asm("" : "+x"(p));
      return _mm256_max_ps(f, _mm256_add_ps(p, b));
    };
    for (size_t i0 = 0; i0 < m; i0 += 8) {
      const size_t nr = std::min<size_t>(8, m - i0);
      if (ldn == 1) {
        for (size_t i = i0; i < i0 + nr; ++i) _mm256_maskstore_ps(out + i * ldm + j0, cm, row(i));
        continue;
      }
      // Rows past m repeat row i0 and are not stored.
      __m256 v[8];
      for (size_t i = 0; i < 8; ++i) v[i] = row(i0 + (i < nr ? i : 0));
      transpose8(v);
      const __m256i rm = first_lanes(nr);
      for (size_t c = 0; c < nc; ++c) {
        float* dst = out + (j0 + c) * ldn + i0;
        if (nr == 8)
          _mm256_storeu_ps(dst, v[c]);
        else
          _mm256_maskstore_ps(dst, rm, v[c]);
      }
    }
  }
}

}  // namespace stern::kernels
