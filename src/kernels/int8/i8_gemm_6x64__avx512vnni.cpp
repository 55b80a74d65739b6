// int8 GEMM with VPDPBUSD (uint8 activations broadcast, int8 weights), 6 rows x 4 panels =
// 24 zmm accumulators: 10 loads (4 weight vectors, 6 broadcasts) per 24 VPDPBUSD, where the
// 8 x 32 tile it replaced had 10 per 16 (1.1-1.15x on Ice Lake's two VNNI ports). The full
// tile names its accumulators and updates them in place (kernels/in_place.h); partial tiles
// (fewer rows or panels) run the generic template below, panels in pairs. The IGEMM
// (igemm.h IgemmUkernel) is the same tile over other addresses: row i's block b at
// rows[i] + off(b), off(b) = 16 b for the GEMM and koff[b] for the IGEMM.
// |a * w| <= 255 * 127, so K <= 65536 keeps |raw| < 2^31. References: i8_gemm_4x16__scalar.cpp,
// i8_igemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/in_place.h"
#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

constexpr size_t kMr = 6, kNp = 4;

// One row of the full tile: four accumulators against the four weight vectors.
struct Row {
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
  void add(__m512i x, const __m512i (&v)[kNp]) {
    dpbusd(c0, x, v[0]);
    dpbusd(c1, x, v[1]);
    dpbusd(c2, x, v[2]);
    dpbusd(c3, x, v[3]);
  }
  void store(int32_t* c) const {
    _mm512_storeu_si512(c, c0);
    _mm512_storeu_si512(c + kPanel, c1);
    _mm512_storeu_si512(c + 2 * kPanel, c2);
    _mm512_storeu_si512(c + 3 * kPanel, c3);
  }
};

template <typename Off>
void full_tile(size_t kblocks, const uint8_t* const* rows, Off off, const uint8_t* w, size_t panel_stride,
               int32_t* c, size_t ldc) {
  Row r0, r1, r2, r3, r4, r5;
  const uint8_t *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
  for (size_t b = 0; b < kblocks; ++b)
    for (int q = 0; q < 4; ++q) {
      __m512i v[kNp];
      for (size_t p = 0; p < kNp; ++p) v[p] = _mm512_loadu_si512(w + p * panel_stride + b * kInt8BlockBytes + q * 64);
      const size_t k = off(b) + 4 * size_t(q);
      r0.add(_mm512_set1_epi32(load4(a0 + k)), v);
      r1.add(_mm512_set1_epi32(load4(a1 + k)), v);
      r2.add(_mm512_set1_epi32(load4(a2 + k)), v);
      r3.add(_mm512_set1_epi32(load4(a3 + k)), v);
      r4.add(_mm512_set1_epi32(load4(a4 + k)), v);
      r5.add(_mm512_set1_epi32(load4(a5 + k)), v);
    }
  r0.store(c);
  r1.store(c + ldc);
  r2.store(c + 2 * ldc);
  r3.store(c + 3 * ldc);
  r4.store(c + 4 * ldc);
  r5.store(c + 5 * ldc);
}

template <size_t MR, size_t NP, typename Off>
void tile(size_t kblocks, const uint8_t* const* rows, Off off, const uint8_t* w, size_t panel_stride, int32_t* c,
          size_t ldc) {
  __m512i acc[MR][NP];
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_setzero_si512();
  for (size_t b = 0; b < kblocks; ++b)
    for (int q = 0; q < 4; ++q) {
      __m512i v[NP];
      for (size_t p = 0; p < NP; ++p)
        v[p] = _mm512_loadu_si512(w + p * panel_stride + b * kInt8BlockBytes + q * 64);
      for (size_t i = 0; i < MR; ++i) {
        const __m512i x = _mm512_set1_epi32(load4(rows[i] + off(b) + 4 * q));
        for (size_t p = 0; p < NP; ++p) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], x, v[p]);
      }
    }
  for (size_t i = 0; i < MR; ++i)
    for (size_t p = 0; p < NP; ++p) _mm512_storeu_si512(c + i * ldc + p * kPanel, acc[i][p]);
}

// At most kMr rows at row_at(i): whole tiles of four panels, then panel pairs.
template <typename RowAt, typename Off>
void rows_tile(size_t m, RowAt row_at, Off off, size_t kblocks, const uint8_t* w, size_t panel_stride,
               size_t npanels, int32_t* c, size_t ldc) {
  size_t p = 0;
  if (m == kMr) {
    const uint8_t* rows[kMr];
    for (size_t i = 0; i < kMr; ++i) rows[i] = row_at(i);
    for (; p + kNp <= npanels; p += kNp)
      full_tile(kblocks, rows, off, w + p * panel_stride, panel_stride, c + p * kPanel, ldc);
  }
  dense_panel_pairs<kMr>(m, row_at, w + p * panel_stride, panel_stride, npanels - p, c + p * kPanel,
                        [&]<size_t MR, size_t NP>(const uint8_t* const* rows, const uint8_t* panel,
                                                  int32_t* out) {
                          tile<MR, NP>(kblocks, rows, off, panel, panel_stride, out, ldc);
                        });
}

}  // namespace

void i8_gemm_6x64__avx512vnni(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                              const uint8_t* w, size_t panel_stride, size_t npanels,
                              int32_t* c, size_t ldc) {
  rows_tile(m, [&](size_t i) { return a + i * lda; }, [](size_t b) { return b * kKBlock; }, kblocks, w,
            panel_stride, npanels, c, ldc);
}

void i8_igemm_6x64__avx512vnni(size_t m, size_t kblocks, const uint8_t* a, const int32_t* row_offset,
                               const int32_t* koff, const uint8_t* w, size_t panel_stride, size_t npanels,
                               int32_t* c, size_t ldc) {
  const auto off = [&](size_t b) { return size_t(koff[b]); };
  if (npanels == 1) {
    // One panel (at most 16 output channels): tiles of 12 rows, whose 12 accumulators cover
    // VPDPBUSD's latency where the 6 of a 6 x 16 tile issued ~1.2 per cycle (3x3 16->16 at
    // 28x28, Ice Lake, the layer: min 18.3 -> 17.7 us, at 56x56 69.5-70.2 -> 65.7-68.8).
    constexpr size_t kRows = 12;
    for (size_t i0 = 0; i0 < m; i0 += kRows)
      with_rows<kRows>(std::min(kRows, m - i0), [&]<size_t MR>(std::integral_constant<size_t, MR>) {
        const uint8_t* rows[MR];
        for (size_t i = 0; i < MR; ++i) rows[i] = a + row_offset[i0 + i];
        tile<MR, 1>(kblocks, rows, off, w, panel_stride, c + i0 * ldc, ldc);
      });
    return;
  }
  for (size_t i0 = 0; i0 < m; i0 += kMr)
    rows_tile(std::min(kMr, m - i0), [&](size_t i) { return a + row_offset[i0 + i]; }, off, kblocks, w,
              panel_stride, npanels, c + i0 * ldc, ldc);
}

}  // namespace stern::kernels
