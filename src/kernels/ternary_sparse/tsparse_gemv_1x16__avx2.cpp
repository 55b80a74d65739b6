// Sparse ternary GEMV, AVX2: the stream and the passes of the VBMI kernel
// (tsparse_gemv_1x16__avx512vbmi.cpp) on 32 lanes. AVX2 has no byte gather from 128 bytes:
// eight VPSHUFB, one per 16-byte chunk of the block, and a tree of seven VPBLENDVB on the
// offsets' bits 4, 5 and 6 pick each lane's byte (with the scalar kernel, rows of two or three
// entries per block mispredicted a branch each). Each row of the band then takes its lanes:
// its +1 / -1 bytes masked to its lanes go through VPMADDUBSW into the row's int16 sums.
// Reference: tsparse_gemv_1x16__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "kernels/igemm.h"

namespace stern::kernels {
namespace {

constexpr size_t kLanes = 32;
constexpr size_t kPrefetchBytes = 4096;
// A block adds at most 4 passes x 2 x 255 to an int16 lane of a row (its <= 128 entries, two
// per lane and pass): 16 blocks stay below 2^15, then the sums are widened to int32.
constexpr size_t kWidenBlocks = 16;

// 32 bytes at kFrom + 32 - n: lanes >= n are 0xFF, below n zero (n in 0..32). One 64-byte
// aligned table, so no load crosses a cache line.
struct alignas(64) LaneTable {
  uint8_t bytes[64];
};
constexpr LaneTable kFrom = [] {
  LaneTable t{};
  for (size_t k = 0; k < 64; ++k) t.bytes[k] = k >= kLanes ? 0xFF : 0;
  return t;
}();
inline __m256i lanes_from_unclamped(int64_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kFrom.bytes + kLanes - n));
}

// The activation byte at each lane's 7-bit offset into the block's eight chunks (each in
// both 128-bit halves). VPSHUFB reads offset bits 0-3 (bit 7 cleared: it would zero the lane);
// VPBLENDVB selects on bit 7 of its mask, so bits 4, 5, 6 are shifted there.
inline __m256i lookup(const __m256i (&chunk)[8], __m256i entries) {
  const __m256i idx = _mm256_and_si256(entries, _mm256_set1_epi8(0x7F));
  const __m256i bit4 = _mm256_slli_epi16(idx, 3), bit5 = _mm256_slli_epi16(idx, 2), bit6 = _mm256_slli_epi16(idx, 1);
  __m256i pair[4];
  for (size_t k = 0; k < 4; ++k)
    pair[k] = _mm256_blendv_epi8(_mm256_shuffle_epi8(chunk[2 * k], idx), _mm256_shuffle_epi8(chunk[2 * k + 1], idx), bit4);
  return _mm256_blendv_epi8(_mm256_blendv_epi8(pair[0], pair[1], bit5), _mm256_blendv_epi8(pair[2], pair[3], bit5),
                            bit6);
}

// Entries [base, base + 32) of a block; row i owns lanes [end[i - 1], end[i]), row 0 from 0.
// kOnePass: the block has at most 32 entries (base 0, no lane bound to clamp), the common
// case with the band the packer picks for these kernels (clamping cost ~15%).
template <bool kOnePass, size_t R, typename End>
inline void pass(const __m256i (&chunk)[8], const uint8_t* e, int64_t base, const End* end, __m256i (&acc)[R]) {
  const auto lanes_from = [](int64_t n) {
    return lanes_from_unclamped(kOnePass ? n : std::clamp<int64_t>(n, 0, kLanes));
  };
  const __m256i entries = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e + base));
  const __m256i v = lookup(chunk, entries);
  const __m256i sign = _mm256_blendv_epi8(_mm256_set1_epi8(1), _mm256_set1_epi8(-1), entries);
  __m256i from = lanes_from(-base);
  for (size_t i = 0; i < R; ++i) {
    const __m256i upto = lanes_from(int64_t(end[i]) - base);
    const __m256i ops = _mm256_andnot_si256(upto, _mm256_and_si256(from, sign));
    acc[i] = _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(v, ops));
    from = upto;
  }
}

template <size_t R>
void bands(const uint8_t* x, const SparseBands& w, size_t band0, size_t band1, int32_t* y) {
  const size_t groups = w.groups();
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t q = band0; q < band1; ++q) {
    const uint8_t* e = w.bytes.data() + w.start[q];
    int32_t* out = y + (q - band0) * R * groups;
    for (size_t g = 0; g < groups; ++g) {
      __m256i sum[R], acc[R];
      for (size_t i = 0; i < R; ++i) sum[i] = acc[i] = _mm256_setzero_si256();
      const auto widen = [&] {
        for (size_t i = 0; i < R; ++i) {
          sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(acc[i], ones));
          acc[i] = _mm256_setzero_si256();
        }
      };
      const size_t b0 = g * w.blocks_per_group, b1 = b0 + w.blocks_per_group;
      for (size_t b = b0; b < b1; ++b) {
        if (b > b0 && (b - b0) % kWidenBlocks == 0) widen();
        const uint8_t* h = e;
        e += R;
        if (h[R - 1] == 0) continue;  // no entries
        _mm_prefetch(reinterpret_cast<const char*>(e) + kPrefetchBytes, _MM_HINT_T0);
        __m256i chunk[8];
        for (size_t k = 0; k < 8; ++k)
          chunk[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + b * kSparseBlock + 16 * k)));
        if (h[R - 1] <= kLanes) {
          pass<true>(chunk, e, 0, h, acc);
          e += h[R - 1];
        } else if (h[R - 1] != SparseBands::kLongBlock) {
          for (int64_t base = 0; base < h[R - 1]; base += kLanes) pass<false>(chunk, e, base, h, acc);
          e += h[R - 1];
        } else {  // its rows' counts, then its entries
          int64_t end[R];
          end[0] = e[0];
          for (size_t i = 1; i < R; ++i) end[i] = end[i - 1] + e[i];
          e += R;
          for (int64_t base = 0; base < end[R - 1]; base += kLanes) pass<false>(chunk, e, base, end, acc);
          e += end[R - 1];
        }
      }
      widen();
      for (size_t i = 0; i < R; ++i) {
        const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum[i]), _mm256_extracti128_si256(sum[i], 1));
        const __m128i t = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        out[i * groups + g] = _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1))));
      }
    }
  }
}

}  // namespace

void tsparse_gemv_1x16__avx2(const uint8_t* x, const SparseBands& w, size_t band0, size_t band1, int32_t* y) {
  switch (w.band) {
    case 4: return bands<4>(x, w, band0, band1, y);
    case 8: return bands<8>(x, w, band0, band1, y);
    default: return bands<kMaxBandRows>(x, w, band0, band1, y);
  }
}

}  // namespace stern::kernels
