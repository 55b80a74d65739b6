// Lookup-table kernel, 32 activation rows per zmm of uint16 sums. Per group of 4 columns the
// 15 non-empty subset sums are built with 11 adds (the 4 bytes of all 32 rows come from a
// transpose of 16-byte row loads); each filter then costs one vpaddw with a memory operand
// per non-zero 4-bit pattern, i.e. 4 columns x 32 rows per instruction, and nothing for an
// all-zero group.
// Reference: signed_binary_lut_8x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "kernels/signed_binary/tile.h"

namespace stern::sbin {
namespace {

// v[d] lane f <- v[f] lane d.
inline void transpose_16x16(__m512i (&v)[16]) {
  __m512i t[16], u[16];
  for (size_t i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
  }
  // u[4b + q], 128-bit lane L: dword 4L + q of rows 4b .. 4b + 3.
  for (size_t b = 0; b < 4; ++b) {
    u[4 * b + 0] = _mm512_unpacklo_epi64(t[4 * b], t[4 * b + 2]);
    u[4 * b + 1] = _mm512_unpackhi_epi64(t[4 * b], t[4 * b + 2]);
    u[4 * b + 2] = _mm512_unpacklo_epi64(t[4 * b + 1], t[4 * b + 3]);
    u[4 * b + 3] = _mm512_unpackhi_epi64(t[4 * b + 1], t[4 * b + 3]);
  }
  for (size_t q = 0; q < 4; ++q) {
    const __m512i even01 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x88), odd01 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xDD);
    const __m512i even23 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x88), odd23 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xDD);
    v[q] = _mm512_shuffle_i32x4(even01, even23, 0x88);
    v[8 + q] = _mm512_shuffle_i32x4(even01, even23, 0xDD);
    v[4 + q] = _mm512_shuffle_i32x4(odd01, odd23, 0x88);
    v[12 + q] = _mm512_shuffle_i32x4(odd01, odd23, 0xDD);
  }
}

}  // namespace

void signed_binary_lut_32x1__avx512(const uint8_t* a, size_t lda, size_t rows, const Bitmap& w,
                                    const LutLayout& lut, size_t n0, size_t n1, int32_t* c,
                                    size_t ldc, void* scratch) {
  constexpr size_t kLanes = 32;
  auto* tables = static_cast<__m512i*>(scratch);  // [lut_row(group, pattern)]
  tables[kLutZeroRow] = _mm512_setzero_si512();  // the padding entries' row
  auto* acc = reinterpret_cast<int32_t(*)[kLanes]>(tables + kLutZeroRow + 1);
  auto* ends = reinterpret_cast<__m512i*>(acc + (n1 - n0));  // uint16 running sums
  std::fill_n(reinterpret_cast<int32_t*>(acc), (n1 - n0) * kLanes, 0);
  // Rows beyond `rows` re-read the last row; their sums are never stored.
  const uint8_t* row_ptr[kLanes];
  clamp_rows(row_ptr, a, rows, lda);
  const __m512i low_bytes = _mm512_set1_epi16(0x00FF), low_words = _mm512_set1_epi32(0xFFFF);
  constexpr __mmask32 kOddWords = 0xAAAAAAAA;
  // Zero-masked dword shifts: GCC 12 warns (-Wmaybe-uninitialized) on the unmasked ones,
  // whose headers pass an undefined pass-through operand.
  constexpr __mmask16 kAll16 = 0xFFFF;
  // 16 columns (4 groups) of rows base .. base + 15 as 4 vectors of 16 dwords, one per group:
  // each row's 16 bytes go to a 128-bit lane (4 rows per vector), then a 4 x 4 dword
  // transpose per lane. Dword 4L + i of group g's vector is row base + 4i + L (the row order
  // the final store undoes). Cheaper than two dword gathers per group on Zen 4.
  const auto load_groups = [&](size_t base, size_t col, __m512i (&out)[4]) {
    __m512i v[4];
    for (size_t i = 0; i < 4; ++i) {
      const uint8_t* const* r = row_ptr + base + 4 * i;
      const auto lane = [&](int L) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[L] + col)); };
      v[i] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(
                 _mm512_castsi128_si512(lane(0)), lane(1), 1), lane(2), 2), lane(3), 3);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
  };
  const size_t filters = size_t(w.rows);
  for (size_t h = 0; h < size_t(lut.chunks); ++h) {
    const size_t col0 = h * kLutChunkCols;
    const size_t groups = std::min<size_t>(kLutGroupsPerChunk, (size_t(w.cols) - col0 + 3) / 4);
    // Whole blocks of 4 groups: rows are readable to a multiple of 64 columns, and the
    // tables have room for kLutGroupsPerChunk (a multiple of 4) groups.
    for (size_t g0 = 0; g0 < groups; g0 += 4) {
      __m512i lo4[4], hi4[4];
      load_groups(0, col0 + 4 * g0, lo4);
      load_groups(16, col0 + 4 * g0, hi4);
      for (size_t g = g0; g < g0 + 4; ++g) {
        // Dword d of lo / hi holds columns 0..3 of one row of the first / second 16. Word
        // lane 2d of each x_k takes it from lo and word lane 2d + 1 from hi, the order the
        // widening below undoes.
        const __m512i lo = lo4[g - g0], hi = hi4[g - g0];
        const __m512i lo02 = _mm512_and_si512(lo, low_bytes), lo13 = _mm512_srli_epi16(lo, 8);
        const __m512i hi02 = _mm512_and_si512(hi, low_bytes), hi13 = _mm512_srli_epi16(hi, 8);
        const __m512i x0 = _mm512_mask_blend_epi16(kOddWords, lo02, _mm512_maskz_slli_epi32(kAll16, hi02, 16));
        const __m512i x1 = _mm512_mask_blend_epi16(kOddWords, lo13, _mm512_maskz_slli_epi32(kAll16, hi13, 16));
        const __m512i x2 = _mm512_mask_blend_epi16(kOddWords, _mm512_maskz_srli_epi32(kAll16, lo02, 16), hi02);
        const __m512i x3 = _mm512_mask_blend_epi16(kOddWords, _mm512_maskz_srli_epi32(kAll16, lo13, 16), hi13);
        build_group_table(tables + lut_row(g, 1), x0, x1, x2, x3,
                          [](__m512i u, __m512i v) { return _mm512_add_epi16(u, v); });
      }
    }
    // All filters of the chunk in one loop of 4-entry steps: one running uint16 sum, stored
    // after every step at the current filter's slot, which moves on at a filter's last step
    // (kLutLast). A filter's sum is its end minus the previous filter's end, exact modulo
    // 2^16 since a chunk's sum is below 2^16.
    const auto* base = reinterpret_cast<const uint8_t*>(tables);
    const auto row = [&](uint64_t entry) { return _mm512_load_si512(base + entry * (64 / kLutEntryPerRow)); };
    const uint16_t* e = lut.entries.data() + lut.start[h * filters + n0];
    const uint16_t* const end = lut.entries.data() + lut.start[h * filters + n1];
    __m512i sum = _mm512_setzero_si512();
    __m512i* slot = ends;
    for (; e != end; e += kLutStep) {
      uint64_t four;  // one load for four entries: the loads go to the table rows
      std::memcpy(&four, e, 8);
      const __m512i pair0 = _mm512_add_epi16(row(four & 0xFFFF), row((four >> 16) & 0xFFFF));
      const __m512i pair1 = _mm512_add_epi16(row((four >> 32) & 0xFFFF), row((four >> 48) & (kLutLast - 1)));
      sum = _mm512_add_epi16(sum, _mm512_add_epi16(pair0, pair1));
      _mm512_store_si512(slot, sum);
      slot += four >> 63;
    }
    __m512i prev = _mm512_setzero_si512();
    for (size_t n = n0; n < n1; ++n) {
      const __m512i s = _mm512_sub_epi16(ends[n - n0], prev);
      prev = ends[n - n0];
      int32_t* out = acc[n - n0];
      _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_loadu_si512(out), _mm512_and_si512(s, low_words)));
      _mm512_storeu_si512(out + 16, _mm512_add_epi32(_mm512_loadu_si512(out + 16), _mm512_maskz_srli_epi32(kAll16, s, 16)));
    }
  }
  // Out as 16 x 16 dword transposes (16 filters x 16 rows each). A scalar copy read 32 KiB
  // of sums at a 128-byte stride once per row, a fifth of the kernel at high sparsity.
  const size_t count = n1 - n0;
  for (size_t f0 = 0; f0 < count; f0 += 16) {
    const size_t nf = std::min<size_t>(16, count - f0);
    const __mmask16 valid = __mmask16((1u << nf) - 1);
    for (size_t half = 0; half < 2; ++half) {
      __m512i v[16];
      for (size_t f = 0; f < 16; ++f) v[f] = _mm512_loadu_si512(acc[f0 + std::min(f, nf - 1)] + 16 * half);
      transpose_16x16(v);
      // Now v[d] holds dword d of the 16 filters; row 16 half + 4i + L sits in dword 4L + i.
      for (size_t d = 0; d < 16; ++d) {
        const size_t r = 16 * half + 4 * (d % 4) + d / 4;
        if (r < rows) _mm512_mask_storeu_epi32(c + r * ldc + f0, valid, v[d]);
      }
    }
  }
}

}  // namespace stern::sbin
