// Dense ternary GEMV (one activation row) with VPDPBUSD and no shifts: masking quad q of a
// block in place leaves c * 4^q (at most 128, still a valid unsigned operand), so each quad
// accumulates into its own register and the four are scaled back once at the end (exact:
// every partial sum of quad q is a multiple of 4^q). 4 panels share the 4 activation
// broadcasts: 16 accumulators, 1 AND + 1 VPDPBUSD per 64 weights. Overflow: quad 3 adds
// |128 * a| <= 2^14 per product and K / 4 products per lane, so K < 2^19.
// Reference: ternary2_gemm_4x16__scalar.cpp.
#include <immintrin.h>

#include "kernels/in_place.h"
#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

// Weights are read once per call: prefetch far enough ahead to cover DRAM latency.
constexpr size_t kPrefetchBytes = 1024;

// Four accumulators, one per quad, of one panel: named values, not an array, which GCC keeps
// in memory once they are bound to dpbusd's asm operand.
struct PanelSums {
  __m512i q0 = _mm512_setzero_si512(), q1 = _mm512_setzero_si512(), q2 = _mm512_setzero_si512(),
          q3 = _mm512_setzero_si512();
};

template <size_t NP>
void tile(size_t kblocks, const uint8_t* x, const uint8_t* w, size_t panel_stride, int32_t* c) {
  static_assert(NP == 1 || NP == 4);
  PanelSums s0, s1, s2, s3;
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0C),
                m2 = _mm512_set1_epi8(0x30), m3 = _mm512_set1_epi8(char(0xC0));
  for (size_t b = 0; b < kblocks; ++b) {
    const uint8_t* xb = x + b * kKBlock;
    const __m512i x0 = _mm512_set1_epi32(load4(xb)), x1 = _mm512_set1_epi32(load4(xb + 4)),
                  x2 = _mm512_set1_epi32(load4(xb + 8)), x3 = _mm512_set1_epi32(load4(xb + 12));
    const auto panel = [&](size_t p, PanelSums& s) {
      const uint8_t* src = w + p * panel_stride + b * kTernary2BlockBytes;
      _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchBytes), _MM_HINT_T0);
      const __m512i v = _mm512_loadu_si512(src);
      dpbusd(s.q0, _mm512_and_si512(v, m0), x0);
      dpbusd(s.q1, _mm512_and_si512(v, m1), x1);
      dpbusd(s.q2, _mm512_and_si512(v, m2), x2);
      dpbusd(s.q3, _mm512_and_si512(v, m3), x3);
    };
    panel(0, s0);
    if constexpr (NP == 4) panel(1, s1), panel(2, s2), panel(3, s3);
  }
  const auto store = [&](size_t p, const PanelSums& s) {
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(s.q0, _mm512_srai_epi32(s.q1, 2)),
                                         _mm512_add_epi32(_mm512_srai_epi32(s.q2, 4), _mm512_srai_epi32(s.q3, 6)));
    _mm512_storeu_si512(c + p * kPanel, sum);
  };
  store(0, s0);
  if constexpr (NP == 4) store(1, s1), store(2, s2), store(3, s3);
}

}  // namespace

void ternary2_gemv_1x64__avx512vnni(size_t, size_t kblocks, const uint8_t* a, size_t,
                                    const uint8_t* w, size_t panel_stride, size_t npanels,
                                    int32_t* c, size_t) {
  size_t p = 0;
  for (; p + 4 <= npanels; p += 4) tile<4>(kblocks, a, w + p * panel_stride, panel_stride, c + p * kPanel);
  for (; p < npanels; ++p) tile<1>(kblocks, a, w + p * panel_stride, panel_stride, c + p * kPanel);
}

}  // namespace stern::kernels
