// Lookup-table kernel for AVX2, 16 activation rows per ymm of uint16 sums: the AVX-512
// kernel's scheme at half width (see signed_binary_lut_32x1__avx512.cpp for the why).
// Reference: signed_binary_lut_8x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {

void signed_binary_lut_16x1__avx2(const uint8_t* a, size_t lda, size_t rows, const Bitmap& w,
                                  const LutLayout& lut, size_t n0, size_t n1, int32_t* c,
                                  size_t ldc, void* scratch) {
  constexpr size_t kLanes = 16;
  auto* tables = static_cast<__m256i*>(scratch);  // [lut_row(group, pattern)]
  auto* acc = reinterpret_cast<int32_t(*)[kLanes]>(tables + kLutZeroRow + 1);
  std::fill_n(reinterpret_cast<int32_t*>(acc), (n1 - n0) * kLanes, 0);
  tables[kLutZeroRow] = _mm256_setzero_si256();  // the padding entries' row
  alignas(32) int32_t offset[kLanes];
  for (size_t l = 0; l < kLanes; ++l) offset[l] = int32_t(std::min(l, rows - 1) * lda);
  const __m256i index_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(offset));
  const __m256i index_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(offset + 8));
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF), low_words = _mm256_set1_epi32(0xFFFF);
  const size_t filters = size_t(w.rows);
  for (size_t h = 0; h < size_t(lut.chunks); ++h) {
    const size_t col0 = h * kLutChunkCols;
    const size_t groups = std::min<size_t>(kLutGroupsPerChunk, (size_t(w.cols) - col0 + 3) / 4);
    for (size_t g = 0; g < groups; ++g) {
      // Word lane 2l of each x_k is row l, word lane 2l + 1 row l + 8.
      const auto* p = reinterpret_cast<const int*>(a + col0 + 4 * g);
      const __m256i lo = _mm256_i32gather_epi32(p, index_lo, 1);
      const __m256i hi = _mm256_i32gather_epi32(p, index_hi, 1);
      const __m256i lo02 = _mm256_and_si256(lo, low_bytes), lo13 = _mm256_srli_epi16(lo, 8);
      const __m256i hi02 = _mm256_and_si256(hi, low_bytes), hi13 = _mm256_srli_epi16(hi, 8);
      const __m256i x0 = _mm256_blend_epi16(lo02, _mm256_slli_epi32(hi02, 16), 0xAA);
      const __m256i x1 = _mm256_blend_epi16(lo13, _mm256_slli_epi32(hi13, 16), 0xAA);
      const __m256i x2 = _mm256_blend_epi16(_mm256_srli_epi32(lo02, 16), hi02, 0xAA);
      const __m256i x3 = _mm256_blend_epi16(_mm256_srli_epi32(lo13, 16), hi13, 0xAA);
      build_group_table(tables + lut_row(g, 1), x0, x1, x2, x3,
                        [](__m256i u, __m256i v) { return _mm256_add_epi16(u, v); });
    }
    for (size_t n = n0; n < n1; ++n) {
      const uint16_t* e = lut.entries.data() + lut.start[h * filters + n];
      const uint16_t* end = lut.entries.data() + lut.start[h * filters + n + 1];
      // Lists are whole steps of 4 entries (bitmap_gemm.h), so no tail.
      const auto row = [&](uint16_t entry) { return tables[(entry & ~kLutLast) / kLutEntryPerRow]; };
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
      for (; e < end; e += 2) {
        s0 = _mm256_add_epi16(s0, row(e[0]));
        s1 = _mm256_add_epi16(s1, row(e[1]));
      }
      const __m256i s = _mm256_add_epi16(s0, s1);
      auto* out = reinterpret_cast<__m256i*>(acc[n - n0]);
      _mm256_storeu_si256(out, _mm256_add_epi32(_mm256_loadu_si256(out), _mm256_and_si256(s, low_words)));
      _mm256_storeu_si256(out + 1, _mm256_add_epi32(_mm256_loadu_si256(out + 1), _mm256_srli_epi32(s, 16)));
    }
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t n = n0; n < n1; ++n) c[r * ldc + (n - n0)] = acc[n - n0][r];
}

}  // namespace stern::sbin
