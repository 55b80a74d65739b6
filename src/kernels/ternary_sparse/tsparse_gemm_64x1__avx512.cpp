// Sparse ternary GEMM, AVX-512: a chunk of up to 128 entries of a row is summed over the
// tile's pixels in int16, then widened into int32 sums kept in registers, one row and
// segment at a time (segments outer: their activation windows stay in L1 across the rows).
// Reference: tsparse_gemm_64x1__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/igemm.h"
#include "kernels/in_place.h"

namespace stern::kernels {
namespace {

// int32 sums of a chunk's int16 lanes.
void widen(__m512i s, __m512i& lo, __m512i& hi) {
  lo = _mm512_add_epi32(lo, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(s)));
  hi = _mm512_add_epi32(hi, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(s, 1)));
}

// The first segment writes the output, later ones add to it.
void store(int32_t* out, __m512i v, size_t seg) {
  _mm512_storeu_si512(out, seg ? _mm512_add_epi32(v, _mm512_loadu_si512(out)) : v);
}

// 32 activation bytes zero-extended to int16 lanes (one load-and-extend op).
__m512i bytes32(const uint8_t* p) { return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

// A tile of at most 32 lanes (the last tile of a layer): per entry 32 bytes zero-extended to
// int16 (one load-and-extend op) and one add or subtract.
void rows32(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1, size_t g, int32_t* c,
            size_t ldc) {
  const auto bytes = [at](int32_t off) { return bytes32(at + off); };
  for (size_t seg = 0; seg < w.segments; ++seg)
    for (size_t r = row0; r < row1; ++r) {
      __m512i sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        __m512i s = _mm512_setzero_si512();
        walk_entries(off, 0, npos, [&](auto... o) { (add_epi16(s, bytes(o)), ...); });
        walk_entries(off, npos, n, [&](auto... o) { (sub_epi16(s, bytes(o)), ...); });
        widen(s, sum[0], sum[1]);
      });
      int32_t* out = c + (r - row0) * ldc;
      for (size_t i = 0; i < 2; ++i) store(out + 16 * i, sum[i], seg);
    }
}

// A tile of 64 lanes: its 64 bytes read as 32 words w = even + 256 odd (pixels 2i, 2i + 1).
// Per entry a += w and b += w >> 8 (the odd pixel), both wrapping int16; even = a - 256 b is
// exact as |even| < 2^15. Three vector ops and one load per entry, where zero-extending
// both halves takes four ops, two of them on port 5 of Intel cores, and two loads. On Ice
// Lake 1.6x the entries per second in a micro-benchmark; the 64-byte loads, split across
// cache lines by the windows' shifts, then bound the walk (aligned ones ran 1.2x faster).
// kTail: a tile of 65..96 lanes, its last 32 lanes [lanes - 32, lanes) zero-extended in
// the same walk (as rows32 does), the ops of which fit mostly beside the split loads: on the
// 3x3 256->256 layer at 14x14 (2 tiles and one of 94 lanes) the merged tile takes ~1.4x a
// whole one's time (perf), where the short tile's own walk took 0.73 of a whole one; the layer
// ~3% faster on Ice Lake, 1 thread. Windows ending at the last lane: the walk reads no line
// past the 64-lane tile's (2-3% faster than the 32 lanes after it).
template <bool kTail>
void rows64(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1, size_t g, size_t lanes, int32_t* c,
            size_t ldc) {
  // Output lanes 16 j .. 16 j + 15 from the even and odd int32 sums: even[0..7] and odd[0..7]
  // interleaved (lo), then even[8..15] and odd[8..15] (hi).
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  // The tail's lanes below 64 are the tile's: not stored.
  const uint8_t* tail = at + lanes - 32;
  const size_t shared = kTail ? 96 - lanes : 0;
  const __mmask16 tail_mask[2] = {__mmask16(0xFFFFu << std::min<size_t>(shared, 16)),
                                  __mmask16(0xFFFFu << (shared > 16 ? shared - 16 : 0))};
  for (size_t seg = 0; seg < w.segments; ++seg)
    for (size_t r = row0; r < row1; ++r) {
      __m512i even[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      __m512i odd[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      __m512i tail_sum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512(), t = _mm512_setzero_si512();
        // All loads of a step first (GCC keeps their order; the tail's after the ops of the
        // tile's: the layer 1.2x slower). One walk written out per sign:
        // with the op as a parameter (kAddEpi16 / kSubEpi16, as the AVX2 kernel takes it) GCC
        // 12 spilled here, 63 stack accesses in the function against 22.
        const auto words = [at](int32_t o) { return _mm512_loadu_si512(at + o); };
        // (No tail: zeros, never used, no load.)
        const auto bytes = [tail](int32_t o) { return kTail ? bytes32(tail + o) : _mm512_setzero_si512(); };
        walk_entries(off, 0, npos, [&](auto... o) {
          const __m512i v[] = {words(o)...}, y[] = {bytes(o)...};
          for (const __m512i& x : v) add_epi16(a, x), add_epi16(b, _mm512_srli_epi16(x, 8));
          if constexpr (kTail)
            for (const __m512i& x : y) add_epi16(t, x);
        });
        walk_entries(off, npos, n, [&](auto... o) {
          const __m512i v[] = {words(o)...}, y[] = {bytes(o)...};
          for (const __m512i& x : v) sub_epi16(a, x), sub_epi16(b, _mm512_srli_epi16(x, 8));
          if constexpr (kTail)
            for (const __m512i& x : y) sub_epi16(t, x);
        });
        widen(_mm512_sub_epi16(a, _mm512_slli_epi16(b, 8)), even[0], even[1]);
        widen(b, odd[0], odd[1]);
        if constexpr (kTail) widen(t, tail_sum[0], tail_sum[1]);
      });
      int32_t* out = c + (r - row0) * ldc;
      for (size_t h = 0; h < 2; ++h) {
        store(out + 32 * h, _mm512_permutex2var_epi32(even[h], lo, odd[h]), seg);
        store(out + 32 * h + 16, _mm512_permutex2var_epi32(even[h], hi, odd[h]), seg);
      }
      if constexpr (kTail)
        for (size_t h = 0; h < 2; ++h) {
          int32_t* dst = out + lanes - 32 + 16 * h;
          const __m512i v = seg ? _mm512_add_epi32(tail_sum[h], _mm512_maskz_loadu_epi32(tail_mask[h], dst)) : tail_sum[h];
          _mm512_mask_storeu_epi32(dst, tail_mask[h], v);
        }
    }
}

}  // namespace

void tsparse_gemm_64x1__avx512(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                               size_t g, size_t lanes, int32_t* c, size_t ldc) {
  if (lanes <= 32)
    rows32(at, w, row0, row1, g, c, ldc);
  else if (lanes <= 64)
    rows64<false>(at, w, row0, row1, g, lanes, c, ldc);
  else
    rows64<true>(at, w, row0, row1, g, lanes, c, ldc);
}

}  // namespace stern::kernels
