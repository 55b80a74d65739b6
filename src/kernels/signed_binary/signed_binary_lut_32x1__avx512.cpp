// Lookup-table kernel, 32 activation rows per zmm of uint16 sums. Per group of 4 columns the
// 15 non-empty subset sums are built with 11 adds (two gathers fetch the 4 bytes of all 32
// rows); each filter then costs one vpaddw with a memory operand per non-zero 4-bit pattern,
// i.e. 4 columns x 32 rows per instruction, and nothing for an all-zero group.
// Reference: signed_binary_lut_8x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/signed_binary/bitmap_gemm.h"

namespace stern::sbin {

void signed_binary_lut_32x1__avx512(const uint8_t* a, size_t lda, size_t rows, const Bitmap& w,
                                    const LutLayout& lut, size_t n0, size_t n1, int32_t* c,
                                    size_t ldc, void* scratch) {
  constexpr size_t kLanes = 32;
  auto* tables = static_cast<__m512i*>(scratch);  // [group * 16 + pattern]
  auto* acc = reinterpret_cast<int32_t(*)[kLanes]>(tables + kLutGroupsPerChunk * 16);
  std::fill(acc[0], acc[0] + (n1 - n0) * kLanes, 0);
  // Lanes beyond `rows` re-read the last row; their sums are never stored.
  alignas(64) int32_t offset[kLanes];
  for (size_t l = 0; l < kLanes; ++l) offset[l] = int32_t(std::min(l, rows - 1) * lda);
  const __m512i index_lo = _mm512_load_si512(offset), index_hi = _mm512_load_si512(offset + 16);
  const __m512i low_bytes = _mm512_set1_epi16(0x00FF), low_words = _mm512_set1_epi32(0xFFFF);
  constexpr __mmask32 kOddWords = 0xAAAAAAAA;
  // Zero-masked forms throughout: GCC 12 warns (-Wmaybe-uninitialized) on the unmasked
  // gather and dword shifts, whose headers pass an undefined pass-through operand.
  constexpr __mmask16 kAll16 = 0xFFFF;
  const __m512i zero = _mm512_setzero_si512();
  const size_t filters = size_t(w.rows);
  for (size_t h = 0; h < size_t(lut.chunks); ++h) {
    const size_t col0 = h * kLutChunkCols;
    const size_t groups = std::min<size_t>(kLutGroupsPerChunk, (size_t(w.cols) - col0 + 3) / 4);
    for (size_t g = 0; g < groups; ++g) {
      // Dword l of lo / hi holds columns 0..3 of rows l / l + 16. Word lane 2l of each x_k
      // becomes row l and word lane 2l + 1 row l + 16, the order the widening below undoes.
      const uint8_t* p = a + col0 + 4 * g;
      const __m512i lo = _mm512_mask_i32gather_epi32(zero, kAll16, index_lo, p, 1);
      const __m512i hi = _mm512_mask_i32gather_epi32(zero, kAll16, index_hi, p, 1);
      const __m512i lo02 = _mm512_and_si512(lo, low_bytes), lo13 = _mm512_srli_epi16(lo, 8);
      const __m512i hi02 = _mm512_and_si512(hi, low_bytes), hi13 = _mm512_srli_epi16(hi, 8);
      const __m512i x0 = _mm512_mask_blend_epi16(kOddWords, lo02, _mm512_maskz_slli_epi32(kAll16, hi02, 16));
      const __m512i x1 = _mm512_mask_blend_epi16(kOddWords, lo13, _mm512_maskz_slli_epi32(kAll16, hi13, 16));
      const __m512i x2 = _mm512_mask_blend_epi16(kOddWords, _mm512_maskz_srli_epi32(kAll16, lo02, 16), hi02);
      const __m512i x3 = _mm512_mask_blend_epi16(kOddWords, _mm512_maskz_srli_epi32(kAll16, lo13, 16), hi13);
      __m512i* t = tables + 16 * g;
      t[1] = x0;
      t[2] = x1;
      t[3] = _mm512_add_epi16(x0, x1);
      t[4] = x2;
      for (int q = 1; q < 4; ++q) t[4 + q] = _mm512_add_epi16(x2, t[q]);
      t[8] = x3;
      for (int q = 1; q < 8; ++q) t[8 + q] = _mm512_add_epi16(x3, t[q]);
    }
    for (size_t n = n0; n < n1; ++n) {
      const uint16_t* e = lut.entries.data() + lut.start[h * filters + n];
      const uint16_t* end = lut.entries.data() + lut.start[h * filters + n + 1];
      // Entries are byte offsets of table rows. Four chains so the adds issue back to back;
      // a chunk's sum fits uint16.
      const auto* base = reinterpret_cast<const uint8_t*>(tables);
      const auto row = [&](uint16_t offset) { return _mm512_load_si512(base + offset); };
      __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
      for (; e + 4 <= end; e += 4) {
        uint64_t four;  // one load for four offsets: the loads go to the table rows
        std::memcpy(&four, e, 8);
        s0 = _mm512_add_epi16(s0, row(uint16_t(four)));
        s1 = _mm512_add_epi16(s1, row(uint16_t(four >> 16)));
        s2 = _mm512_add_epi16(s2, row(uint16_t(four >> 32)));
        s3 = _mm512_add_epi16(s3, row(uint16_t(four >> 48)));
      }
      for (; e < end; ++e) s0 = _mm512_add_epi16(s0, row(e[0]));
      const __m512i s = _mm512_add_epi16(_mm512_add_epi16(s0, s1), _mm512_add_epi16(s2, s3));
      int32_t* out = acc[n - n0];
      _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_loadu_si512(out), _mm512_and_si512(s, low_words)));
      _mm512_storeu_si512(out + 16, _mm512_add_epi32(_mm512_loadu_si512(out + 16), _mm512_maskz_srli_epi32(kAll16, s, 16)));
    }
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t n = n0; n < n1; ++n) c[r * ldc + (n - n0)] = acc[n - n0][r];
}

}  // namespace stern::sbin
