// AVX2 dense epilogue: the AVX-512 kernel's scheme (epilogue_f32_16x16__avx512.cpp) on
// blocks of 8 rows (pixels) x 8 channels: computed along the channels, then, for the NCHW
// output of a convolution (ldm == 1), transposed in registers so that each channel's 8 pixels
// go out in one store. Rows at stride ldn == 1 (linear layers) are stored as computed; other
// strides take the scalar kernel. The rows: EpilogueRows8 (epilogue_rows__avx2.h).
// Reference: epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/epilogue/epilogue_rows__avx2.h"
#include "kernels/igemm.h"

namespace stern::kernels {

void epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                          float* out, size_t ldm, size_t ldn);

namespace {

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
  for (size_t j0 = 0; j0 < n; j0 += 8) {
    const size_t nc = std::min<size_t>(8, n - j0);
    const __m256i cm = first_lanes(nc);
    const EpilogueRows8 rows(e, j0, cm);
    const auto row = [&](size_t i) { return rows(raw, ldr, i); };
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
