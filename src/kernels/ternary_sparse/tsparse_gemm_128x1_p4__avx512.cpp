// Sparse ternary GEMM on packed 4-bit activations, AVX-512: each 64-byte column holds 128
// pixels' codes (low nibbles: the tile's first half, high nibbles: its second), so one load
// serves two output pixels per lane, where the 8-bit kernel's walk is bound by its loads (8
// of a 3x3 kernel's 9 windows straddle two cache lines). Per entry: the two nibbles apart
// (two ops) and summed in uint8 lanes for up to 16 entries of one sign (16 x 15 < 256, two
// adds); each group's bytes then go into int16 sums of even and odd pixels, and each
// chunk's (<= 128 entries, |sum| <= 1920) into int32 ones. Micro-benchmark of the walk on
// Ice Lake (3x3 256->256 at 14x14, 90% sparse, 128 pixels per load against 64): 0.47 against
// 0.72 ns per entry and 64 pixels. The high nibbles are summed unmasked (two ops per entry
// rather than three), the odd pixels' low nibbles that shift into them taken out per group.
// Reference: tsparse_gemm_128x1_p4__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "kernels/in_place.h"

namespace stern::kernels {
namespace {

inline void add_epi8(__m512i& acc, __m512i x) { asm("vpaddb %1, %0, %0" : "+v"(acc) : "v"(x)); }

// int32 sums of a chunk's int16 lanes.
void widen(__m512i s, __m512i& lo, __m512i& hi) {
  lo = _mm512_add_epi32(lo, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s)));
  hi = _mm512_add_epi32(hi, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s, 1)));
}

// The first segment writes the output, later ones add to it.
void store(int32_t* out, __m512i v, size_t seg) {
  _mm512_storeu_si512(out, seg ? _mm512_add_epi32(v, _mm512_loadu_si512(out)) : v);
}

// A half's int16 sums of even and odd pixels.
struct Half {
  __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
};

}  // namespace

void tsparse_gemm_128x1_p4__avx512(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                                   size_t g, size_t /*lanes: all 64 computed*/, int32_t* c, size_t ldc) {
  const __m512i nibble = _mm512_set1_epi8(0x0f), low_byte = _mm512_set1_epi16(0x00ff);
  // Output lanes 16 j .. 16 j + 15 from the even and odd int32 sums (as the 8-bit kernel).
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  for (size_t seg = 0; seg < w.segments; ++seg)
    for (size_t r = row0; r < row1; ++r) {
      // [half][int32 lanes 0-15 / 16-31 of the even or odd pixels]
      __m512i even[2][2], odd[2][2];
      for (auto* s : {even, odd})
        for (size_t h = 0; h < 2; ++h) s[h][0] = s[h][1] = _mm512_setzero_si512();
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        Half first, second;
        // Entries [e0, e1) in groups of up to 16 of one sign.
        const auto walk = [&](size_t e0, size_t e1, auto op) {
          for (size_t e = e0; e < e1;) {
            const size_t end = std::min(e1, e + 16);
            __m512i bytes0 = _mm512_setzero_si512(), bytes1 = _mm512_setzero_si512();
            walk_entries(off, e, end, [&](auto... o) {
              const __m512i v[] = {_mm512_loadu_si512(at + o)...};
              for (const __m512i& x : v) add_epi8(bytes0, _mm512_and_si512(x, nibble)), add_epi8(bytes1, _mm512_srli_epi16(x, 4));
            });
            e = end;
            // Word w = b0 + 256 b1 shifted right by 4: high byte hi(b1), low byte hi(b0) +
            // 16 lo(b1); over the group, the low byte less 16 times the odd pixels' low-nibble
            // sum is the even pixels' high-nibble sum (all sums below 256).
            const __m512i lo_odd = _mm512_srli_epi16(bytes0, 8);
            op(first.even, _mm512_and_si512(bytes0, low_byte)), op(first.odd, lo_odd);
            op(second.even, _mm512_and_si512(_mm512_sub_epi16(bytes1, _mm512_slli_epi16(lo_odd, 4)), low_byte));
            op(second.odd, _mm512_srli_epi16(bytes1, 8));
          }
        };
        walk(0, npos, kAddEpi16);
        walk(npos, n, kSubEpi16);
        for (size_t h = 0; h < 2; ++h) {
          const Half& s = h ? second : first;
          widen(s.even, even[h][0], even[h][1]);
          widen(s.odd, odd[h][0], odd[h][1]);
        }
      });
      int32_t* out = c + (r - row0) * ldc;
      for (size_t h = 0; h < 2; ++h)
        for (size_t k = 0; k < 2; ++k) {
          int32_t* dst = out + kSparseTile * h + 32 * k;
          store(dst, _mm512_permutex2var_epi32(even[h][k], lo, odd[h][k]), seg);
          store(dst + 16, _mm512_permutex2var_epi32(even[h][k], hi, odd[h][k]), seg);
        }
    }
}

}  // namespace stern::kernels
