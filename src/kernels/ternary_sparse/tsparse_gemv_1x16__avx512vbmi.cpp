// Sparse ternary GEMV with byte permutes, a band of 4, 8 or 16 rows at a time: a 128-column
// block of activations sits in two zmm, and one VPERMI2B gathers the entries of every row of
// the band at once by their 7-bit offsets (one plain load straight from the stream; the
// band is chosen at pack time so that a block's entries usually fit 64 lanes). Each row then
// takes its own lanes: its +1 / -1 bytes (sign = the offset's top bit) masked to its lanes
// go through one VPDPBUSD into the row's accumulator. Weight traffic is 1 byte per non-zero
// plus 1 per row and block, read at memory speed with a software prefetch (the stream's
// addresses depend on the counts, which the hardware prefetcher does not run ahead of).
// Reference: tsparse_gemv_1x16__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

constexpr size_t kPrefetchBytes = 4096;

// kMaskFrom[n]: byte lanes >= n are 0xFF, below n zero. Aligned rows, one cache line per
// load: unaligned loads from one 128-byte table crossed a line most of the time and cost
// 1.25x at 90% sparsity.
struct alignas(64) LaneMask {
  uint8_t lanes[64];
};
constexpr auto kMaskFrom = [] {
  std::array<LaneMask, 65> m{};
  for (size_t n = 0; n <= 64; ++n)
    for (size_t l = 0; l < 64; ++l) m[n].lanes[l] = l >= n ? 0xFF : 0;
  return m;
}();

// Row i of a band owns lanes [end[i - 1], end[i]) of a 64-entry pass: its operand is
// sign & (lane >= start) & ~(lane >= end), with the "lane >= n" bytes loaded from the table
// (no mask registers: on Zen 4 a few mask ops per row cost more than the loads), computed
// as from & ~upto & sign over `from` (dead after it: no register copies). Lanes past the
// block's total belong to no row (the stream has 64 bytes of slack).

// One pass: a block of at most 64 entries, header byte h[i] = end[i]; row 0 starts at lane 0.
template <size_t R>
inline void one_pass(__m512i lo, __m512i hi, const uint8_t* e, const uint8_t* h, __m512i (&acc)[R]) {
  const __m512i idx = _mm512_loadu_si512(e);
  const __m512i v = _mm512_permutex2var_epi8(lo, idx, hi);
  const __m512i sign = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_set1_epi8(1), _mm512_set1_epi8(-1));
  __m512i upto = _mm512_load_si512(kMaskFrom[h[0]].lanes);
  acc[0] = _mm512_dpbusd_epi32(acc[0], v, _mm512_andnot_si512(upto, sign));
  for (size_t i = 1; i < R; ++i) {
    const __m512i from = upto;
    upto = _mm512_load_si512(kMaskFrom[h[i]].lanes);
    acc[i] = _mm512_dpbusd_epi32(acc[i], v, _mm512_ternarylogic_epi32(from, upto, sign, 0x20));
  }
}

// A block of more than 64 entries (rare at the sparsity the band was chosen for): its rows'
// counts, then one pass per 64 entries with clamped lane bounds, into fresh sums so that the
// caller's accumulators stay in registers. Returns the bytes it used (counts and entries).
template <size_t R>
[[gnu::noinline]] size_t long_block(__m512i lo, __m512i hi, const uint8_t* e, __m512i (&sum)[R]) {
  int64_t end[R];
  end[0] = e[0];
  for (size_t i = 1; i < R; ++i) end[i] = end[i - 1] + e[i];
  e += R;
  for (auto& s : sum) s = _mm512_setzero_si512();
  const auto lanes_from = [](int64_t n) { return _mm512_load_si512(kMaskFrom[std::clamp<int64_t>(n, 0, 64)].lanes); };
  for (int64_t base = 0; base < end[R - 1]; base += 64) {
    const __m512i idx = _mm512_loadu_si512(e + base);
    const __m512i v = _mm512_permutex2var_epi8(lo, idx, hi);
    const __m512i sign = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_set1_epi8(1), _mm512_set1_epi8(-1));
    __m512i from = lanes_from(-base);
    for (size_t i = 0; i < R; ++i) {
      const __m512i upto = lanes_from(end[i] - base);
      sum[i] = _mm512_dpbusd_epi32(sum[i], v, _mm512_ternarylogic_epi32(from, upto, sign, 0x20));
      from = upto;
    }
  }
  return R + end[R - 1];
}

template <size_t R>
void bands(const uint8_t* x, const SparseBands& w, size_t band0, size_t band1, int32_t* y) {
  const size_t groups = w.groups();
  for (size_t q = band0; q < band1; ++q) {
    const uint8_t* e = w.bytes.data() + w.start[q];
    int32_t* out = y + (q - band0) * R * groups;
    for (size_t g = 0; g < groups; ++g) {
      __m512i acc[R];
      for (auto& a : acc) a = _mm512_setzero_si512();
      for (size_t b = g * w.blocks_per_group; b < (g + 1) * w.blocks_per_group; ++b) {
        const uint8_t* h = e;
        e += R;
        if (h[R - 1] == 0) continue;  // no entries
        _mm_prefetch(reinterpret_cast<const char*>(e) + kPrefetchBytes, _MM_HINT_T0);
        const __m512i lo = _mm512_loadu_si512(x + b * kSparseBlock);
        const __m512i hi = _mm512_loadu_si512(x + b * kSparseBlock + 64);
        if (h[R - 1] != SparseBands::kLongBlock) {
          one_pass(lo, hi, e, h, acc);
          e += h[R - 1];
        } else {
          __m512i sum[R];
          e += long_block(lo, hi, e, sum);
          for (size_t i = 0; i < R; ++i) acc[i] = _mm512_add_epi32(acc[i], sum[i]);
        }
      }
      for (size_t i = 0; i < R; ++i) out[i * groups + g] = _mm512_reduce_add_epi32(acc[i]);
    }
  }
}

}  // namespace

void tsparse_gemv_1x16__avx512vbmi(const uint8_t* x, const SparseBands& w, size_t band0,
                                   size_t band1, int32_t* y) {
  switch (w.band) {
    case 4: return bands<4>(x, w, band0, band1, y);
    case 8: return bands<8>(x, w, band0, band1, y);
    default: return bands<kMaxBandRows>(x, w, band0, band1, y);
  }
}

}  // namespace stern::kernels
